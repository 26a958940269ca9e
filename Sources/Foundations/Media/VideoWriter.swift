import CFFmpeg
import FacetCore
import Foundation

/// The video codec and container a `VideoWriter` writes.
public enum VideoCodecChoice: String, Sendable, Codable {
    /// H.264 (libx264, yuv420p, `crf`) in MP4; MPEG-4 Part 2 when the FFmpeg build lacks libx264.
    case h264
    /// FFV1 in Matroska, RGB (bgr0): lossless, so decoded frames equal the RGB frames written, bit for bit.
    case ffv1
}

/// Settings for writing a video: H.264 in MP4 (default) or lossless FFV1 in MKV.
public struct VideoWriterOptions: Sendable {
    /// Frame size in pixels (the size of the frames given to `write`). H.264 in yuv420p needs even sides: an odd
    /// side is encoded one pixel longer, its last column or row repeated (`VideoWriter.encodedWidth`).
    public var width: Int
    public var height: Int
    /// Frame rate as a fraction (e.g. 30000/1001); time stamps are counted in its frame units.
    public var frameRateNumerator: Int
    public var frameRateDenominator: Int
    /// x264 constant rate factor (0 lossless ... 51 worst; 18 is visually lossless).
    public var crf: Int
    /// x264 preset (ultrafast ... veryslow).
    public var preset: String
    /// A media file whose audio streams (and subtitle streams the container can hold) are copied into the output
    /// without re-encoding.
    public var audioSource: URL?
    /// Container metadata, written as the container's metadata tags (ffprobe shows them under `format.tags`).
    public var metadata: [String: String]
    public var codec: VideoCodecChoice
    /// When set, frames carry explicit time stamps in this time base (`write(_:pts:)`), e.g. the source
    /// stream's, so the output keeps the input's timestamps exactly; else time stamps count frames.
    public var timeBase: (numerator: Int, denominator: Int)?

    public init(width: Int, height: Int, frameRateNumerator: Int = 30, frameRateDenominator: Int = 1,
                crf: Int = 18, preset: String = "medium", audioSource: URL? = nil, metadata: [String: String] = [:],
                codec: VideoCodecChoice = .h264, timeBase: (numerator: Int, denominator: Int)? = nil) {
        self.width = width
        self.height = height
        self.frameRateNumerator = frameRateNumerator
        self.frameRateDenominator = frameRateDenominator
        self.crf = crf
        self.preset = preset
        self.audioSource = audioSource
        self.metadata = metadata
        self.codec = codec
        self.timeBase = timeBase
    }
}

/// Writes RGB frames to an MP4 file: H.264 (libx264, yuv420p, `faststart` so browsers can stream it),
/// or MPEG-4 Part 2 when the FFmpeg build lacks libx264 (`encoderName` says which). The source's audio
/// streams (all of them, and its subtitle streams the container can hold), when given, are copied packet for
/// packet and interleaved by time.
///
/// The file is written under a temporary name and renamed into place by `finish()`; a writer dropped
/// without `finish()` removes its temporary file, so an interrupted job never leaves a half video.
public final class VideoWriter {
    public let url: URL
    public let options: VideoWriterOptions
    /// The video encoder in use: `libx264`, or `mpeg4` as the fallback.
    public let encoderName: String
    /// The encoded frame size: `options`' size, each odd side one pixel longer for yuv420p (FFV1 keeps odd sides).
    public let encodedWidth: Int
    public let encodedHeight: Int
    /// Whether frames are padded to an even size (see `encodedWidth`).
    public var isPadded: Bool { encodedWidth != options.width || encodedHeight != options.height }

    /// The encoded size of `width` × `height` frames in `codec`: each odd side one pixel longer for H.264's yuv420p
    /// (its last column or row repeated), as it is for FFV1.
    public static func encodedSize(width: Int, height: Int, codec: VideoCodecChoice) -> (width: Int, height: Int) {
        codec == .ffv1 ? (width, height) : (width + width % 2, height + height % 2)
    }

