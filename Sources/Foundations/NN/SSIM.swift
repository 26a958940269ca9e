import Foundation
import Tensor

/// SSIM with a Gaussian window, computed in Double with separable filtering, and its exact gradient.
///
/// Per image and channel, with G the normalised window over VALID positions q:
/// μx = G∗x, μy = G∗y, exx = G∗x², eyy = G∗y², exy = G∗xy; σx² = exx - μx², σxy = exy - μxμy;
/// S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)), C1 = 0.01², C2 = 0.03².
/// The loss is Σ_q w_q (1 - S_q) / 2 / (channels · Σ_q w_q), w read at each window's centre (1 without
/// weights). Its gradient uses ∂S/∂μx = S(2μy/A1 - 2μy/A2 - 2μx/B1 + 2μx/B2), ∂S/∂exx = -S/B2,
/// ∂S/∂exy = 2S/A2 (A1, A2 the numerator factors, B1, B2 the denominator's), pushed back through G.
enum SSIM {
    static let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03

    /// The 1-D normalised Gaussian of `size` taps.
    static func gaussian(size: Int, sigma: Double) -> [Double] {
        let centre = Double(size - 1) / 2
        let taps = (0..<size).map { Foundation.exp(-(Double($0) - centre) * (Double($0) - centre) / (2 * sigma * sigma)) }
        let sum = taps.reduce(0, +)
        return taps.map { $0 / sum }
    }

    /// VALID separable correlation of an `h`×`w` plane: `[h-k+1, w-k+1]`.
    static func filter(_ x: [Double], h: Int, w: Int, taps g: [Double]) -> [Double] {
        let k = g.count, oh = h - k + 1, ow = w - k + 1
        var rows = [Double](repeating: 0, count: h * ow)
        for y in 0..<h { for x0 in 0..<ow {
            var s = 0.0
            for t in 0..<k { s += g[t] * x[y * w + x0 + t] }
            rows[y * ow + x0] = s
        } }
        var out = [Double](repeating: 0, count: oh * ow)
        for y0 in 0..<oh { for x0 in 0..<ow {
            var s = 0.0
            for t in 0..<k { s += g[t] * rows[(y0 + t) * ow + x0] }
            out[y0 * ow + x0] = s
        } }
        return out
    }

    /// The adjoint of `filter`: spreads a `[h-k+1, w-k+1]` map back onto `h`×`w`.
    static func filterAdjoint(_ d: [Double], h: Int, w: Int, taps g: [Double]) -> [Double] {
        let k = g.count, oh = h - k + 1, ow = w - k + 1
        var rows = [Double](repeating: 0, count: h * ow)
        for y0 in 0..<oh { for x0 in 0..<ow {
            let v = d[y0 * ow + x0]
            for t in 0..<k { rows[(y0 + t) * ow + x0] += g[t] * v }
        } }
        var out = [Double](repeating: 0, count: h * w)
        for y in 0..<h { for x0 in 0..<ow {
            let v = rows[y * ow + x0]
            for t in 0..<k { out[y * w + x0 + t] += g[t] * v }
        } }
        return out
    }

