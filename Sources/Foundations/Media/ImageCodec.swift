import CFFmpeg
import FacetCore
import Foundation

/// Still-image formats Facet reads (all of them) and writes (PNG and JPEG).
public enum ImageFormat: String, Codable, Sendable, CaseIterable {
    case png, jpeg, webp, bmp

    /// The usual file name extension.
    public var fileExtension: String { self == .jpeg ? "jpg" : rawValue }

    /// The format of a file name's extension, if it is an image extension.
    public init?(fileExtension ext: String) {
        switch ext.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg", "jpe": self = .jpeg
        case "webp": self = .webp
        case "bmp", "dib": self = .bmp
        default: return nil
        }
    }

    /// The format recognised from a file's first bytes (its signature), if any.
    public init?(signature data: Data) {
        let b = [UInt8](data.prefix(12))
        if b.count >= 8, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { self = .png }
        else if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { self = .jpeg }
        else if b.count >= 12, b[0..<4] == [0x52, 0x49, 0x46, 0x46], b[8..<12] == [0x57, 0x45, 0x42, 0x50] { self = .webp }
        else if b.count >= 2, b[0] == 0x42, b[1] == 0x4D { self = .bmp }
        else { return nil }
    }

    var codecID: AVCodecID {
        switch self {
        case .png: return AV_CODEC_ID_PNG
        case .jpeg: return AV_CODEC_ID_MJPEG
        case .webp: return AV_CODEC_ID_WEBP
        case .bmp: return AV_CODEC_ID_BMP
        }
    }
}

/// Decodes still images with libavcodec's image decoders: no demuxer, so file names are never taken as
/// patterns and nothing but the named file is read.
public enum ImageDecoder {
    /// Decodes the image file at `url` to RGB, as shown: turned (and mirrored) by its EXIF Orientation.
    /// Throws `MediaError` naming the file when it is missing, empty, not an image, damaged, or larger
    /// than `maxPixels`.
    public static func decode(fileAt url: URL, maxPixels: Int? = nil) throws -> RGBImage {
        configureFFmpegLogging()
        try VideoReader.checkFile(url.path)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw MediaError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        return try decode(data, path: url.path, maxPixels: maxPixels)
    }

    /// The pixel limit when a caller gives none (100 megapixels, 300 MB as RGB): no caller decodes a
    /// crafted image of unbounded size.
    public static let defaultMaxPixels = 100_000_000

    /// Decodes image bytes to RGB; `path` names the source in errors. `maxPixels` nil means
    /// `defaultMaxPixels`.
    public static func decode(_ data: Data, path: String, maxPixels: Int? = nil) throws -> RGBImage {
        configureFFmpegLogging()
        let maxPixels = maxPixels ?? defaultMaxPixels
        guard !data.isEmpty else { throw MediaError.emptyFile(path: path) }
        // An FFmpeg packet holds at most Int32.max bytes (less its padding).
        guard data.count < Int(Int32.max) - Int(AV_INPUT_BUFFER_PADDING_SIZE) else {
            throw MediaError.unreadable(path: path, reason: "image file of \(data.count) bytes is larger than the 2 GiB an image may have")
        }
        guard let format = ImageFormat(signature: data) else {
            throw MediaError.unreadable(path: path, reason: "not a PNG, JPEG, WebP or BMP image")
        }
        guard let codec = avcodec_find_decoder(format.codecID) else {
            throw MediaError.unsupportedCodec(path: path, codec: format.rawValue)
        }
        let context = try CodecContextHandle(codec: codec, path: path)
        context.pointer.pointee.thread_count = 1
        // FFmpeg refuses to allocate a frame above the default limit before any pixel is decoded (an error
        // naming the data as damaged); smaller limits are checked exactly once the size is known.
        context.pointer.pointee.max_pixels = Int64(clamping: max(maxPixels, defaultMaxPixels))
        try checkInput(avcodec_open2(context.pointer, codec, nil), "opening the \(format.rawValue) decoder", path: path)
        let packet = try PacketHandle(path: path)
        try check(av_new_packet(packet.pointer, Int32(data.count)), "allocating a packet", path: path)
        data.withUnsafeBytes { raw in
            if let base = raw.baseAddress { packet.pointer.pointee.data.update(from: base.assumingMemoryBound(to: UInt8.self), count: data.count) }
        }
        let frame = try FrameHandle(path: path)
        let sent = avcodec_send_packet(context.pointer, packet.pointer)
        if sent < 0 { throw MediaError.undecodable(path: path, reason: "damaged \(format.rawValue) data: \(ffmpegErrorString(sent))") }
        _ = avcodec_send_packet(context.pointer, nil)
        let received = avcodec_receive_frame(context.pointer, frame.pointer)
        if received < 0 { throw MediaError.undecodable(path: path, reason: "damaged \(format.rawValue) data: \(ffmpegErrorString(received))") }
        let w = Int(frame.pointer.pointee.width), h = Int(frame.pointer.pointee.height)
        if w * h > maxPixels {
            throw MediaError.frameTooLarge(path: path, width: w, height: h, maxPixels: maxPixels)
        }
        // A photo's EXIF Orientation (a phone's portrait shot is stored on its side): the image as shown.
        let image = try FrameConverter().rgb(avFrame: frame.pointer, width: w, height: h, path: path)
        return DisplayOrientation.of(frame: frame.pointer).apply(to: image)
    }

