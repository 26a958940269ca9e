/// Facet's one bilinear sampler for interleaved 8-bit images (RGB or one channel), in the pixel-centre
/// convention: pixel (row i, column j) covers [j, j+1) × [i, i+1), its centre is (j + 0.5, i + 0.5).
/// Coordinates are in pixels of the sampled image; any Double is safe (NaN reads as 0, far-away or
/// infinite coordinates are clamped before converting, so nothing traps). Values come back as Double 0…255.
///
/// Used by `Models.ImageSampling` (network inputs), `Faces.FaceAlignment` (crops and warp-back),
/// `Faces.FaceMask.sample` and `Augment.FaceAugmenter` (training samples). dlib's exact chip sampler
/// (`Models.FaceChip`, `floor` base, 0 outside, truncation) stays separate on purpose: it reproduces dlib.
public enum Bilinear {
    /// What a sample outside the image reads.
    public enum Border: Sendable { case zero, replicate }

    /// The 2×2 neighbourhood of (x, y): left/right column, top/bottom row (possibly outside the image) and
    /// the weights towards right and bottom. x and y are clamped to [−1, size] first (exact for both
    /// borders: beyond that every tap is outside, or replicates the same edge pixel).
    public struct Taps {
        public var left: Int, right: Int, top: Int, bottom: Int
        public var fx: Double, fy: Double
        @inlinable public init(left: Int, right: Int, top: Int, bottom: Int, fx: Double, fy: Double) {
            self.left = left; self.right = right; self.top = top; self.bottom = bottom; self.fx = fx; self.fy = fy
        }
    }

    /// The unclamped neighbourhood (see `Taps`) of a coordinate in an image of `width × height`.
    @inlinable @inline(__always)
    public static func rawTaps(x xs: Double, y ys: Double, width w: Int, height h: Int) -> Taps {
        let x = xs.isNaN ? 0 : min(max(xs - 0.5, -1), Double(w)), y = ys.isNaN ? 0 : min(max(ys - 0.5, -1), Double(h))
        let xf = x.rounded(.down), yf = y.rounded(.down)
        let xa = Int(xf), ya = Int(yf)
        return Taps(left: xa, right: xa + 1, top: ya, bottom: ya + 1, fx: x - xf, fy: y - yf)
    }

    /// The neighbourhood clamped to the image (edge replication); `width` and `height` must be ≥ 1.
    @inlinable @inline(__always)
    public static func taps(x: Double, y: Double, width w: Int, height h: Int) -> Taps {
        var t = rawTaps(x: x, y: y, width: w, height: h)
        t.left = min(max(t.left, 0), w - 1); t.right = min(max(t.right, 0), w - 1)
        t.top = min(max(t.top, 0), h - 1); t.bottom = min(max(t.bottom, 0), h - 1)
        return t
    }

    /// R, G, B at (x, y) of an RGB buffer of `width × height` (≥ 1 each).
    @inlinable @inline(__always)
    public static func rgb(_ p: UnsafePointer<UInt8>, width w: Int, height h: Int, x: Double, y: Double,
                           border: Border = .replicate) -> (Double, Double, Double) {
        if border == .zero { return rgbZeroBorder(p, width: w, height: h, x: x, y: y) }
        let t = taps(x: x, y: y, width: w, height: h)
        let w00 = (1 - t.fx) * (1 - t.fy), w01 = t.fx * (1 - t.fy), w10 = (1 - t.fx) * t.fy, w11 = t.fx * t.fy
        let p00 = p + (t.top * w + t.left) * 3, p01 = p + (t.top * w + t.right) * 3
        let p10 = p + (t.bottom * w + t.left) * 3, p11 = p + (t.bottom * w + t.right) * 3
        return (Double(p00[0]) * w00 + Double(p01[0]) * w01 + Double(p10[0]) * w10 + Double(p11[0]) * w11,
                Double(p00[1]) * w00 + Double(p01[1]) * w01 + Double(p10[1]) * w10 + Double(p11[1]) * w11,
                Double(p00[2]) * w00 + Double(p01[2]) * w01 + Double(p10[2]) * w10 + Double(p11[2]) * w11)
    }

    /// R, G, B at (x, y), taps outside the image reading 0.
    @inlinable @inline(__always)
    public static func rgbZeroBorder(_ p: UnsafePointer<UInt8>, width w: Int, height h: Int, x: Double, y: Double) -> (Double, Double, Double) {
        let t = rawTaps(x: x, y: y, width: w, height: h)
        var r = 0.0, g = 0.0, b = 0.0
        @inline(__always) func add(_ yy: Int, _ xx: Int, _ weight: Double) {
            guard yy >= 0, yy < h, xx >= 0, xx < w else { return }
            let q = p + (yy * w + xx) * 3
            r += Double(q[0]) * weight; g += Double(q[1]) * weight; b += Double(q[2]) * weight
        }
        add(t.top, t.left, (1 - t.fx) * (1 - t.fy))
        add(t.top, t.right, t.fx * (1 - t.fy))
        add(t.bottom, t.left, (1 - t.fx) * t.fy)
        add(t.bottom, t.right, t.fx * t.fy)
        return (r, g, b)
    }

    /// The value at (x, y) of a one-channel buffer of `width × height` (≥ 1 each), edges replicated.
    @inlinable @inline(__always)
    public static func gray(_ p: UnsafePointer<UInt8>, width w: Int, height h: Int, x: Double, y: Double) -> Double {
        let t = taps(x: x, y: y, width: w, height: h)
        let v00 = Double(p[t.top * w + t.left]), v01 = Double(p[t.top * w + t.right])
        let v10 = Double(p[t.bottom * w + t.left]), v11 = Double(p[t.bottom * w + t.right])
        return (v00 * (1 - t.fx) + v01 * t.fx) * (1 - t.fy) + (v10 * (1 - t.fx) + v11 * t.fx) * t.fy
    }

    /// A value 0…255 rounded half up and clamped to a byte (NaN → 0).
    @inlinable @inline(__always)
    public static func byte(_ v: Double) -> UInt8 {
        v.isNaN ? 0 : UInt8(min(max((v + 0.5).rounded(.down), 0), 255))
    }
}
