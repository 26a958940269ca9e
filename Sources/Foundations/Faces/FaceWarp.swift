import FacetCore
import Foundation
import Media

/// How a trained swap model frames a face: the alignment convention's `cropSize × cropSize` crop (see
/// `FaceAlignment`, with `centering`), of which the model sees the centred square covering `coverage` of the
/// side, resized to `inputSize × inputSize`. `train` frames its faces this way (`AugmentGeometry`), `swap`
/// and `score` frame faces of any frame the same way.
public struct ModelFraming: Equatable, Sendable {
    /// Model input and output side, pixels.
    public let inputSize: Int
    /// Side of the aligned crops the model was trained on, pixels.
    public let cropSize: Int
    /// Fraction of the crop side the model sees (0.25...1).
    public let coverage: Double
    public let centering: FaceCentering

    /// Nil for sizes < 1 or a coverage outside 0.25...1.
    public init?(inputSize: Int, cropSize: Int, coverage: Double, centering: FaceCentering) {
        guard inputSize >= 1, cropSize >= 1, coverage.isFinite, coverage >= 0.25, coverage <= 1 else { return nil }
        self.inputSize = inputSize; self.cropSize = cropSize; self.coverage = coverage; self.centering = centering
    }

    /// Frame pixels → model pixels, given the face's alignment (frame pixels → crop pixels of `cropSize`).
    public func modelMatrix(alignment m: AffineMatrix2x3) -> AffineMatrix2x3 {
        let k = Double(inputSize) / (coverage * Double(cropSize)), o = Double(cropSize) * (1 - coverage) / 2
        return AffineMatrix2x3(a: k * m.a, b: k * m.b, tx: k * (m.tx - o), c: k * m.c, d: k * m.d, ty: k * (m.ty - o))
    }
}

/// A per-pixel weight over a rectangle of a frame (the face's region): `values[(y − y0)·width + (x − x0)]`
/// in 0...1 for frame pixel (x, y); pixels outside the rectangle weigh 0.
public struct AlphaPlane: Sendable {
    public let x0: Int, y0: Int, width: Int, height: Int
    public var values: [Float]

    public init(x0: Int, y0: Int, width: Int, height: Int, values: [Float]) {
        self.x0 = x0; self.y0 = y0; self.width = max(0, width); self.height = max(0, height); self.values = values
    }

    /// The weight of frame pixel (x, y).
    public subscript(x: Int, y: Int) -> Float {
        let i = x - x0, j = y - y0
        guard i >= 0, j >= 0, i < width, j < height else { return 0 }
        return values[j * width + i]
    }

    /// The bounding box of the pixels weighted above zero (x, y, width, height), or nil when none are.
    public var support: (x: Int, y: Int, width: Int, height: Int)? {
        var minX = Int.max, minY = Int.max, maxX = Int.min, maxY = Int.min
        for j in 0..<height { for i in 0..<width where values[j * width + i] > 0 {
            minX = min(minX, i); maxX = max(maxX, i); minY = min(minY, j); maxY = max(maxY, j)
        } }
        guard minX <= maxX else { return nil }
        return (x0 + minX, y0 + minY, maxX - minX + 1, maxY - minY + 1)
    }