    /// The size of an image file in pixels, decoding it fully (which also proves it is readable).
    public static func size(ofFileAt url: URL) throws -> (width: Int, height: Int) {
        let image = try decode(fileAt: url)
        return (image.width, image.height)
    }
}

/// Encodes images to PNG or JPEG bytes with libavcodec. Keeps its encoder open while the size stays
/// the same, so encoding a stream of equally sized frames allocates nothing per frame but the output.
/// Not thread-safe: use one encoder per thread.
public final class ImageEncoder {
    /// Output format: `.png` or `.jpeg`.
    public let format: ImageFormat
    /// JPEG quality 1...100 (higher is better), mapped to FFmpeg's `qscale` 31...2; ignored for PNG.
    public let quality: Int

    private var encoder: CodecContextHandle?
    private var encoderSize = (0, 0)
    private let converter = ScalerHandle()
    private var staging: FrameHandle?
    private let packet: PacketHandle
    private var nextPTS: Int64 = 0

    public init(format: ImageFormat, quality: Int = 95) throws {
        guard format == .png || format == .jpeg else {
            throw MediaError.unsupportedCodec(path: "(output)", codec: "\(format.rawValue) encoding (use png or jpeg)")
        }
        self.format = format
        self.quality = min(max(quality, 1), 100)
        self.packet = try PacketHandle(path: "(encoder)")
    }

    /// FFmpeg's JPEG `qscale` for a 1...100 quality: 100 gives 2 (best), 1 gives 31.
    public static func jpegQScale(forQuality quality: Int) -> Int {
        let q = Double(min(max(quality, 1), 100))
        return Int((2 + (100 - q) * 29 / 99).rounded())
    }

    private var encoderPixelFormat: AVPixelFormat { format == .png ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUVJ420P }

    /// Encodes an RGB image.
    public func encode(_ image: RGBImage) throws -> Data {
        // For 4:2:0 JPEG, libswscale averages pixel pairs into chroma, so for an odd width it reads one pixel
        // past each row's right edge (the next row's first pixel; past the buffer on the last row). Give
        // such rows a copy of their last pixel there.
        var rowBytes = image.width * 3
        var pixels = image.pixels
        if format == .jpeg && image.width % 2 == 1 {
            let w = image.width * 3
            rowBytes = w + 3
            pixels = [UInt8](repeating: 0, count: rowBytes * image.height)
            for y in 0..<image.height {
                pixels[y * rowBytes ..< y * rowBytes + w] = image.pixels[y * w ..< (y + 1) * w]
                pixels[y * rowBytes + w ..< (y + 1) * rowBytes] = image.pixels[(y + 1) * w - 3 ..< (y + 1) * w]
            }
        }
        return try pixels.withUnsafeBufferPointer { buffer in
            let source = try FrameHandle(path: "(image)")
            source.pointer.pointee.width = Int32(image.width)
            source.pointer.pointee.height = Int32(image.height)
            source.pointer.pointee.format = AV_PIX_FMT_RGB24.rawValue
            source.pointer.pointee.color_range = AVCOL_RANGE_JPEG
            source.pointer.pointee.data.0 = UnsafeMutablePointer(mutating: buffer.baseAddress)
            source.pointer.pointee.linesize.0 = Int32(rowBytes)
            return try encode(avFrame: source.pointer)
        }
    }

    /// Encodes a decoded video frame at its coded size, converting its pixels directly to the encoder's
    /// format (no RGB round trip). Rotated frames go through RGB to be turned upright.
    public func encode(_ frame: VideoFrame, converter rgbConverter: FrameConverter) throws -> Data {
        if frame.rotation != 0 { return try encode(rgbConverter.rgb(frame)) }
        return try encode(avFrame: frame.handle.pointer)
    }

