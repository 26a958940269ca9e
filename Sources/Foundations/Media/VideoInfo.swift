/// What a video file holds, as read from its container and first video stream.
public struct VideoInfo: Codable, Sendable, Equatable {
    /// The container format FFmpeg detected (e.g. `mov,mp4,m4a,3gp,3g2,mj2`).
    public var container: String
    /// The video codec's short name (e.g. `h264`).
    public var codec: String
    /// Coded frame size in pixels, before rotation.
    public var codedWidth: Int
    public var codedHeight: Int
    /// Clockwise rotation in degrees (0, 90, 180, 270) applied for display, from the stream's display matrix.
    public var rotation: Int
    /// Average frame rate in frames per second (0 when the container does not say).
    public var frameRate: Double
    /// The stream's time base as a fraction of a second (`timeBaseNumerator / timeBaseDenominator`).
    public var timeBaseNumerator: Int
    public var timeBaseDenominator: Int
    /// Duration in seconds, when known.
    public var durationSeconds: Double?
    /// Number of video frames the container declares, when known.
    public var frameCount: Int?
    /// Whether the file has at least one audio stream.
    public var hasAudio: Bool
    /// The first audio stream's codec, when there is one.
    public var audioCodec: String?
    /// The decoder's pixel format name (e.g. `yuv420p`).
    public var pixelFormat: String
    /// The container's metadata tags (`format.tags` in ffprobe: `comment`, `title`, and custom keys such as
    /// `facet_synthetic` that Facet's writers add), nil when the container has none.
    public var metadata: [String: String]? = nil
    /// Whether the stream says its frames are interlaced (two fields of different instants woven into each frame,
    /// as broadcast and camcorder video is); nil when it does not say.
    public var interlaced: Bool? = nil

    /// A warning for interlaced video: Facet works on whole frames and writes progressive video, so moving edges
    /// keep the fields' combing (in detected faces, training crops and swapped frames alike); nil when not interlaced.
    public var interlacingWarning: String? {
        interlaced == true ? "the video is interlaced: moving faces show combing between its two fields (in detected faces, "
            + "training crops and swapped frames); deinterlace it first for clean faces, e.g. ffmpeg -i IN -vf bwdif=mode=send_frame OUT" : nil
    }

    /// Frame size in pixels as displayed, after rotation.
    public var displayWidth: Int { rotation % 180 == 0 ? codedWidth : codedHeight }
    public var displayHeight: Int { rotation % 180 == 0 ? codedHeight : codedWidth }
}