    /// The convex hull of `points` (frame pixels) as a soft mask over the frame (`frameWidth × frameHeight`):
    /// weight 1 deeper than `erosion + feather` px inside the hull, 0 at `erosion` px inside it and beyond,
    /// a smooth (smoothstep) ramp between. A negative `erosion` grows the mask past the hull.
    public static func hull(_ points: [SIMD2<Double>], erosion: Double, feather: Double, frameWidth: Int, frameHeight: Int) -> AlphaPlane {
        let hull = FaceMask.convexHull(points.filter { $0.x.isFinite && $0.y.isFinite })
        let e = erosion.isFinite ? erosion : 0, f = feather.isFinite ? max(feather, 1e-6) : 1e-6
        guard hull.count >= 3, frameWidth > 0, frameHeight > 0 else { return AlphaPlane(x0: 0, y0: 0, width: 0, height: 0, values: []) }
        var lo = hull[0], hi = hull[0]
        for p in hull { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        let reach = max(0, -e) + 1
        func clamp(_ v: Double, _ n: Int) -> Int { Int(min(max(v, 0), Double(n - 1))) }
        let x0 = clamp((lo.x - reach).rounded(.down), frameWidth), x1 = clamp((hi.x + reach).rounded(.up), frameWidth)
        let y0 = clamp((lo.y - reach).rounded(.down), frameHeight), y1 = clamp((hi.y + reach).rounded(.up), frameHeight)
        let w = x1 - x0 + 1, h = y1 - y0 + 1
        var values = [Float](repeating: 0, count: w * h)
        for j in 0..<h {
            for i in 0..<w {
                let d = FaceMask.signedDistance(SIMD2(Double(x0 + i) + 0.5, Double(y0 + j) + 0.5), toConvex: hull)
                let t = min(max((-d - e) / f, 0), 1)
                values[j * w + i] = Float(t * t * (3 - 2 * t))
            }
        }
        return AlphaPlane(x0: x0, y0: y0, width: w, height: h, values: values)
    }
}

/// The one warp between frames and face grids: cut a face out of a frame (`sample`) and put a rendered face
/// back (`composite`), each picking its filter by scale so neither aliases nor blurs more than it must.
/// Pixel-centre convention throughout: pixel (j, i) covers [j, j+1) × [i, i+1); edges are replicated.
public enum FaceWarp {
    /// Samples `image` into a `width × height` RGB grid of floats 0...1 (`out`: width·height·3, interleaved): grid
    /// pixel centre (j + 0.5, i + 0.5) maps to the image through `toImage`. Where one grid pixel spans more
    /// than one image pixel (s = √|det toImage| > 1) it averages an n × n grid of bilinear taps over its
    /// footprint (n = ⌈s⌉, at most 8: an area filter); otherwise one bilinear tap.
    public static func sample(_ image: RGBImage, width: Int, height: Int, toImage m: AffineMatrix2x3, into out: UnsafeMutablePointer<Float>) {
        guard width > 0, height > 0 else { return }
        guard image.width > 0, image.height > 0 else { out.update(repeating: 0, count: width * height * 3); return }
        let s = abs(m.determinant).squareRoot()
        let n = s.isFinite ? max(1, min(8, Int(s.rounded(.up)))) : 1
        let weight = 1 / (255 * Double(n * n))
        let w = image.width, h = image.height, taps = Double(n)
        image.pixels.withUnsafeBufferPointer { src in
            guard let base = src.baseAddress else { return }
            var o = out
            for i in 0..<height {
                for j in 0..<width {
                    var r = 0.0, g = 0.0, b = 0.0
                    for u in 0..<n {
                        let y = Double(i) + (Double(u) + 0.5) / taps
                        for v in 0..<n {
                            let x = Double(j) + (Double(v) + 0.5) / taps   // m.apply((x, y)), written out to inline across modules
                            let t = Bilinear.rgb(base, width: w, height: h, x: m.a * x + m.b * y + m.tx, y: m.c * x + m.d * y + m.ty)
                            r += t.0; g += t.1; b += t.2
                        }
                    }
                    o[0] = Float(r * weight); o[1] = Float(g * weight); o[2] = Float(b * weight)
                    o += 3
                }
            }
        }
    }

    /// `image` resized to `width × height` (area-filtered when shrinking, bilinear when enlarging).
    public static func resized(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        guard width > 0, height > 0 else { return RGBImage(width: 0, height: 0, pixels: []) }
        let m = AffineMatrix2x3(a: Double(image.width) / Double(width), b: 0, tx: 0, c: 0, d: Double(image.height) / Double(height), ty: 0)
        var floats = [Float](repeating: 0, count: width * height * 3)
        floats.withUnsafeMutableBufferPointer { sample(image, width: width, height: height, toImage: m, into: $0.baseAddress!) }
        return RGBImage(width: width, height: height, pixels: floats.map { Bilinear.byte(Double($0) * 255) })
    }

