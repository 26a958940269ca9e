import Foundation

/// Pooling, element-wise operations (add, activations), fully connected, pad, concatenation and bilinear resize:
/// the NHWC float32 kernels beside the convolutions in `Kernels.swift`, each with a naive twin in the tests.
extension Kernels {
    /// Max pooling. Padded positions are ignored (as in TFLite).
    public static func maxPool(input: UnsafePointer<Float>, batch n: Int, channels c: Int, geometry g: WindowGeometry,
                               output: UnsafeMutablePointer<Float>) {
        pool(input: input, batch: n, channels: c, geometry: g, output: output, average: false, countPadding: false)
    }

    /// Average pooling. `countPadding` divides by the full window (dlib) instead of the valid part (TFLite).
    public static func averagePool(input: UnsafePointer<Float>, batch n: Int, channels c: Int, geometry g: WindowGeometry,
                                   countPadding: Bool = false, output: UnsafeMutablePointer<Float>) {
        pool(input: input, batch: n, channels: c, geometry: g, output: output, average: true, countPadding: countPadding)
    }

    /// Output rows (over `n · outH`) are split across cores when the layer is large.
    private static func pool(input: UnsafePointer<Float>, batch n: Int, channels c: Int, geometry g: WindowGeometry,
                             output: UnsafeMutablePointer<Float>, average: Bool, countPadding: Bool) {
        let src = SendablePointer(input), dst = SendableMutablePointer(output)
        let level = FastKernels.level
        Parallel.ranges(n * g.outH, work: n * g.outH * g.outW * c * g.kH * g.kW, threshold: 60_000) { rows in
            if !average && level >= .avx2 && maxPoolRows(input: src.pointer, channels: c, geometry: g, output: dst.pointer, rows: rows, level: level) {
                return
            }
            for row in rows {
                poolRow(input: src.pointer, channels: c, geometry: g, image: row / g.outH, oy: row % g.outH,
                        output: dst.pointer, average: average, countPadding: countPadding)
            }
        }
    }

    @inline(__always)
    private static func poolRow(input: UnsafePointer<Float>, channels c: Int, geometry g: WindowGeometry, image b: Int, oy: Int,
                                output: UnsafeMutablePointer<Float>, average: Bool, countPadding: Bool) {
        let src = input + b * g.inH * g.inW * c
        let dstBase = output + b * g.outH * g.outW * c
        for ox in 0..<g.outW {
            let dst = dstBase + (oy * g.outW + ox) * c
            dst.update(repeating: average ? 0 : -Float.greatestFiniteMagnitude, count: c)
            var valid = 0
            for ky in 0..<g.kH {
                let iy = oy * g.strideH - g.padTop + ky
                if iy < 0 || iy >= g.inH { continue }
                for kx in 0..<g.kW {
                    let ix = ox * g.strideW - g.padLeft + kx
                    if ix < 0 || ix >= g.inW { continue }
                    valid += 1
                    let s = src + (iy * g.inW + ix) * c
                    if average {
                        for ch in 0..<c { dst[ch] += s[ch] }
                    } else {
                        for ch in 0..<c { dst[ch] = max(dst[ch], s[ch]) }
                    }
                }
            }
            if average {
                let divisor = Float(countPadding ? g.kH * g.kW : max(valid, 1))
                for ch in 0..<c { dst[ch] /= divisor }
            }
        }
    }

    /// Element-wise `a + b` where `b` is broadcast NumPy-style to `a`'s 4-D shape (or equal to it).
    /// With `relu`, writes `max(a + b, 0)` in the same pass.
    public static func add(_ a: UnsafePointer<Float>, shapeA: [Int], _ b: UnsafePointer<Float>, shapeB: [Int],
                           output: UnsafeMutablePointer<Float>, relu: Bool = false) {
        let countA = shapeA.reduce(1, *)
        if shapeA == shapeB {
            var i = 0
            let zero = SIMD16<Float>(repeating: 0)
            if relu {
                while i + 16 <= countA {
                    let v = SIMD16<Float>.load(a + i) + SIMD16<Float>.load(b + i)
                    v.replacing(with: zero, where: v .< zero).store(output + i)
                    i &+= 16
                }
                while i < countA { output[i] = max(a[i] + b[i], 0); i &+= 1 }
            } else {
                while i + 16 <= countA {
                    (SIMD16<Float>.load(a + i) + SIMD16<Float>.load(b + i)).store(output + i)
                    i &+= 16
                }
                while i < countA { output[i] = a[i] + b[i]; i &+= 1 }
            }
            return
        }
        defer { if relu { Self.relu(output, count: countA) } }
        let outShape = broadcastShape(shapeA, shapeB)
        let sa = broadcastStrides(shapeA, to: outShape), sb = broadcastStrides(shapeB, to: outShape)
        forEachIndex(outShape) { linear, index in
            var ia = 0, ib = 0
            for d in 0..<index.count { ia += index[d] * sa[d]; ib += index[d] * sb[d] }
            output[linear] = a[ia] + b[ib]
        }
    }

