import CFFmpeg
import FacetCore
import Foundation

/// The container a joined video is written in, and whether it can carry a source's audio and subtitle streams
/// untouched. MP4 is the default (browsers and phones play it) but cannot carry, for example, the PCM audio of a
/// camera's MOV or the FLAC of an MKV; Matroska carries nearly every codec.
public enum VideoContainer: String, Sendable, CaseIterable {
    case mp4
    /// QuickTime: MP4's sibling, and what cameras write with PCM sound.
    case mov
    case matroska

    /// The container a file name asks for: `.mkv` Matroska, `.mov` QuickTime, anything else MP4.
    public init(forOutput url: URL) {
        switch url.pathExtension.lowercased() {
        case "mkv": self = .matroska
        case "mov": self = .mov
        default: self = .mp4
        }
    }

    /// FFmpeg's muxer name.
    var muxerName: String { self == .matroska ? "matroska" : rawValue }
    /// The usual file extension.
    public var fileExtension: String { self == .matroska ? "mkv" : rawValue }
    /// What to call it in a message.
    public var displayName: String {
        switch self {
        case .mp4: return "MP4"
        case .mov: return "MOV"
        case .matroska: return "Matroska"
        }
    }
    /// The MP4 family: `+faststart` and metadata written as tags.
    var isISOMedia: Bool { self != .matroska }

    /// The audio streams of `source` this container cannot carry, as "stream 1 (pcm_s16le audio)"; empty when it
    /// carries them all. Subtitle streams are not listed: a container that cannot hold one is written without it.
    /// - Throws: `MediaError` when `source` cannot be opened.
    public func audioStreamsItCannotCarry(from source: URL) throws -> [String] {
        configureFFmpegLogging()
        let input = try InputFormatHandle.openWithStreamInfo(source)
        guard let format = av_guess_format(muxerName, nil, nil) else { return [] }
        var refused: [String] = []
        for i in 0..<Int(input.pointer.pointee.nb_streams) {
            guard let parameters = input.pointer.pointee.streams[i]?.pointee.codecpar,
                  parameters.pointee.codec_type == AVMEDIA_TYPE_AUDIO else { continue }
            let codec = parameters.pointee.codec_id
            if avformat_query_codec(format, codec, FF_COMPLIANCE_NORMAL) != 1 || !writesHeader(with: parameters) {
                let name = avcodec_get_name(codec).map { String(cString: $0) } ?? "unknown"
                refused.append("stream \(i) (\(name) audio)")
            }
        }
        return refused
    }

    /// Whether this muxer writes a header for one stream of these parameters, into memory: some codecs it lists
    /// it still refuses (FLAC in MP4 is "experimental" in FFmpeg 5.1).
    private func writesHeader(with parameters: UnsafePointer<AVCodecParameters>) -> Bool {
        guard let output = try? OutputFormatHandle(path: "probe." + fileExtension, formatName: muxerName),
              let stream = avformat_new_stream(output.pointer, nil),
              avcodec_parameters_copy(stream.pointee.codecpar, parameters) >= 0,
              avio_open_dyn_buf(&output.pointer.pointee.pb) >= 0 else { return false }
        stream.pointee.codecpar.pointee.codec_tag = 0
        stream.pointee.time_base = AVRational(num: 1, den: max(parameters.pointee.sample_rate, 1))
        let written = avformat_write_header(output.pointer, nil) >= 0
        var buffer: UnsafeMutablePointer<UInt8>?
        _ = avio_close_dyn_buf(output.pointer.pointee.pb, &buffer)
        av_free(buffer)
        output.pointer.pointee.pb = nil
        return written
    }

    /// The first of `preferred` that carries every audio stream of `source`, or nil when none does.
    public static func firstCarryingAudio(of source: URL, preferred: [VideoContainer]) throws -> VideoContainer? {
        for container in preferred where try container.audioStreamsItCannotCarry(from: source).isEmpty { return container }
        return nil
    }
}