    /// Blends a rendered face into `frame` in place: every frame pixel (x, y) with weight α = `alpha[x, y]` > 0
    /// whose centre maps (through `toRender`, frame → render pixels) inside the `size × size` render becomes
    /// `α·render + (1 − α)·frame`, rounded; every other pixel is left exactly as it was. Where the render is
    /// denser than the frame (r = √|det toRender| > 1: the face was enlarged when it was cut out) the render is
    /// area-averaged over the frame pixel's footprint (n × n bilinear taps, n = ⌈r⌉ ≤ 8); where it is coarser it
    /// is interpolated bicubically (Keys, a = −0.5), which keeps edges sharper than bilinear.
    /// - Parameter render: size·size·3 floats 0...1, interleaved RGB.
    /// - Returns: the number of frame pixels changed.
    @discardableResult
    public static func composite(_ render: UnsafePointer<Float>, size: Int, toRender m: AffineMatrix2x3, alpha: AlphaPlane,
                                 into frame: inout RGBImage) -> Int {
        guard size > 0, alpha.width > 0, alpha.height > 0, frame.width > 0, frame.height > 0 else { return 0 }
        let r = abs(m.determinant).squareRoot()
        let n = r.isFinite && r > 1 ? min(8, Int(r.rounded(.up))) : 1
        let limit = Double(size)
        let x0 = max(0, alpha.x0), y0 = max(0, alpha.y0)
        let x1 = min(frame.width, alpha.x0 + alpha.width), y1 = min(frame.height, alpha.y0 + alpha.height)
        guard x0 < x1, y0 < y1 else { return 0 }
        var changed = 0
        let width = frame.width
        frame.pixels.withUnsafeMutableBufferPointer { dst in
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let a = Double(alpha.values[(y - alpha.y0) * alpha.width + (x - alpha.x0)])
                    guard a > 0 else { continue }
                    let centre = m.apply(SIMD2(Double(x) + 0.5, Double(y) + 0.5))
                    guard centre.x >= 0, centre.y >= 0, centre.x < limit, centre.y < limit else { continue }
                    var c: (Double, Double, Double)
                    if n > 1 {
                        c = (0, 0, 0)
                        for u in 0..<n {
                            for v in 0..<n {
                                let q = m.apply(SIMD2(Double(x) + (Double(v) + 0.5) / Double(n), Double(y) + (Double(u) + 0.5) / Double(n)))
                                let t = bilinear(render, size: size, x: q.x, y: q.y)
                                c.0 += t.0; c.1 += t.1; c.2 += t.2
                            }
                        }
                        let k = 1 / Double(n * n)
                        c = (c.0 * k, c.1 * k, c.2 * k)
                    } else {
                        c = bicubic(render, size: size, x: centre.x, y: centre.y)
                    }
                    let o = (y * width + x) * 3
                    dst[o] = Bilinear.byte(255 * a * c.0 + (1 - a) * Double(dst[o]))
                    dst[o + 1] = Bilinear.byte(255 * a * c.1 + (1 - a) * Double(dst[o + 1]))
                    dst[o + 2] = Bilinear.byte(255 * a * c.2 + (1 - a) * Double(dst[o + 2]))
                    changed += 1
                }
            }
        }
        return changed
    }

    /// Bilinear tap of a float RGB grid (edges replicated), 0...1 per channel.
    @inline(__always)
    static func bilinear(_ p: UnsafePointer<Float>, size: Int, x: Double, y: Double) -> (Double, Double, Double) {
        let k = Bilinear.taps(x: x, y: y, width: size, height: size)
        let (l, r, t, b, fx, fy) = (k.left, k.right, k.top, k.bottom, k.fx, k.fy)
        let w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy
        let p00 = p + (t * size + l) * 3, p01 = p + (t * size + r) * 3, p10 = p + (b * size + l) * 3, p11 = p + (b * size + r) * 3
        return (Double(p00[0]) * w00 + Double(p01[0]) * w01 + Double(p10[0]) * w10 + Double(p11[0]) * w11,
                Double(p00[1]) * w00 + Double(p01[1]) * w01 + Double(p10[1]) * w10 + Double(p11[1]) * w11,
                Double(p00[2]) * w00 + Double(p01[2]) * w01 + Double(p10[2]) * w10 + Double(p11[2]) * w11)
    }

    /// Keys' cubic convolution weights (a = −0.5) for a fractional offset t in [0, 1): taps at −1, 0, 1, 2.
    @inline(__always)
    static func cubicWeights(_ t: Double) -> (Double, Double, Double, Double) {
        let a = -0.5, t2 = t * t, t3 = t2 * t
        return (a * (t3 - 2 * t2 + t), (a + 2) * t3 - (a + 3) * t2 + 1, -(a + 2) * t3 + (2 * a + 3) * t2 - a * t, a * (t2 - t3))
    }

    /// Bicubic tap of a float RGB grid (edges replicated), clamped to 0...1 per channel.
    @inline(__always)
    static func bicubic(_ p: UnsafePointer<Float>, size: Int, x: Double, y: Double) -> (Double, Double, Double) {
        let xs = x.isFinite ? min(max(x - 0.5, -2), Double(size) + 1) : 0, ys = y.isFinite ? min(max(y - 0.5, -2), Double(size) + 1) : 0
        let xf = xs.rounded(.down), yf = ys.rounded(.down)
        let wx = cubicWeights(xs - xf), wy = cubicWeights(ys - yf)
        let bx = Int(xf), by = Int(yf), last = size - 1
        let c0 = min(max(bx - 1, 0), last), c1 = min(max(bx, 0), last), c2 = min(max(bx + 1, 0), last), c3 = min(max(bx + 2, 0), last)
        @inline(__always) func row(_ k: Int) -> (Double, Double, Double) {
            let base = p + min(max(k, 0), last) * size * 3
            let q0 = base + c0 * 3, q1 = base + c1 * 3, q2 = base + c2 * 3, q3 = base + c3 * 3
            return (wx.0 * Double(q0[0]) + wx.1 * Double(q1[0]) + wx.2 * Double(q2[0]) + wx.3 * Double(q3[0]),
                    wx.0 * Double(q0[1]) + wx.1 * Double(q1[1]) + wx.2 * Double(q2[1]) + wx.3 * Double(q3[1]),
                    wx.0 * Double(q0[2]) + wx.1 * Double(q1[2]) + wx.2 * Double(q2[2]) + wx.3 * Double(q3[2]))
        }
        let r0 = row(by - 1), r1 = row(by), r2 = row(by + 1), r3 = row(by + 2)
        let r = wy.0 * r0.0 + wy.1 * r1.0 + wy.2 * r2.0 + wy.3 * r3.0
        let g = wy.0 * r0.1 + wy.1 * r1.1 + wy.2 * r2.1 + wy.3 * r3.1
        let b = wy.0 * r0.2 + wy.1 * r1.2 + wy.2 * r2.2 + wy.3 * r3.2
        return (min(max(r, 0), 1), min(max(g, 0), 1), min(max(b, 0), 1))
    }
}