    private let tempPath: String
    /// The locked temporary file FFmpeg writes through `tempPath` (see `TemporaryFile`).
    private let temporary: OwnedTemporaryFile
    private let output: OutputFormatHandle
    private let encoder: CodecContextHandle
    private let videoStream: UnsafeMutablePointer<AVStream>
    private let staging: FrameHandle
    private let packet: PacketHandle
    private let scaler = ScalerHandle()
    private var paddedInput: [UInt8] = []
    private var lastPTS: Int64 = .min
    private var finished = false
    private let audio: AudioCopier?
    private let pixelFormat: AVPixelFormat

    /// True when this FFmpeg build has the libx264 encoder.
    public static var h264Available: Bool { avcodec_find_encoder_by_name("libx264") != nil }

    public init(url: URL, options: VideoWriterOptions) throws {
        configureFFmpegLogging()
        self.url = url
        self.options = options
        let path = url.path
        guard options.width > 0, options.height > 0 else {
            throw MediaError.ffmpeg(path: path, operation: "creating the video", code: -22,
                                    message: "frame size \(options.width)x\(options.height) must be positive")
        }
        (encodedWidth, encodedHeight) = Self.encodedSize(width: options.width, height: options.height, codec: options.codec)
        guard options.frameRateNumerator > 0, options.frameRateDenominator > 0 else {
            throw MediaError.ffmpeg(path: path, operation: "creating the video", code: -22, message: "frame rate must be positive")
        }
        let directory = url.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do { temporary = try OwnedTemporaryFile(for: url) } catch let error as TemporaryFile.OpenError {
            throw MediaError.ffmpeg(path: path, operation: "creating the video", code: -error.code, message: String(cString: strerror(error.code)))
        }
        tempPath = temporary.path
        let lossless = options.codec == .ffv1
        output = try OutputFormatHandle(path: tempPath, formatName: lossless ? "matroska" : "mp4")
        pixelFormat = lossless ? AV_PIX_FMT_BGR0 : AV_PIX_FMT_YUV420P

        let codec: UnsafePointer<AVCodec>
        if lossless {
            guard let ffv1 = avcodec_find_encoder(AV_CODEC_ID_FFV1) else { throw MediaError.unsupportedCodec(path: path, codec: "ffv1") }
            codec = ffv1
        } else if let x264 = avcodec_find_encoder_by_name("libx264") {
            codec = x264
        } else if let mpeg4 = avcodec_find_encoder(AV_CODEC_ID_MPEG4) {
            codec = mpeg4
        } else {
            throw MediaError.unsupportedCodec(path: path, codec: "h264 (libx264) or mpeg4")
        }
        encoderName = String(cString: codec.pointee.name)
        encoder = try CodecContextHandle(codec: codec, path: path)
        let e = encoder.pointer
        e.pointee.width = Int32(encodedWidth)
        e.pointee.height = Int32(encodedHeight)
        e.pointee.pix_fmt = pixelFormat
        if let tb = options.timeBase {
            guard tb.numerator > 0, tb.denominator > 0, tb.numerator <= Int(Int32.max), tb.denominator <= Int(Int32.max) else {
                throw MediaError.ffmpeg(path: path, operation: "creating the video", code: -22, message: "time base must be positive")
            }
            e.pointee.time_base = AVRational(num: Int32(tb.numerator), den: Int32(tb.denominator))
        } else {
            e.pointee.time_base = AVRational(num: Int32(options.frameRateDenominator), den: Int32(options.frameRateNumerator))
        }
        e.pointee.framerate = AVRational(num: Int32(options.frameRateNumerator), den: Int32(options.frameRateDenominator))
        e.pointee.color_range = AVCOL_RANGE_MPEG
        e.pointee.colorspace = AVCOL_SPC_SMPTE170M
        e.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        e.pointee.color_trc = AVCOL_TRC_SMPTE170M
        e.pointee.thread_count = 0
        if (output.pointer.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0 {
            e.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        var codecOptions: OpaquePointer?
        defer { av_dict_free(&codecOptions) }
        if lossless {
            av_dict_set(&codecOptions, "level", "3", 0)
            av_dict_set(&codecOptions, "slicecrc", "1", 0)
        } else if encoderName == "libx264" {
            av_dict_set(&codecOptions, "preset", options.preset, 0)
            av_dict_set(&codecOptions, "crf", String(options.crf), 0)
        } else {
            e.pointee.flags |= AV_CODEC_FLAG_QSCALE
            e.pointee.global_quality = 3 * facet_ff_qp2lambda()
        }
        try check(avcodec_open2(e, codec, &codecOptions), "opening the \(encoderName) encoder", path: path)

        guard let stream = avformat_new_stream(output.pointer, nil) else {
            throw MediaError.ffmpeg(path: path, operation: "adding the video stream", code: facet_averror_enomem(), message: "out of memory")
        }
        videoStream = stream
        stream.pointee.time_base = e.pointee.time_base
        stream.pointee.avg_frame_rate = e.pointee.framerate
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, e), "configuring the video stream", path: path)

        let outputContext = output.pointer
        if let source = options.audioSource {
            audio = try AudioCopier(source: source, output: outputContext, outputPath: path)
        } else {
            audio = nil
        }
        try output.writeHeader(metadata: options.metadata, tempPath: tempPath, mp4: !lossless, path: path)

        staging = try FrameHandle(path: path)
        staging.pointer.pointee.width = Int32(encodedWidth)
        staging.pointer.pointee.height = Int32(encodedHeight)
        staging.pointer.pointee.format = pixelFormat.rawValue
        try check(av_frame_get_buffer(staging.pointer, 0), "allocating a frame buffer", path: path)
        packet = try PacketHandle(path: path)
    }

