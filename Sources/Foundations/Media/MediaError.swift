import CFFmpeg
import FacetCore
import Foundation

/// Errors from reading and writing media. Each names the file and the problem.
public enum MediaError: FacetError, Equatable {
    /// The file does not exist.
    case missing(path: String)
    /// The file exists but has no bytes.
    case emptyFile(path: String)
    /// FFmpeg does not recognise the content (e.g. a text file named `.mp4`), or the container is damaged
    /// beyond opening (e.g. an mp4 truncated before its index).
    case unreadable(path: String, reason: String)
    /// The container opened but holds no video stream (e.g. an audio-only file).
    case noVideoStream(path: String, streams: String)
    /// The container's format is not one Facet accepts (network playlists, concat lists and the like).
    case forbiddenFormat(path: String, format: String)
    /// No decoder or encoder for the codec in this FFmpeg build.
    case unsupportedCodec(path: String, codec: String)
    /// The frame is larger than the caller allows (`--max-pixels`).
    case frameTooLarge(path: String, width: Int, height: Int, maxPixels: Int)
    /// Nothing in the file could be decoded.
    case undecodable(path: String, reason: String)
    /// A call into FFmpeg failed.
    case ffmpeg(path: String, operation: String, code: Int32, message: String)
    /// Writing output failed because the disk is full.
    case diskFull(path: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .missing: return .noInput
        case .emptyFile, .unreadable, .noVideoStream, .forbiddenFormat, .unsupportedCodec, .frameTooLarge, .undecodable:
            return .dataError
        case .ffmpeg, .diskFull: return .failure
        }
    }

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such file"
        case .emptyFile(let p): return "\(p): file is empty (0 bytes)"
        case .unreadable(let p, let r): return "\(p): not a readable video or image: \(r)"
        case .noVideoStream(let p, let s): return "\(p): no video stream (the file holds \(s))"
        case .forbiddenFormat(let p, let f): return "\(p): container format '\(f)' is not accepted (only local media files are read)"
        case .unsupportedCodec(let p, let c): return "\(p): codec '\(c)' is not supported by this FFmpeg build"
        case .frameTooLarge(let p, let w, let h, let m): return "\(p): frame size \(w)x\(h) exceeds the limit of \(m) pixels (--max-pixels)"
        case .undecodable(let p, let r): return "\(p): no frame could be decoded: \(r)"
        case .ffmpeg(let p, let op, let code, let m): return "\(p): \(op) failed: \(m) (FFmpeg error \(code))"
        case .diskFull(let p): return "\(p): disk full (no space left on device)"
        }
    }
}

/// FFmpeg's text for an error code.
func ffmpegErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    av_strerror(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The one place every FFmpeg return code goes through: negative codes become a typed `MediaError`.
@discardableResult
func check(_ code: Int32, _ operation: @autoclosure () -> String, path: String) throws -> Int32 {
    if code >= 0 { return code }
    if code == facet_averror_enospc() { throw MediaError.diskFull(path: path) }
    throw MediaError.ffmpeg(path: path, operation: operation(), code: code, message: ffmpegErrorString(code))
}

/// `check` for a call whose failure is the input's fault (configuring or opening the decoder its stream asks
/// for, seeking in it): bad data, `MediaError.undecodable` (exit 65), except for lack of memory or disk.
@discardableResult
func checkInput(_ code: Int32, _ operation: @autoclosure () -> String, path: String) throws -> Int32 {
    if code >= 0 || code == facet_averror_enospc() || code == -ENOMEM { return try check(code, operation(), path: path) }
    throw MediaError.undecodable(path: path, reason: "\(operation()) failed: \(ffmpegErrorString(code))")
}

/// Silences FFmpeg's own logging unless `FACET_FFMPEG_LOG` is set; Facet reports problems itself.
func configureFFmpegLogging() {
    _ = ffmpegLoggingConfigured
}

private let ffmpegLoggingConfigured: Bool = {
    if let level = getenv("FACET_FFMPEG_LOG").map({ String(cString: $0) }), let value = Int32(level) {
        av_log_set_level(value)
    } else {
        av_log_set_level(AV_LOG_QUIET)
    }
    return true
}()
