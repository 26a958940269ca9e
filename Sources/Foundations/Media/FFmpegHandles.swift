import CFFmpeg
import Foundation

/// Owns an `AVFrame`; freed in `deinit`.
final class FrameHandle {
    let pointer: UnsafeMutablePointer<AVFrame>

    init(path: String) throws {
        guard let frame = av_frame_alloc() else {
            throw MediaError.ffmpeg(path: path, operation: "av_frame_alloc", code: facet_averror_enomem(), message: "out of memory")
        }
        pointer = frame
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&frame)
    }
}

/// Owns an `AVPacket`; freed in `deinit`.
final class PacketHandle {
    let pointer: UnsafeMutablePointer<AVPacket>

    init(path: String) throws {
        guard let packet = av_packet_alloc() else {
            throw MediaError.ffmpeg(path: path, operation: "av_packet_alloc", code: facet_averror_enomem(), message: "out of memory")
        }
        pointer = packet
    }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&packet)
    }
}

/// Owns an `AVCodecContext`; freed in `deinit`.
final class CodecContextHandle {
    let pointer: UnsafeMutablePointer<AVCodecContext>

    init(codec: UnsafePointer<AVCodec>, path: String) throws {
        guard let context = avcodec_alloc_context3(codec) else {
            throw MediaError.ffmpeg(path: path, operation: "avcodec_alloc_context3", code: facet_averror_enomem(), message: "out of memory")
        }
        pointer = context
    }

    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&context)
    }
}

/// Owns an input `AVFormatContext` opened with `avformat_open_input`; closed in `deinit`.
final class InputFormatHandle {
    let pointer: UnsafeMutablePointer<AVFormatContext>

    init(opened: UnsafeMutablePointer<AVFormatContext>) { pointer = opened }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = pointer
        avformat_close_input(&context)
    }
}

extension InputFormatHandle {
    /// Opens a local media file with only the `file` protocol and the demuxers in `acceptedDemuxers`, so
    /// a crafted file cannot make FFmpeg read other files or the network. Returns the FFmpeg error code
    /// on failure (callers turn it into the message that fits).
    static func openLocal(_ path: String) -> Result<InputFormatHandle, MediaOpenFailure> {
        var dict: OpaquePointer?
        av_dict_set(&dict, "protocol_whitelist", "file", 0)
        av_dict_set(&dict, "format_whitelist", acceptedDemuxers, 0)
        defer { av_dict_free(&dict) }
        var opened: UnsafeMutablePointer<AVFormatContext>?
        let code = avformat_open_input(&opened, path, nil, &dict)
        guard code >= 0, let opened else { return .failure(MediaOpenFailure(code: code)) }
        return .success(InputFormatHandle(opened: opened))
    }
}

extension InputFormatHandle {
    /// Opens a file another part of Facet wrote or already read (a segment, the source whose sound is copied) with
    /// its streams' parameters read; errors name the file (`MediaError`).
    static func openWithStreamInfo(_ url: URL) throws -> InputFormatHandle {
        let path = url.path
        try VideoReader.checkFile(path)
        let input: InputFormatHandle
        switch openLocal(path) {
        case .success(let handle): input = handle
        case .failure(let failure): throw failure.error(path: path)
        }
        try check(avformat_find_stream_info(input.pointer, nil), "reading stream information", path: path)
        return input
    }
}

/// An `avformat_open_input` error code.
struct MediaOpenFailure: Error {
    let code: Int32

    /// The error to report for `path`: a format Facet refuses to demux, an MP4/MOV whose index is missing (a
    /// file cut short), or FFmpeg's own message.
    func error(path: String) -> MediaError {
        if let probed = probedFormatName(path), !VideoReader.isAccepted(probed) {
            return MediaError.forbiddenFormat(path: path, format: probed)
        }
        if let probed = probedFormatName(path), probed.hasPrefix("mov") {
            return MediaError.unreadable(path: path, reason: "MP4/MOV index ('moov' box) missing or damaged: the file was probably cut short "
                + "while being written or copied (\(ffmpegErrorString(code)))")
        }
        return MediaError.unreadable(path: path, reason: ffmpegErrorString(code))
    }
}

