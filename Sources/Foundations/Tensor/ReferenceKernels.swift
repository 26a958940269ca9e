import Foundation

/// Naive, obviously-correct versions of the fast kernels, on `Tensor` values, computed in Double.
/// Tests check `Kernels` against these on random inputs; nothing else should call them.
public enum ReferenceKernels {
    /// input `[n,h,w,cin]`, filter OHWI `[cout,kh,kw,cin]`, bias `[cout]`.
    public static func conv2d(_ x: Tensor, filter: Tensor, bias: Tensor?, strideH: Int, strideW: Int,
                              dilationH: Int = 1, dilationW: Int = 1, padding: Padding) -> Tensor {
        let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, kh, kw) = (filter.shape[0], filter.shape[1], filter.shape[2])
        let g = WindowGeometry(inH: h, inW: w, kH: kh, kW: kw, strideH: strideH, strideW: strideW,
                               dilationH: dilationH, dilationW: dilationW, padding: padding)
        var out = Tensor(zeros: [n, g.outH, g.outW, cout])
        for b in 0..<n { for oy in 0..<g.outH { for ox in 0..<g.outW { for o in 0..<cout {
            var s = Double(bias?.data[o] ?? 0)
            for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * strideH - g.padTop + ky * dilationH, ix = ox * strideW - g.padLeft + kx * dilationW
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for c in 0..<cin {
                    s += Double(x.data[((b * h + iy) * w + ix) * cin + c]) * Double(filter.data[((o * kh + ky) * kw + kx) * cin + c])
                }
            } }
            out.data[((b * g.outH + oy) * g.outW + ox) * cout + o] = Float(s)
        } } } }
        return out
    }

    /// input `[n,h,w,c]`, filter `[1,kh,kw,c]` (multiplier 1), bias `[c]`.
    public static func depthwiseConv2d(_ x: Tensor, filter: Tensor, bias: Tensor?, strideH: Int, strideW: Int, padding: Padding) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = (filter.shape[1], filter.shape[2])
        let g = WindowGeometry(inH: h, inW: w, kH: kh, kW: kw, strideH: strideH, strideW: strideW, padding: padding)
        var out = Tensor(zeros: [n, g.outH, g.outW, c])
        for b in 0..<n { for oy in 0..<g.outH { for ox in 0..<g.outW { for ch in 0..<c {
            var s = Double(bias?.data[ch] ?? 0)
            for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * strideH - g.padTop + ky, ix = ox * strideW - g.padLeft + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                s += Double(x.data[((b * h + iy) * w + ix) * c + ch]) * Double(filter.data[(ky * kw + kx) * c + ch])
            } }
            out.data[((b * g.outH + oy) * g.outW + ox) * c + ch] = Float(s)
        } } } }
        return out
    }

    /// Max or average pooling (average over the valid part of the window unless `countPadding`).
    public static func pool(_ x: Tensor, kH: Int, kW: Int, strideH: Int, strideW: Int, padding: Padding,
                            average: Bool, countPadding: Bool = false) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = WindowGeometry(inH: h, inW: w, kH: kH, kW: kW, strideH: strideH, strideW: strideW, padding: padding)
        var out = Tensor(zeros: [n, g.outH, g.outW, c])
        for b in 0..<n { for oy in 0..<g.outH { for ox in 0..<g.outW { for ch in 0..<c {
            var values: [Double] = []
            for ky in 0..<kH { for kx in 0..<kW {
                let iy = oy * strideH - g.padTop + ky, ix = ox * strideW - g.padLeft + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                values.append(Double(x.data[((b * h + iy) * w + ix) * c + ch]))
            } }
            let v = average ? values.reduce(0, +) / Double(countPadding ? kH * kW : max(values.count, 1)) : (values.max() ?? 0)
            out.data[((b * g.outH + oy) * g.outW + ox) * c + ch] = Float(v)
        } } } }
        return out
    }

    /// NumPy-broadcast addition.
    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = broadcastShape(a.shape, b.shape)
        var out = Tensor(zeros: shape)
        let pa = Array(repeating: 1, count: shape.count - a.shape.count) + a.shape
        let pb = Array(repeating: 1, count: shape.count - b.shape.count) + b.shape
        forEachIndex(shape) { linear, index in
            var ia = 0, ib = 0
            for d in 0..<shape.count {
                ia = ia * pa[d] + (pa[d] == 1 ? 0 : index[d])
                ib = ib * pb[d] + (pb[d] == 1 ? 0 : index[d])
            }
            out.data[linear] = a.data[ia] + b.data[ib]
        }
        return out
    }

    /// `y = x · Wᵀ + b`, W `[out, in]`.
    public static func fullyConnected(_ x: Tensor, weights: Tensor, bias: Tensor?) -> Tensor {
        let n = x.shape[0], inputs = x.count / n, outputs = weights.shape[0]
        var out = Tensor(zeros: [n, outputs])
        for b in 0..<n { for o in 0..<outputs {
            var s = Double(bias?.data[o] ?? 0)
            for i in 0..<inputs { s += Double(x.data[b * inputs + i]) * Double(weights.data[o * inputs + i]) }
            out.data[b * outputs + o] = Float(s)
        } }
        return out
    }

    /// TFLite RESIZE_BILINEAR, written from its reference implementation's formulas.
    public static func resizeBilinear(_ x: Tensor, outH: Int, outW: Int, alignCorners: Bool, halfPixelCenters: Bool) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func scale(_ i: Int, _ o: Int) -> Double { alignCorners && o > 1 ? Double(i - 1) / Double(o - 1) : Double(i) / Double(o) }
        func source(_ o: Int, _ s: Double, _ size: Int) -> (Double, Int, Int) {
            let v = halfPixelCenters ? (Double(o) + 0.5) * s - 0.5 : Double(o) * s
            let lower = max(Int(Foundation.floor(v)), 0), upper = min(Int(Foundation.ceil(v)), size - 1)
            return (v, lower, upper)
        }
        var out = Tensor(zeros: [n, outH, outW, c])
        let sy = scale(h, outH), sx = scale(w, outW)
        for b in 0..<n { for oy in 0..<outH { for ox in 0..<outW { for ch in 0..<c {
            let (fy, y0, y1) = source(oy, sy, h), (fx, x0, x1) = source(ox, sx, w)
            func at(_ y: Int, _ xx: Int) -> Double { Double(x.data[((b * h + y) * w + xx) * c + ch]) }
            let v = at(y0, x0) * (1 - (fy - Double(y0))) * (1 - (fx - Double(x0))) + at(y1, x0) * (fy - Double(y0)) * (1 - (fx - Double(x0)))
                + at(y0, x1) * (1 - (fy - Double(y0))) * (fx - Double(x0)) + at(y1, x1) * (fy - Double(y0)) * (fx - Double(x0))
            out.data[((b * outH + oy) * outW + ox) * c + ch] = Float(v)
        } } } }
        return out
    }
}