    /// Appends one frame. `seconds` is its presentation time (default: right after the previous frame);
    /// times are rounded to the frame rate and forced to increase. The image must match the writer's size.
    public func write(_ image: RGBImage, seconds: Double? = nil) throws {
        var pts: Int64 = lastPTS == .min ? 0 : lastPTS &+ 1
        if let seconds, seconds.isFinite {
            let rate = options.timeBase.map { Double($0.denominator) / Double($0.numerator) }
                ?? Double(options.frameRateNumerator) / Double(options.frameRateDenominator)
            pts = max(pts, Int64(exactly: (min(max(seconds * rate, -9e15), 9e15)).rounded()) ?? pts)
        }
        try write(image, pts: pts)
    }

    /// Copies `image` (`options`' size) into `paddedInput` at the encoded size, repeating the last column and row
    /// into an added one, with 64 spare bytes after the last row.
    private func fillPaddedInput(from image: RGBImage) {
        let w = image.width, h = image.height, ew = encodedWidth, eh = encodedHeight
        let byteCount = ew * eh * 3
        if paddedInput.count < byteCount + 64 { paddedInput = [UInt8](repeating: 0, count: byteCount + 64) }
        paddedInput.withUnsafeMutableBufferPointer { dst in
            image.pixels.withUnsafeBufferPointer { src in
                guard let d = dst.baseAddress, let s = src.baseAddress else { return }
                if ew == w && eh == h { d.update(from: s, count: w * h * 3); return }
                for y in 0..<eh {
                    let row = d + y * ew * 3
                    row.update(from: s + min(y, h - 1) * w * 3, count: w * 3)
                    for x in w..<ew { for c in 0..<3 { row[x * 3 + c] = row[(w - 1) * 3 + c] } }
                }
            }
        }
    }

