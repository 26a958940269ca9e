import Foundation
import Tensor

/// Naive, obviously-correct Double versions of the training kernels and losses, on flat row-major
/// arrays. The tests compare the fast Float code against these (forward values, and backward passes
/// against both the naive adjoints here and central finite differences of the forwards); nothing else
/// should call them.
public enum NNReference {
    /// SAME-padded convolution: x `[n, h, w, cin]`, kernel HWIO `[k, k, cin, cout]`, bias `[cout]`.
    public static func conv2d(_ x: [Double], shape s: [Int], kernel: [Double], bias: [Double], k: Int, stride: Int,
                              outChannels cout: Int) -> (values: [Double], shape: [Int]) {
        let (n, h, w, cin) = (s[0], s[1], s[2], s[3])
        let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: .same)
        var out = [Double](repeating: 0, count: n * g.outH * g.outW * cout)
        for b in 0..<n { for oy in 0..<g.outH { for ox in 0..<g.outW { for o in 0..<cout {
            var sum = bias[o]
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride - g.padTop + ky, ix = ox * stride - g.padLeft + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for c in 0..<cin { sum += x[((b * h + iy) * w + ix) * cin + c] * kernel[((ky * k + kx) * cin + c) * cout + o] }
            } }
            out[((b * g.outH + oy) * g.outW + ox) * cout + o] = sum
        } } } }
        return (out, [n, g.outH, g.outW, cout])
    }

    /// Adjoints of `conv2d` (no activation) for an output gradient `dy`: (dx, dKernel, dBias).
    public static func conv2dBackward(_ x: [Double], shape s: [Int], kernel: [Double], dy: [Double], k: Int, stride: Int,
                                      outChannels cout: Int) -> (dx: [Double], dKernel: [Double], dBias: [Double]) {
        let (n, h, w, cin) = (s[0], s[1], s[2], s[3])
        let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: .same)
        var dx = [Double](repeating: 0, count: x.count), dk = [Double](repeating: 0, count: kernel.count)
        var db = [Double](repeating: 0, count: cout)
        for b in 0..<n { for oy in 0..<g.outH { for ox in 0..<g.outW { for o in 0..<cout {
            let d = dy[((b * g.outH + oy) * g.outW + ox) * cout + o]
            db[o] += d
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride - g.padTop + ky, ix = ox * stride - g.padLeft + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for c in 0..<cin {
                    let xi = ((b * h + iy) * w + ix) * cin + c, ki = ((ky * k + kx) * cin + c) * cout + o
                    dx[xi] += d * kernel[ki]
                    dk[ki] += d * x[xi]
                }
            } }
        } } } }
        return (dx, dk, db)
    }

    /// x `[n, inputs]`, kernel `[inputs, outputs]`, bias `[outputs]`.
    public static func dense(_ x: [Double], batch n: Int, kernel: [Double], bias: [Double], inputs: Int, outputs: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * outputs)
        for b in 0..<n { for o in 0..<outputs {
            var sum = bias[o]
            for i in 0..<inputs { sum += x[b * inputs + i] * kernel[i * outputs + o] }
            out[b * outputs + o] = sum
        } }
        return out
    }

    public static func activation(_ x: [Double], _ a: Activation) -> [Double] {
        switch a {
        case .linear: return x
        case .relu: return x.map { max($0, 0) }
        case .leakyReLU(let alpha): return x.map { $0 < 0 ? Double(alpha) * $0 : $0 }
        case .sigmoid: return x.map { 1 / (1 + Foundation.exp(-$0)) }
        }
    }

    /// Depth-to-space, block 2: x `[n, h, w, 4C]` → `[n, 2h, 2w, C]`, y[b,2h+dy,2w+dx,c] = x[b,h,w,(2dy+dx)C+c].
    public static func pixelShuffle(_ x: [Double], shape s: [Int]) -> [Double] {
        let (n, h, w, c4) = (s[0], s[1], s[2], s[3]), c = c4 / 4
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n { for y in 0..<(2 * h) { for xx in 0..<(2 * w) { for ch in 0..<c {
            let (iy, dy, ix, dx) = (y / 2, y % 2, xx / 2, xx % 2)
            out[((b * 2 * h + y) * 2 * w + xx) * c + ch] = x[((b * h + iy) * w + ix) * c4 + (dy * 2 + dx) * c + ch]
        } } } }
        return out
    }

    /// Weighted MAE / MSE / DSSIM as `Loss` defines them; weights `[n, h, w]` or nil. DSSIM here slides the
    /// full 2-D Gaussian window directly (no separable filtering).
    public static func loss(_ loss: Loss, prediction p: [Double], target t: [Double], weights: [Double]?, shape s: [Int]) -> Double {
        let (n, h, w, c) = (s[0], s[1], s[2], s[3])
        switch loss {
        case .mae, .mse:
            var total = 0.0, weightSum = 0.0
            for pixel in 0..<(n * h * w) {
                let wt = weights?[pixel] ?? 1
                weightSum += wt
                for ch in 0..<c {
                    let d = p[pixel * c + ch] - t[pixel * c + ch]
                    total += wt * (loss == .mse ? d * d : abs(d))
                }
            }
            return weightSum > 0 ? total / (Double(c) * weightSum) : 0
        case .dssim(let size, let sigma):
            let g1 = SSIM.gaussian(size: size, sigma: sigma)
            let oh = h - size + 1, ow = w - size + 1, r = size / 2
            var total = 0.0, weightSum = 0.0
            for b in 0..<n { for y0 in 0..<oh { for x0 in 0..<ow {
                let wt = weights?[(b * h + y0 + r) * w + x0 + r] ?? 1
                weightSum += wt
                for ch in 0..<c {
                    var mx = 0.0, my = 0.0, xx = 0.0, yy = 0.0, xy = 0.0
                    for ky in 0..<size { for kx in 0..<size {
                        let gw = g1[ky] * g1[kx], i = ((b * h + y0 + ky) * w + x0 + kx) * c + ch
                        mx += gw * p[i]; my += gw * t[i]; xx += gw * p[i] * p[i]; yy += gw * t[i] * t[i]; xy += gw * p[i] * t[i]
                    } }
                    let vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my
                    let ssim = (2 * mx * my + SSIM.c1) * (2 * cxy + SSIM.c2) / ((mx * mx + my * my + SSIM.c1) * (vx + vy + SSIM.c2))
                    total += wt * (1 - ssim) / 2
                }
            } } }
            return weightSum > 0 ? total / (Double(c) * weightSum) : 0
        }
    }
}
