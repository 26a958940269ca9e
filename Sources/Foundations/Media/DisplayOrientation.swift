import CFFmpeg

/// How a decoded picture is turned and mirrored to be shown the right way up: one of the eight right-angle
/// orientations (the eight of EXIF's Orientation tag), read from FFmpeg's display matrix — a video stream's
/// (an MP4's track matrix) or a photo's (libavcodec's JPEG decoder exports the EXIF Orientation of a phone
/// photo as one).
///
/// The orientation maps a picture pixel (x, y), y down, to the displayed pixel
/// (`xx·x + xy·y`, `yx·x + yy·y`), shifted so that both lie at 0 or above; each entry is −1, 0 or 1.
public struct DisplayOrientation: Equatable, Sendable, CustomStringConvertible {
    let xx: Int, xy: Int, yx: Int, yy: Int

    /// Shown as decoded.
    public static let upright = DisplayOrientation(xx: 1, xy: 0, yx: 0, yy: 1)

    init(xx: Int, xy: Int, yx: Int, yy: Int) {
        self.xx = xx; self.xy = xy; self.yx = yx; self.yy = yy
    }

    /// A clockwise turn by `degrees` (rounded to the nearest quarter turn, taken modulo 360).
    public static func turn(clockwise degrees: Int) -> DisplayOrientation {
        switch ((Int((Double(degrees) / 90).rounded()) % 4) + 4) % 4 {
        case 1: return DisplayOrientation(xx: 0, xy: -1, yx: 1, yy: 0)
        case 2: return DisplayOrientation(xx: -1, xy: 0, yx: 0, yy: -1)
        case 3: return DisplayOrientation(xx: 0, xy: 1, yx: -1, yy: 0)
        default: return .upright
        }
    }

    /// Left and right swapped.
    public static let mirror = DisplayOrientation(xx: -1, xy: 0, yx: 0, yy: 1)

    /// From FFmpeg's 3×3 display matrix (`libavutil/display.h`: nine 32-bit values, row-major, `a b u / c d v /
    /// x y w`, where a displayed point is `(a·p + c·q, b·p + d·q)` for the decoded point (p, q)). Nil when the
    /// matrix is no right-angle turn or mirror (a shear, a scale, an odd angle), which is then ignored.
    init?(matrix m: UnsafePointer<Int32>) {
        // Each column scaled to unit length, as av_display_rotation_get does (a writer may scale the picture).
        let scaleP = (Double(m[0]) * Double(m[0]) + Double(m[3]) * Double(m[3])).squareRoot()
        let scaleQ = (Double(m[1]) * Double(m[1]) + Double(m[4]) * Double(m[4])).squareRoot()
        /// An entry as −1, 0 or 1 (tolerant of rounding in writers' matrices); nil for anything else.
        func unit(_ v: Int32, _ scale: Double) -> Int? {
            guard scale > 0 else { return nil }
            let r = Double(v) / scale
            if abs(r) < 0.01 { return 0 }
            if abs(abs(r) - 1) < 0.01 { return r > 0 ? 1 : -1 }
            return nil
        }
        guard let a = unit(m[0], scaleP), let b = unit(m[1], scaleQ), let c = unit(m[3], scaleP), let d = unit(m[4], scaleQ),
              abs(a) + abs(c) == 1, abs(b) + abs(d) == 1, abs(a) + abs(b) == 1 else { return nil }
        self.init(xx: a, xy: c, yx: b, yy: d)
    }

    /// The orientation of a decoded frame's display-matrix side data (a JPEG's EXIF Orientation), upright
    /// when it has none.
    static func of(frame: UnsafeMutablePointer<AVFrame>) -> DisplayOrientation {
        guard let side = av_frame_get_side_data(frame, AV_FRAME_DATA_DISPLAYMATRIX), side.pointee.size >= 36,
              let data = side.pointee.data else { return .upright }
        return data.withMemoryRebound(to: Int32.self, capacity: 9) { DisplayOrientation(matrix: $0) } ?? .upright
    }

    /// The orientation of a stream's display matrix (an MP4 track's), upright when it has none.
    static func of(stream: UnsafeMutablePointer<AVStream>) -> DisplayOrientation {
        var size: Int = 0
        guard let data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else { return .upright }
        return data.withMemoryRebound(to: Int32.self, capacity: 9) { DisplayOrientation(matrix: $0) } ?? .upright
    }

    /// True when the picture is shown mirrored (EXIF orientations 2, 4, 5 and 7).
    public var isMirrored: Bool { xx * yy - xy * yx < 0 }

    /// True when a quarter turn swaps the picture's width and height.
    public var swapsSides: Bool { xx == 0 }

    /// The clockwise turn, 0, 90, 180 or 270 degrees, that the orientation makes after mirroring the picture
    /// left to right when `isMirrored`.
    public var clockwiseDegrees: Int {
        // Undo the mirror (x → −x before the map: negate the x column), then read the turn from where the
        // picture's x axis points: (1, 0) right = 0°, (0, 1) down = 90°, (−1, 0) = 180°, (0, −1) = 270°.
        let (px, py) = isMirrored ? (-xx, -yx) : (xx, yx)
        switch (px, py) {
        case (0, 1): return 90
        case (-1, 0): return 180
        case (0, -1): return 270
        default: return 0
        }
    }

    public var description: String {
        self == .upright ? "upright" : "turned \(clockwiseDegrees)° clockwise\(isMirrored ? " after a left-right mirror" : "")"
    }

    /// The picture as displayed: `image` turned and mirrored by this orientation.
    public func apply(to image: RGBImage) -> RGBImage {
        if self == .upright { return image }
        let w = image.width, h = image.height
        let outW = swapsSides ? h : w, outH = swapsSides ? w : h
        // Shifts that bring the mapped coordinates to 0 ..< outW and 0 ..< outH.
        let dx = (xx < 0 ? w - 1 : 0) + (xy < 0 ? h - 1 : 0)
        let dy = (yx < 0 ? w - 1 : 0) + (yy < 0 ? h - 1 : 0)
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    for x in 0..<w {
                        let nx = xx * x + xy * y + dx, ny = yx * x + yy * y + dy
                        let s = (y * w + x) * 3, d = (ny * outW + nx) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}