    /// Appends one frame with an explicit time stamp in the encoder's time base (`options.timeBase` when set),
    /// forced to increase.
    public func write(_ image: RGBImage, pts requested: Int64) throws {
        let path = url.path
        guard image.width == options.width, image.height == options.height else {
            throw MediaError.ffmpeg(path: path, operation: "writing a frame", code: -22,
                                    message: "frame is \(image.width)x\(image.height), the video is \(options.width)x\(options.height)")
        }
        let pts = lastPTS == .min ? requested : max(requested, lastPTS &+ 1)
        try check(av_frame_make_writable(staging.pointer), "preparing a frame buffer", path: path)
        let context = try scaler.context(
            srcWidth: Int32(encodedWidth), srcHeight: Int32(encodedHeight), srcFormat: AV_PIX_FMT_RGB24,
            dstWidth: Int32(encodedWidth), dstHeight: Int32(encodedHeight), dstFormat: pixelFormat,
            colorspace: AVCOL_SPC_SMPTE170M, srcFullRange: true, dstFullRange: false, path: path)
        // libswscale's SIMD paths read a little past the end of the last row: convert from a padded copy (which
        // also repeats an odd side's last column or row).
        fillPaddedInput(from: image)
        let rows = paddedInput.withUnsafeBufferPointer { buffer -> Int32 in
            var srcData: [UnsafePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            var srcStride: [Int32] = [Int32(encodedWidth * 3), 0, 0, 0]
            return withUnsafeMutablePointer(to: &staging.pointer.pointee.data) { dstData in
                withUnsafeMutablePointer(to: &staging.pointer.pointee.linesize) { dstStride in
                    dstData.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dd in
                        dstStride.withMemoryRebound(to: Int32.self, capacity: 8) { ds in
                            sws_scale(context, &srcData, &srcStride, 0, Int32(encodedHeight), dd, ds)
                        }
                    }
                }
            }
        }
        try check(rows, "converting a frame for the encoder", path: path)
        staging.pointer.pointee.pts = pts
        lastPTS = pts
        try audio?.copy(upToSeconds: seconds(pts))
        try check(avcodec_send_frame(encoder.pointer, staging.pointer), "encoding a frame", path: path)
        try drainEncoder()
    }

    /// Flushes the encoder, copies the rest of the audio, writes the MP4 index and moves the file into place.
    public func finish() throws {
        guard !finished else { return }
        let path = url.path
        try check(avcodec_send_frame(encoder.pointer, nil), "flushing the encoder", path: path)
        try drainEncoder()
        // Audio up to the end of the last frame: a video cut shorter than its source gets its sound cut too.
        try audio?.copy(upToSeconds: lastPTS == .min ? 0 : seconds(lastPTS) + frameSeconds)
        try check(av_write_trailer(output.pointer), "writing the MP4 index", path: path)
        try check(avio_closep(&output.pointer.pointee.pb), "closing the output file", path: path)
        let code = temporary.commit(to: path)
        if code != 0 {
            throw MediaError.ffmpeg(path: path, operation: "moving the finished video into place", code: -code,
                                    message: String(cString: strerror(code)))
        }
        finished = true
    }

    /// Seconds of a time stamp in the encoder's time base.
    private func seconds(_ pts: Int64) -> Double { Double(pts) * av_q2d(encoder.pointer.pointee.time_base) }
    /// One frame's duration, seconds.
    private var frameSeconds: Double { Double(options.frameRateDenominator) / Double(options.frameRateNumerator) }

    private func drainEncoder() throws {
        while true {
            let code = avcodec_receive_packet(encoder.pointer, packet.pointer)
            if code == facet_averror_eagain() || code == facet_averror_eof() { return }
            try check(code, "encoding a frame", path: url.path)
            av_packet_rescale_ts(packet.pointer, encoder.pointer.pointee.time_base, videoStream.pointee.time_base)
            packet.pointer.pointee.stream_index = videoStream.pointee.index
            try check(av_interleaved_write_frame(output.pointer, packet.pointer), "writing a video packet", path: url.path)
        }
    }
}

/// Copies the audio (and subtitle) streams of a source file into an output muxer, without re-encoding.
/// Audio times are kept relative to the source's video start, so sound stays in sync with frames whose
/// times came from `VideoReader` (seconds from the video stream's start).
final class AudioCopier {
    private let input: InputFormatHandle
    /// Input stream index -> (its time base, the output stream it is copied to).
    private let routes: [Int32: (timeBase: AVRational, output: UnsafeMutablePointer<AVStream>)]
    private let output: UnsafeMutablePointer<AVFormatContext>
    private let packet: PacketHandle
    private let offsetSeconds: Double
    private let outputPath: String
    private var done = false
    /// A packet read but not yet written (past the last limit).
    private var holding = false