/// Owns an output `AVFormatContext` and its `AVIOContext`; closed and freed in `deinit`.
final class OutputFormatHandle {
    let pointer: UnsafeMutablePointer<AVFormatContext>

    init(path: String, formatName: String) throws {
        var context: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&context, nil, formatName, path), "allocating the \(formatName) muxer", path: path)
        guard let context else {
            throw MediaError.ffmpeg(path: path, operation: "avformat_alloc_output_context2", code: facet_averror_enomem(), message: "no context")
        }
        pointer = context
    }

    /// Sets the container `metadata` (written in key order), opens `tempPath` for writing and writes the header;
    /// MP4 gets `+faststart` (browsers can stream it) and its metadata as tags; every container is written
    /// bit-exact (deterministic). Errors name `path`.
    func writeHeader(metadata: [String: String], tempPath: String, mp4: Bool, path: String) throws {
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            av_dict_set(&pointer.pointee.metadata, key, value, 0)
        }
        // No random segment/track ids or muxing date (Matroska): the same frames give the same bytes, so a
        // resumed or sharded run's file equals an uninterrupted run's.
        pointer.pointee.flags |= AVFMT_FLAG_BITEXACT
        try check(avio_open(&pointer.pointee.pb, tempPath, AVIO_FLAG_WRITE), "creating the output file", path: path)
        var muxerOptions: OpaquePointer?
        defer { av_dict_free(&muxerOptions) }
        if mp4 { av_dict_set(&muxerOptions, "movflags", "+faststart+use_metadata_tags", 0) }
        try check(avformat_write_header(pointer, &muxerOptions), "writing the container header", path: path)
    }

    deinit {
        if pointer.pointee.pb != nil { avio_closep(&pointer.pointee.pb) }
        avformat_free_context(pointer)
    }
}

/// Owns a `SwsContext`, re-created only when the conversion's geometry or formats change.
final class ScalerHandle {
    private(set) var pointer: OpaquePointer?
    private var key: [Int32] = []

    /// Returns a context converting `src` to `dst` (sizes in pixels, formats as `AVPixelFormat` raw values).
    func context(srcWidth: Int32, srcHeight: Int32, srcFormat: AVPixelFormat,
                 dstWidth: Int32, dstHeight: Int32, dstFormat: AVPixelFormat,
                 colorspace: AVColorSpace, srcFullRange: Bool, dstFullRange: Bool, path: String) throws -> OpaquePointer {
        let newKey: [Int32] = [srcWidth, srcHeight, srcFormat.rawValue, dstWidth, dstHeight, dstFormat.rawValue,
                               Int32(colorspace.rawValue), srcFullRange ? 1 : 0, dstFullRange ? 1 : 0]
        if let pointer, newKey == key { return pointer }
        if let pointer { sws_freeContext(pointer) }
        pointer = nil
        guard let created = sws_getContext(srcWidth, srcHeight, srcFormat, dstWidth, dstHeight, dstFormat,
                                           Int32(SWS_BICUBIC), nil, nil, nil) else {
            throw MediaError.ffmpeg(path: path, operation: "sws_getContext \(srcWidth)x\(srcHeight) -> \(dstWidth)x\(dstHeight)",
                                    code: -1, message: "unsupported conversion")
        }
        // Use the source's YUV matrix (BT.709 for HD material, BT.601 otherwise) and its range.
        let matrix: Int32
        switch colorspace {
        case AVCOL_SPC_BT709: matrix = SWS_CS_ITU709
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: matrix = SWS_CS_BT2020
        case AVCOL_SPC_SMPTE240M: matrix = SWS_CS_SMPTE240M
        default: matrix = SWS_CS_DEFAULT
        }
        let coefficients = sws_getCoefficients(matrix)
        sws_setColorspaceDetails(created, coefficients, srcFullRange ? 1 : 0, coefficients, dstFullRange ? 1 : 0, 0, 1 << 16, 1 << 16)
        pointer = created
        key = newKey
        return created
    }

    deinit {
        if let pointer { sws_freeContext(pointer) }
    }
}