    static func dssim(_ prediction: Tensor, _ target: Tensor, _ weights: Tensor?, window: Int, sigma: Double) -> (value: Float, gradient: Tensor) {
        let (n, h, w, c) = (prediction.shape[0], prediction.shape[1], prediction.shape[2], prediction.shape[3])
        let g = gaussian(size: window, sigma: sigma)
        let oh = h - window + 1, ow = w - window + 1, r = window / 2
        // Window weights (centre pixel) and their total over the batch.
        var centreWeights = [Double](repeating: 1, count: n * oh * ow)
        if let weights {
            for b in 0..<n { for y in 0..<oh { for x in 0..<ow {
                centreWeights[(b * oh + y) * ow + x] = Double(weights.data[(b * h + y + r) * w + x + r])
            } } }
        }
        let weightSum = centreWeights.reduce(0, +)
        guard weightSum > 0 else { return (0, Tensor(zeros: prediction.shape)) }
        let scale = 1 / (Double(c) * weightSum)
        var gradient = Tensor(zeros: prediction.shape)
        // One plane (image, channel) per task, split across cores; each writes its own gradient entries and
        // its own partial sum, added up in a fixed order afterwards (so the value is deterministic).
        var partials = [Double](repeating: 0, count: n * c)
        let planes = n * c
        prediction.withPointer { pp in target.withPointer { tp in gradient.withMutablePointer { gp in
            partials.withUnsafeMutableBufferPointer { parts in
                guard let parts = parts.baseAddress else { return }
                let p = SendablePointer(pp), t = SendablePointer(tp), out = SendableMutablePointer(gp)
                let sums = SendableDoubles(parts)
                Parallel.ranges(planes, work: planes * h * w * window * 16, threshold: 100_000) { range in
                    for plane in range {
                        let b = plane / c, ch = plane % c
                        sums.pointer[plane] = ssimPlane(p.pointer, t.pointer, out.pointer, image: b, channel: ch, h: h, w: w, c: c,
                                                        taps: g, weights: centreWeights, scale: scale)
                    }
                }
            }
        } } }
        let total = partials.reduce(0, +)
        return (Float(total * scale), gradient)
    }

    /// One image channel: writes its gradient entries, returns Σ_q w_q (1 - S_q) / 2.
    private static func ssimPlane(_ prediction: UnsafePointer<Float>, _ target: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>,
                                  image b: Int, channel ch: Int, h: Int, w: Int, c: Int, taps g: [Double],
                                  weights centreWeights: [Double], scale: Double) -> Double {
        let oh = h - g.count + 1, ow = w - g.count + 1
        var xs = [Double](repeating: 0, count: h * w), ys = xs
        for i in 0..<(h * w) {
            xs[i] = Double(prediction[(b * h * w + i) * c + ch])
            ys[i] = Double(target[(b * h * w + i) * c + ch])
        }
        let mx = filter(xs, h: h, w: w, taps: g), my = filter(ys, h: h, w: w, taps: g)
        let exx = filter(xs.map { $0 * $0 }, h: h, w: w, taps: g)
        let eyy = filter(ys.map { $0 * $0 }, h: h, w: w, taps: g)
        let exy = filter(zip(xs, ys).map { $0 * $1 }, h: h, w: w, taps: g)
        var dmx = [Double](repeating: 0, count: oh * ow), dexx = dmx, dexy = dmx
        var total = 0.0
        for q in 0..<(oh * ow) {
            let a1 = 2 * mx[q] * my[q] + c1, a2 = 2 * (exy[q] - mx[q] * my[q]) + c2
            let b1 = mx[q] * mx[q] + my[q] * my[q] + c1
            let b2 = exx[q] - mx[q] * mx[q] + eyy[q] - my[q] * my[q] + c2
            let s = a1 * a2 / (b1 * b2)
            let wq = centreWeights[b * oh * ow + q]
            total += wq * (1 - s) / 2
            let dS = -0.5 * wq * scale   // d loss / d S_q
            dmx[q] = dS * s * (2 * my[q] / a1 - 2 * my[q] / a2 - 2 * mx[q] / b1 + 2 * mx[q] / b2)
            dexx[q] = dS * (-s / b2)
            dexy[q] = dS * (2 * s / a2)
        }
        let gm = filterAdjoint(dmx, h: h, w: w, taps: g)
        let gxx = filterAdjoint(dexx, h: h, w: w, taps: g)
        let gxy = filterAdjoint(dexy, h: h, w: w, taps: g)
        for i in 0..<(h * w) {
            gradient[(b * h * w + i) * c + ch] = Float(gm[i] + 2 * xs[i] * gxx[i] + ys[i] * gxy[i])
        }
        return total
    }
}

/// Per-task Double results written by worker threads (each its own index).
struct SendableDoubles: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    init(_ pointer: UnsafeMutablePointer<Double>) { self.pointer = pointer }
}