    private func encode(avFrame source: UnsafeMutablePointer<AVFrame>) throws -> Data {
        let width = Int(source.pointee.width), height = Int(source.pointee.height)
        let context = try openEncoder(width: width, height: height)
        let input: UnsafeMutablePointer<AVFrame>
        if source.pointee.format == encoderPixelFormat.rawValue {
            input = source
        } else {
            input = try convert(source, width: width, height: height)
        }
        if format == .jpeg {
            input.pointee.quality = Int32(Self.jpegQScale(forQuality: quality)) * facet_ff_qp2lambda()
        }
        // Encoders insist on increasing time stamps, even for stills.
        input.pointee.pts = nextPTS
        nextPTS += 1
        try check(avcodec_send_frame(context.pointer, input), "encoding a \(format.rawValue) image", path: "(encoder)")
        try check(avcodec_receive_packet(context.pointer, packet.pointer), "encoding a \(format.rawValue) image", path: "(encoder)")
        defer { av_packet_unref(packet.pointer) }
        return Data(bytes: packet.pointer.pointee.data, count: Int(packet.pointer.pointee.size))
    }

    private func convert(_ source: UnsafeMutablePointer<AVFrame>, width: Int, height: Int) throws -> UnsafeMutablePointer<AVFrame> {
        if staging == nil || Int(staging!.pointer.pointee.width) != width || Int(staging!.pointer.pointee.height) != height {
            let frame = try FrameHandle(path: "(encoder)")
            frame.pointer.pointee.width = Int32(width)
            frame.pointer.pointee.height = Int32(height)
            frame.pointer.pointee.format = encoderPixelFormat.rawValue
            try check(av_frame_get_buffer(frame.pointer, 0), "allocating an image buffer", path: "(encoder)")
            staging = frame
        }
        guard let staging else { throw MediaError.ffmpeg(path: "(encoder)", operation: "staging frame", code: -1, message: "missing") }
        let s = source.pointee
        let context = try converter.context(
            srcWidth: s.width, srcHeight: s.height, srcFormat: AVPixelFormat(rawValue: s.format),
            dstWidth: Int32(width), dstHeight: Int32(height), dstFormat: encoderPixelFormat,
            colorspace: s.colorspace, srcFullRange: isFullRange(s), dstFullRange: true, path: "(encoder)")
        try check(av_frame_make_writable(staging.pointer), "preparing an image buffer", path: "(encoder)")
        let rows = withUnsafePointer(to: source.pointee.data) { srcData in
            withUnsafePointer(to: source.pointee.linesize) { srcStride in
                withUnsafeMutablePointer(to: &staging.pointer.pointee.data) { dstData in
                    withUnsafeMutablePointer(to: &staging.pointer.pointee.linesize) { dstStride in
                        srcData.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { sd in
                            srcStride.withMemoryRebound(to: Int32.self, capacity: 8) { ss in
                                dstData.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dd in
                                    dstStride.withMemoryRebound(to: Int32.self, capacity: 8) { ds in
                                        sws_scale(context, sd, ss, 0, s.height, dd, ds)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        try check(rows, "converting pixels for the \(format.rawValue) encoder", path: "(encoder)")
        staging.pointer.pointee.color_range = AVCOL_RANGE_JPEG
        return staging.pointer
    }

    private func openEncoder(width: Int, height: Int) throws -> CodecContextHandle {
        if let encoder, encoderSize == (width, height) { return encoder }
        let id = format == .png ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG
        guard let codec = avcodec_find_encoder(id) else { throw MediaError.unsupportedCodec(path: "(output)", codec: format.rawValue) }
        let context = try CodecContextHandle(codec: codec, path: "(encoder)")
        context.pointer.pointee.width = Int32(width)
        context.pointer.pointee.height = Int32(height)
        context.pointer.pointee.pix_fmt = encoderPixelFormat
        context.pointer.pointee.time_base = AVRational(num: 1, den: 25)
        context.pointer.pointee.color_range = AVCOL_RANGE_JPEG
        context.pointer.pointee.thread_count = 1
        var codecOptions: OpaquePointer?
        defer { av_dict_free(&codecOptions) }
        if format == .jpeg {
            context.pointer.pointee.flags |= AV_CODEC_FLAG_QSCALE
            context.pointer.pointee.global_quality = Int32(Self.jpegQScale(forQuality: quality)) * facet_ff_qp2lambda()
        } else {
            // "Up" row prediction with zlib level 1: on 256 px face crops much smaller than FFmpeg's default
            // (no prediction, level 6) and than OpenCV's PNGs. Measured on 200 crops of d14.mp4: against Paeth at
            // level 3 (used before), half the encoding time for 7% more bytes (75 against 71 KiB); "up" is as
            // small as Paeth at level 1 and a quarter faster; no prediction is 60% larger.
            context.pointer.pointee.compression_level = 1
            av_dict_set(&codecOptions, "pred", "up", 0)
        }
        try check(avcodec_open2(context.pointer, codec, &codecOptions), "opening the \(format.rawValue) encoder", path: "(encoder)")
        encoder = context
        encoderSize = (width, height)
        return context
    }
}
