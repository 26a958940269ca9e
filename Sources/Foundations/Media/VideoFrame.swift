import CFFmpeg

/// One decoded video frame. It holds a reference to FFmpeg's frame buffers; convert it with a
/// `FrameConverter` (to RGB at any size) or encode it with an `ImageEncoder`.
public final class VideoFrame: @unchecked Sendable {
    let handle: FrameHandle
    /// Presentation time stamp in the stream's time base.
    public let pts: Int64
    /// Presentation time in seconds from the stream's start.
    public let seconds: Double
    /// Clockwise rotation (0, 90, 180, 270) that displaying the frame needs.
    public let rotation: Int
    /// True when the decoder flagged the frame as damaged (concealed errors).
    public let isCorrupt: Bool
    /// The file the frame came from (for error messages).
    public let sourcePath: String

    init(handle: FrameHandle, pts: Int64, seconds: Double, rotation: Int, isCorrupt: Bool, sourcePath: String) {
        self.handle = handle
        self.pts = pts
        self.seconds = seconds
        self.rotation = rotation
        self.isCorrupt = isCorrupt
        self.sourcePath = sourcePath
    }

    /// Coded size in pixels, before rotation.
    public var codedWidth: Int { Int(handle.pointer.pointee.width) }
    public var codedHeight: Int { Int(handle.pointer.pointee.height) }
    /// Displayed size in pixels, after rotation.
    public var width: Int { rotation % 180 == 0 ? codedWidth : codedHeight }
    public var height: Int { rotation % 180 == 0 ? codedHeight : codedWidth }
}

/// Converts decoded frames to RGB with libswscale. Keeps one cached scaler; use one per thread.
public final class FrameConverter {
    let scaler = ScalerHandle()

    public init() {}

    /// The frame as RGB24, displayed orientation, scaled to `width` x `height` (default: the frame's own
    /// displayed size). Scaling uses bicubic filtering in the source's colour matrix and range.
    public func rgb(_ frame: VideoFrame, width: Int? = nil, height: Int? = nil) throws -> RGBImage {
        let outW = width ?? frame.width, outH = height ?? frame.height
        // Scale in coded orientation, then rotate: a quarter turn swaps the target's sides.
        let swapSides = frame.rotation % 180 != 0
        let scaledW = swapSides ? outH : outW, scaledH = swapSides ? outW : outH
        let image = try rgb(avFrame: frame.handle.pointer, width: scaledW, height: scaledH, path: frame.sourcePath)
        return frame.rotation == 0 ? image : image.rotated(clockwise: frame.rotation)
    }

    /// Converts any FFmpeg frame to RGB24 at the given size, no rotation.
    func rgb(avFrame: UnsafeMutablePointer<AVFrame>, width: Int, height: Int, path: String) throws -> RGBImage {
        guard width > 0, height > 0 else {
            throw MediaError.undecodable(path: path, reason: "cannot convert to an empty \(width)x\(height) image")
        }
        let f = avFrame.pointee
        let context = try scaler.context(
            srcWidth: f.width, srcHeight: f.height, srcFormat: AVPixelFormat(rawValue: f.format),
            dstWidth: Int32(width), dstHeight: Int32(height), dstFormat: AV_PIX_FMT_RGB24,
            colorspace: f.colorspace, srcFullRange: isFullRange(f), dstFullRange: true, path: path)
        // libswscale's SIMD yuv->rgb converters work on blocks of 8-16 pixels: into tightly packed rows they
        // write past the end of the buffer, or leave a row's last pixels unwritten, for widths that are not
        // a multiple of 16. Convert into rows padded to a multiple of 64 pixels, then pack them.
        let stride = (width + 63) / 64 * 64 * 3
        var padded = [UInt8](repeating: 0, count: stride * height)
        let rows = padded.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var dstData: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            var dstStride: [Int32] = [Int32(stride), 0, 0, 0]
            return withUnsafePointer(to: avFrame.pointee.data) { dataTuple in
                withUnsafePointer(to: avFrame.pointee.linesize) { strideTuple in
                    dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { srcData in
                        strideTuple.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
                            sws_scale(context, srcData, srcStride, 0, f.height, &dstData, &dstStride)
                        }
                    }
                }
            }
        }
        try check(rows, "converting a frame to RGB", path: path)
        if stride == width * 3 { return RGBImage(width: width, height: height, pixels: padded) }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBytes { dst in
            padded.withUnsafeBytes { src in
                for y in 0..<height {
                    (dst.baseAddress! + y * width * 3).copyMemory(from: src.baseAddress! + y * stride, byteCount: width * 3)
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// True when the frame's samples use the full 0...255 range (JPEG style) rather than 16...235.
func isFullRange(_ frame: AVFrame) -> Bool {
    if frame.color_range == AVCOL_RANGE_JPEG { return true }
    switch AVPixelFormat(rawValue: frame.format) {
    case AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P: return true
    default: return false
    }
}

/// FFmpeg's name for a pixel format.
func pixelFormatName(_ format: Int32) -> String {
    guard let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: format)) else { return "unknown" }
    return String(cString: name)
}