    /// `y = max(x, 0)`; `y` may be `x`.
    public static func relu(_ x: UnsafePointer<Float>, count: Int, output y: UnsafeMutablePointer<Float>) {
        let zero = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            SIMD16<Float>.load(x + i).replacing(with: zero, where: SIMD16<Float>.load(x + i) .< zero).store(y + i)
            i &+= 16
        }
        while i < count { y[i] = max(x[i], 0); i &+= 1 }
    }

    /// In place `max(x, 0)`.
    public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        relu(UnsafePointer(x), count: count, output: x)
    }

    /// `y = x < 0 ? alpha[c]·x : x` with `alpha` per channel (the last dimension); `y` may be `x`.
    public static func prelu(_ x: UnsafePointer<Float>, count: Int, alpha: UnsafePointer<Float>, channels: Int,
                             output y: UnsafeMutablePointer<Float>) {
        let zero = SIMD16<Float>(repeating: 0)
        var base = 0
        while base < count {
            var c = 0
            while c + 16 <= channels {
                let v = SIMD16<Float>.load(x + base + c)
                v.replacing(with: v * SIMD16<Float>.load(alpha + c), where: v .< zero).store(y + base + c)
                c &+= 16
            }
            while c < channels {
                let v = x[base + c]
                y[base + c] = v < 0 ? v * alpha[c] : v
                c &+= 1
            }
            base &+= channels
        }
    }

    /// `y = prelu(a + b)` with `alpha` per channel (the last dimension), in one pass.
    public static func addPReLU(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, alpha: UnsafePointer<Float>, channels: Int,
                                count: Int, output y: UnsafeMutablePointer<Float>) {
        let zero = SIMD8<Float>(repeating: 0)
        var base = 0
        while base < count {
            var c = 0
            while c &+ 8 <= channels {
                let v = SIMD8<Float>.load(a + base + c) + SIMD8<Float>.load(b + base + c)
                v.replacing(with: v * SIMD8<Float>.load(alpha + c), where: v .< zero).store(y + base + c)
                c &+= 8
            }
            while c < channels {
                let v = a[base + c] + b[base + c]
                y[base + c] = v < 0 ? v * alpha[c] : v
                c &+= 1
            }
            base &+= channels
        }
    }

    /// In place `x < 0 ? alpha[c]·x : x` with `alpha` per channel (the last dimension).
    public static func prelu(_ x: UnsafeMutablePointer<Float>, count: Int, alpha: UnsafePointer<Float>, channels: Int) {
        prelu(UnsafePointer(x), count: count, alpha: alpha, channels: channels, output: x)
    }

    /// In place `x < 0 ? alpha·x : x`.
    public static func leakyRelu(_ x: UnsafeMutablePointer<Float>, count: Int, alpha: Float) {
        for i in 0..<count where x[i] < 0 { x[i] *= alpha }
    }

    /// In place logistic sigmoid.
    public static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = 1 / (1 + Foundation.exp(-x[i])) }
    }

    /// Fully connected: `y[n, out] = x[n, in] · Wᵀ + b`, with `W` stored `[out, in]` (TFLite) when
    /// `weightsOutIn`, or `[in, out]` (dlib) otherwise.
    public static func fullyConnected(input: UnsafePointer<Float>, batch n: Int, inputs: Int, weights: UnsafePointer<Float>,
                                      outputs: Int, weightsOutIn: Bool, bias: UnsafePointer<Float>?,
                                      output: UnsafeMutablePointer<Float>) {
        BLAS.sgemm(transB: weightsOutIn, m: n, n: outputs, k: inputs, a: input, lda: inputs, b: weights,
                   ldb: weightsOutIn ? inputs : outputs, c: output, ldc: outputs)
        if let bias { addBias(output, rows: n, channels: outputs, bias: bias) }
    }

    /// Zero padding of a 4-D tensor: `before[d]` and `after[d]` elements on each dimension.
    public static func pad(_ x: UnsafePointer<Float>, shape: [Int], before: [Int], after: [Int], output: UnsafeMutablePointer<Float>) {
        let outShape = (0..<4).map { shape[$0] + before[$0] + after[$0] }
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let oc = outShape[3]
        if before[0] == 0, after[0] == 0, before[1] == 0, after[1] == 0, before[2] == 0, after[2] == 0 {
            // Channels only (BlazeFace's shortcut widening): copy each pixel, zero its new channels.
            for p in 0..<(n * h * w) {
                let dst = output + p &* oc
                for i in 0..<before[3] { dst[i] = 0 }
                copyFloats(x + p &* c, to: dst + before[3], count: c)
                for i in (before[3] + c)..<oc { dst[i] = 0 }
            }
            return
        }
        output.update(repeating: 0, count: outShape.reduce(1, *))
        for b in 0..<n {
            for y in 0..<h {
                for xx in 0..<w {
                    let src = x + ((b * h + y) * w + xx) * c
                    let dst = output + (((b + before[0]) * outShape[1] + y + before[1]) * outShape[2] + xx + before[2]) * oc + before[3]
                    copyFloats(src, to: dst, count: c)
                }
            }
        }
    }

    /// Copies `count` floats with vector moves (faster than a `memmove` call for the short runs of
    /// channels these kernels copy).
    @inline(__always)
    static func copyFloats(_ from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i &+ 8 <= count { SIMD8<Float>.load(from + i).store(to + i); i &+= 8 }
        while i < count { to[i] = from[i]; i &+= 1 }
    }

    /// Concatenation of several tensors of equal rank along `axis`.
    public static func concat(_ inputs: [(UnsafePointer<Float>, [Int])], axis: Int, output: UnsafeMutablePointer<Float>) {
        guard let first = inputs.first else { return }
        let outer = first.1[..<axis].reduce(1, *)
        var offset = 0
        let outInner = inputs.reduce(0) { $0 + $1.1[axis...].reduce(1, *) }
        for (pointer, shape) in inputs {
            let inner = shape[axis...].reduce(1, *)
            for o in 0..<outer {
                (output + o * outInner + offset).update(from: pointer + o * inner, count: inner)
            }
            offset += inner
        }
    }

    /// Bilinear resize of `[n, inH, inW, c]` to `[n, outH, outW, c]`, TFLite's RESIZE_BILINEAR semantics.
    public static func resizeBilinear(_ x: UnsafePointer<Float>, batch n: Int, inH: Int, inW: Int, channels c: Int,
                                      outH: Int, outW: Int, alignCorners: Bool, halfPixelCenters: Bool,
                                      output: UnsafeMutablePointer<Float>) {
        func scale(_ i: Int, _ o: Int) -> Float {
            alignCorners && o > 1 ? Float(i - 1) / Float(o - 1) : Float(i) / Float(o)
        }
        let sy = scale(inH, outH), sx = scale(inW, outW)
        let source = SendablePointer(x), target = SendableMutablePointer(output)
        // Output rows (over `n · outH`) are split across cores when the layer is large.
        Parallel.ranges(n * outH, work: n * outH * outW * c * 8, threshold: 60_000) { rows in
            for row in rows {
                let b = row / outH, oy = row % outH
                let src = source.pointer + b * inH * inW * c
                let dst = target.pointer + b * outH * outW * c
                let fy = halfPixelCenters ? (Float(oy) + 0.5) * sy - 0.5 : Float(oy) * sy
                let y0f = max(Foundation.floor(fy), 0)
                let y0 = min(Int(y0f), inH - 1), y1 = min(Int(Foundation.ceil(fy)), inH - 1)
                let dy = fy - Float(Int(Foundation.floor(fy)))
                let wy = halfPixelCenters && fy < 0 ? 0 : dy
                for ox in 0..<outW {
                    let fx = halfPixelCenters ? (Float(ox) + 0.5) * sx - 0.5 : Float(ox) * sx
                    let x0 = min(Int(max(Foundation.floor(fx), 0)), inW - 1), x1 = min(Int(Foundation.ceil(fx)), inW - 1)
                    let dx = fx - Float(Int(Foundation.floor(fx)))
                    let wx = halfPixelCenters && fx < 0 ? 0 : dx
                    let p00 = src + (y0 * inW + x0) * c, p01 = src + (y0 * inW + max(x1, 0)) * c
                    let p10 = src + (max(y1, 0) * inW + x0) * c, p11 = src + (max(y1, 0) * inW + max(x1, 0)) * c
                    let d = dst + (oy * outW + ox) * c
                    for ch in 0..<c {
                        let top = p00[ch] + (p01[ch] - p00[ch]) * wx
                        let bottom = p10[ch] + (p11[ch] - p10[ch]) * wx
                        d[ch] = top + (bottom - top) * wy
                    }
                }
            }
        }
    }
}

/// NumPy broadcasting of two shapes (right-aligned): the shape `a + b` has.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    let pa = Array(repeating: 1, count: rank - a.count) + a
    let pb = Array(repeating: 1, count: rank - b.count) + b
    return zip(pa, pb).map { max($0, $1) }
}

/// Strides of `shape` when broadcast to `target` (0 on broadcast dimensions).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let padded = Array(repeating: 1, count: target.count - shape.count) + shape
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    for d in stride(from: target.count - 1, through: 0, by: -1) {
        strides[d] = padded[d] == 1 && target[d] != 1 ? 0 : step
        step *= padded[d]
    }
    return strides
}

/// Calls `body(linearIndex, multiIndex)` for every element of `shape` in row-major order.
func forEachIndex(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
    let total = shape.reduce(1, *)
    var index = [Int](repeating: 0, count: shape.count)
    for linear in 0..<total {
        body(linear, index)
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            if index[d] < shape[d] { break }
            index[d] = 0
            d -= 1
        }
    }
}
