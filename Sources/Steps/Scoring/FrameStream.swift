import FacetCore
import Foundation
import Media

/// Decoded frames of one input, in display order: every frame of a video, or one image.
final class FrameStream {
    private var reader: VideoReader?
    private let converter = FrameConverter()
    private var image: RGBImage?
    let url: URL
    /// Container duration (s), whether audio is present (videos only).
    let duration: Double?
    let hasAudio: Bool

    init(url: URL, kind: String) throws {
        self.url = url
        do {
            if kind == "image" {
                image = try ImageDecoder.decode(fileAt: url)
                duration = nil; hasAudio = false
            } else {
                let reader = try VideoReader(url: url, options: .reproducible())
                self.reader = reader
                duration = reader.info.durationSeconds; hasAudio = reader.info.hasAudio
            }
        } catch let error as FacetError {
            throw ScoringError.badMedia(path: url.path, reason: "\(error)")
        }
    }

    /// The next frame, or nil at the end.
    func next() throws -> RGBImage? {
        if let reader {
            do {
                guard let frame = try reader.nextFrame() else { return nil }
                return try converter.rgb(frame)
            } catch let error as FacetError {
                throw ScoringError.badMedia(path: url.path, reason: "\(error)")
            }
        }
        defer { image = nil }
        return image
    }
}