    /// Copies every audio stream of `source` (in their order, with their language tags and dispositions), and its
    /// subtitle streams when the output's container can hold their codec; nil when there is none.
    /// - Parameter keepTimeline: keep the source's own time stamps (for video written with the source's time
    ///   stamps, e.g. by `VideoJoiner`); else audio times are made relative to the source's video start.
    init?(source: URL, output: UnsafeMutablePointer<AVFormatContext>, outputPath: String, keepTimeline: Bool = false) throws {
        let path = source.path
        input = try InputFormatHandle.openWithStreamInfo(source)
        let opened = input.pointer
        var chosen: [Int32] = []
        for i in 0..<Int(opened.pointee.nb_streams) {
            guard let stream = opened.pointee.streams[i], let parameters = stream.pointee.codecpar else { continue }
            switch parameters.pointee.codec_type {
            case AVMEDIA_TYPE_AUDIO:
                chosen.append(Int32(i))
            case AVMEDIA_TYPE_SUBTITLE:
                if let format = output.pointee.oformat, avformat_query_codec(format, parameters.pointee.codec_id, FF_COMPLIANCE_NORMAL) == 1 {
                    chosen.append(Int32(i))
                }
            default:
                continue
            }
        }
        guard !chosen.isEmpty else { return nil }
        let videoIndex = av_find_best_stream(opened, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        if !keepTimeline, videoIndex >= 0, let video = opened.pointee.streams[Int(videoIndex)], video.pointee.start_time != facet_nopts_value() {
            offsetSeconds = Double(video.pointee.start_time) * av_q2d(video.pointee.time_base)
        } else {
            offsetSeconds = 0
        }
        self.output = output
        self.outputPath = outputPath
        var routes: [Int32: (timeBase: AVRational, output: UnsafeMutablePointer<AVStream>)] = [:]
        for index in chosen {
            guard let stream = opened.pointee.streams[Int(index)] else { continue }
            guard let out = avformat_new_stream(output, nil) else {
                throw MediaError.ffmpeg(path: outputPath, operation: "adding an audio stream", code: facet_averror_enomem(), message: "out of memory")
            }
            try check(avcodec_parameters_copy(out.pointee.codecpar, stream.pointee.codecpar), "copying stream parameters", path: outputPath)
            out.pointee.codecpar.pointee.codec_tag = 0
            out.pointee.time_base = stream.pointee.time_base
            out.pointee.disposition = stream.pointee.disposition
            try check(av_dict_copy(&out.pointee.metadata, stream.pointee.metadata, 0), "copying stream tags", path: outputPath)
            routes[index] = (stream.pointee.time_base, out)
        }
        self.routes = routes
        packet = try PacketHandle(path: path)
    }

    /// Copies the streams' packets that start before `limit` seconds (relative to the video start), in file
    /// order. The first packet at or past the limit is held back for the next call.
    func copy(upToSeconds limit: Double) throws {
        while true {
            let p = packet.pointer
            if !holding {
                if done { return }
                let code = av_read_frame(input.pointer, p)
                if code < 0 { done = true; return }   // end of input, or damage: keep what was copied
                guard let route = routes[p.pointee.stream_index] else { av_packet_unref(p); continue }
                let shift = Int64((offsetSeconds / av_q2d(route.timeBase)).rounded())
                if p.pointee.pts != facet_nopts_value() { p.pointee.pts -= shift }
                if p.pointee.dts != facet_nopts_value() { p.pointee.dts -= shift }
                if (p.pointee.pts != facet_nopts_value() && p.pointee.pts < 0) || (p.pointee.dts != facet_nopts_value() && p.pointee.dts < 0) {
                    av_packet_unref(p)
                    continue
                }
                holding = true
            }
            guard let route = routes[p.pointee.stream_index] else { holding = false; av_packet_unref(p); continue }
            let seconds = Double(p.pointee.pts == facet_nopts_value() ? p.pointee.dts : p.pointee.pts) * av_q2d(route.timeBase)
            if seconds >= limit { return }
            av_packet_rescale_ts(p, route.timeBase, route.output.pointee.time_base)
            p.pointee.stream_index = route.output.pointee.index
            p.pointee.pos = -1
            holding = false
            let code = av_interleaved_write_frame(output, p)   // takes the packet's reference
            try check(code, "writing an audio packet", path: outputPath)
        }
    }
}
