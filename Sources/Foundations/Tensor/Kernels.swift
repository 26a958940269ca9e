import Foundation

/// Fast NHWC kernels over raw buffers. Outputs are written, never allocated: callers (the graph
/// executors) own every buffer, so steady-state inference allocates nothing. `scratch` buffers grow on
/// first use only. Each kernel has a naive twin in `ReferenceKernels` that the tests compare against.
public enum Kernels {
    /// 2-D convolution. input `[n, inH, inW, cin]`, filter OHWI `[cout, kH, kW, cin]`, bias `[cout]`,
    /// output `[n, outH, outW, cout]`. Done as im2col + sgemm; each core takes a block of output rows and
    /// unfolds, multiplies and adds the bias for it (1×1 stride-1 convolutions skip im2col: the input
    /// already is the matrix).
    ///
    /// `epilogue` folds what follows the convolution into the same pass over each output block, while it
    /// is in cache: a residual tensor of the output's shape is added (C starts at residual + bias and the
    /// product accumulates into it), then ReLU or per-channel PReLU.
    public static func conv2d(input: UnsafePointer<Float>, batch n: Int, channels cin: Int, geometry g: WindowGeometry,
                              filter: UnsafePointer<Float>, outChannels cout: Int, bias: UnsafePointer<Float>?,
                              epilogue: ConvEpilogue = ConvEpilogue(), packed: PackedConvFilter? = nil,
                              output: UnsafeMutablePointer<Float>, scratch: inout [Float]) {
        let k = g.kH * g.kW * cin
        let rows = g.outH * g.outW
        let pointwise = g.kH == 1 && g.kW == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0
            && g.outH == g.inH && g.outW == g.inW
        if !pointwise && scratch.count < rows * k { scratch = [Float](repeating: 0, count: rows * k) }
        let w = SendablePointer(filter), b = bias.map(SendablePointer.init)
        let level = FastKernels.level
        if level >= .avx2 {
            // The C micro-kernel on weights packed at load time (or here, for callers that did not pack them), with
            // bias, residual and activation applied before its single store.
            let weights = packed.flatMap { $0.outChannels == cout && $0.depth == k ? $0 : nil }
                ?? PackedConvFilter(filter: filter, outChannels: cout, depth: k)
            weights.values.withUnsafeBufferPointer { pp in
                guard let pw = pp.baseAddress.map(SendablePointer.init) else { return }
                scratch.withUnsafeMutableBufferPointer { buffer in
                    let cols = buffer.baseAddress.map(SendableMutablePointer.init)
                    for image in 0..<n {
                        let src = SendablePointer(input + image * g.inH * g.inW * cin)
                        let dst = SendableMutablePointer(output + image * rows * cout)
                        Parallel.ranges(rows, work: rows * cout * k) { range in
                            // Windows are unfolded a block of rows at a time into the start of this range's part of the
                            // scratch, so the block is still in cache when the product reads it.
                            let block = pointwise ? range.count : max(12, min(range.count, 16_384 / max(k, 1) / 12 * 12))
                            var lower = range.lowerBound
                            while lower < range.upperBound {
                                let upper = min(range.upperBound, lower + block)
                                let a: UnsafePointer<Float>
                                if pointwise {
                                    a = src.pointer + lower * k
                                } else if let cols {
                                    unfold(src.pointer, channels: cin, geometry: g, rows: lower..<upper, into: cols.pointer + range.lowerBound * k, level: level)
                                    a = UnsafePointer(cols.pointer + range.lowerBound * k)
                                } else { return }
                                let rc = epilogue.residualChannels > 0 && epilogue.residualChannels < cout ? epilogue.residualChannels : cout
                                let residual = epilogue.residual.map { $0 + (image * rows + lower) * rc }
                                packedProduct(m: upper - lower, a: a, lda: k, filter: pw.pointer, n: cout, k: k, bias: b?.pointer,
                                              residual: residual, residualChannels: rc, relu: epilogue.relu, preluAlpha: epilogue.preluAlpha,
                                              c: dst.pointer + lower * cout, ldc: cout, level: level)
                                lower = upper
                            }
                        }
                    }
                }
            }
            return
        }
        scratch.withUnsafeMutableBufferPointer { buffer in
            let cols = buffer.baseAddress.map(SendableMutablePointer.init)
            for image in 0..<n {
                let src = SendablePointer(input + image * g.inH * g.inW * cin)
                let dst = SendableMutablePointer(output + image * rows * cout)
                Parallel.ranges(rows, work: rows * cout * k) { range in
                    let a: UnsafePointer<Float>
                    if pointwise {
                        a = src.pointer + range.lowerBound * k
                    } else if let cols {
                        im2col(src.pointer, channels: cin, geometry: g, rows: range, into: cols.pointer + range.lowerBound * k)
                        a = UnsafePointer(cols.pointer + range.lowerBound * k)
                    } else { return }
                    let c = dst.pointer + range.lowerBound * cout
                    // Start C at residual + bias and accumulate into it (beta 1): no zeroing, bias or add pass.
                    let rc = epilogue.residualChannels > 0 && epilogue.residualChannels < cout ? epilogue.residualChannels : cout
                    let residual = epilogue.residual.map { $0 + (image * rows + range.lowerBound) * rc }
                    for r in 0..<range.count {
                        let row = c + r &* cout
                        if rc < cout, let res = residual {
                            // A residual with fewer channels: bias (or zero) everywhere, plus the residual on its channels.
                            if let bias = b { copyFloats(bias.pointer, to: row, count: cout) } else { row.update(repeating: 0, count: cout) }
                            addRow(UnsafePointer(row), res + r &* rc, into: row, count: rc)
                            continue
                        }
                        switch (residual, b) {
                        case let (res?, bias?): addRow(res + r &* cout, bias.pointer, into: row, count: cout)
                        case let (res?, nil): copyFloats(res + r &* cout, to: row, count: cout)
                        case let (nil, bias?): copyFloats(bias.pointer, to: row, count: cout)
                        case (nil, nil): break
                        }
                    }
                    BLAS.sgemmSerial(transB: true, m: range.count, n: cout, k: k, a: a, lda: k, b: w.pointer, ldb: k,
                                     beta: residual == nil && b == nil ? 0 : 1, c: c, ldc: cout)
                    if epilogue.relu { relu(UnsafePointer(c), count: range.count * cout, output: c) }
                    if let alpha = epilogue.preluAlpha {
                        prelu(UnsafePointer(c), count: range.count * cout, alpha: alpha, channels: cout, output: c)
                    }
                }
            }
        }
    }

    /// `y = a + b` for one row of `count` floats.
    @inline(__always)
    static func addRow(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i &+ 8 <= count { (SIMD8<Float>.load(a + i) + SIMD8<Float>.load(b + i)).store(y + i); i &+= 8 }
        while i < count { y[i] = a[i] + b[i]; i &+= 1 }
    }

    /// Unfolds the windows of output positions `rows` (row-major over outH × outW) into rows of
    /// `kH·kW·cin` values (zeros where the window leaves the image), starting at `cols`.
    static func im2col(_ src: UnsafePointer<Float>, channels cin: Int, geometry g: WindowGeometry, rows: Range<Int>,
                       into cols: UnsafeMutablePointer<Float>) {
        let rowLength = g.kH * g.kW * cin
        for position in rows {
            let oy = position / g.outW, ox = position % g.outW
            var dst = cols + (position - rows.lowerBound) * rowLength
            for ky in 0..<g.kH {
                let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                for kx in 0..<g.kW {
                    let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                    if iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW {
                        for c in 0..<cin { dst[c] = 0 }
                    } else if cin < 32 {
                        let from = src + (iy &* g.inW &+ ix) &* cin
                        for c in 0..<cin { dst[c] = from[c] }
                    } else {
                        dst.update(from: src + (iy * g.inW + ix) * cin, count: cin)
                    }
                    dst += cin
                }
            }
        }
    }

    /// Adds `bias[c]` to every row of a `[rows, channels]` matrix.
    static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, channels: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = x + r &* channels
            var c = 0
            while c + 16 <= channels {
                (SIMD16<Float>.load(row + c) + SIMD16<Float>.load(bias + c)).store(row + c)
                c &+= 16
            }
            while c < channels { row[c] += bias[c]; c &+= 1 }
        }
    }

    /// Depthwise 2-D convolution, channel multiplier 1. input `[n, inH, inW, c]`, filter `[kH, kW, c]`
    /// (TFLite's `[1, kH, kW, c]`), bias `[c]`, output `[n, outH, outW, c]`. Each output row is
    /// accumulated tap by tap over the columns where the tap lands inside the image (no branches in the
    /// inner loops), vectorised across channels; rows are split across cores when the layer is large.
    public static func depthwiseConv2d(input: UnsafePointer<Float>, batch n: Int, channels c: Int, geometry g: WindowGeometry,
                                       filter: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                       output: UnsafeMutablePointer<Float>) {
        let rows = n * g.outH
        let work = rows * g.outW * c * g.kH * g.kW
        let src = SendablePointer(input), dst = SendableMutablePointer(output), w = SendablePointer(filter)
        let b = bias.map(SendablePointer.init)
        let level = FastKernels.level
        Parallel.ranges(rows, work: work, threshold: 60_000) { range in
            if level >= .avx2, depthwiseRows(input: src.pointer, channels: c, geometry: g, filter: w.pointer, bias: b?.pointer,
                                             output: dst.pointer, rows: range, level: level) { return }
            for row in range {
                let image = row / g.outH, oy = row % g.outH
                let plane = src.pointer + image * g.inH * g.inW * c
                let outRow = dst.pointer + row * g.outW * c

                // Rows of taps that land inside the image.
                var kyLo = 0, kyHi = g.kH - 1
                while kyLo <= kyHi && oy &* g.strideH &- g.padTop &+ kyLo &* g.dilationH < 0 { kyLo &+= 1 }
                while kyHi >= kyLo && oy &* g.strideH &- g.padTop &+ kyHi &* g.dilationH >= g.inH { kyHi &-= 1 }
                if kyLo > kyHi {
                    // Every tap of this row lands in the padding: the output is the bias alone.
                    for ox in 0..<g.outW {
                        if let b { copyFloats(b.pointer, to: outRow + ox &* c, count: c) } else { for i in 0..<c { outRow[ox &* c &+ i] = 0 } }
                    }
                    continue
                }
                // Columns where every tap lands inside: computed in registers, one store per vector.
                let firstFull = g.padLeft > 0 ? (g.padLeft + g.strideW - 1) / g.strideW : 0
                let lastFull = min(g.outW - 1, (g.inW - 1 + g.padLeft - (g.kW - 1) * g.dilationW) >= 0
                                   ? (g.inW - 1 + g.padLeft - (g.kW - 1) * g.dilationW) / g.strideW : -1)
                if firstFull <= lastFull {
                    for ox in firstFull...lastFull {
                        let x0 = plane + ((oy &* g.strideH &- g.padTop) &* g.inW &+ ox &* g.strideW &- g.padLeft) &* c
                        let y = outRow + ox &* c
                        var ch = 0
                        let zero = SIMD8<Float>(repeating: 0)
                        // Accumulators start at the bias; up to four independent ones (8 channels each) keep the
                        // FMA pipeline full. One loop per accumulator count, so nothing is tested inside.
                        while ch &+ 32 <= c {
                            var a0 = b.map { SIMD8<Float>.load($0.pointer + ch + 0) } ?? zero
                            var a1 = b.map { SIMD8<Float>.load($0.pointer + ch + 8) } ?? zero
                            var a2 = b.map { SIMD8<Float>.load($0.pointer + ch + 16) } ?? zero
                            var a3 = b.map { SIMD8<Float>.load($0.pointer + ch + 24) } ?? zero
                            for ky in kyLo...kyHi {
                                let xr = x0 + ((ky &* g.dilationH &* g.inW) &* c &+ ch)
                                let wr = w.pointer + ((ky &* g.kW) &* c &+ ch)
                                for kx in 0..<g.kW {
                                    let xp = xr + (kx &* g.dilationW) &* c, wp = wr + kx &* c
                                    a0 = a0.addingProduct(SIMD8<Float>.load(xp), SIMD8<Float>.load(wp))
                                    a1 = a1.addingProduct(SIMD8<Float>.load(xp + 8), SIMD8<Float>.load(wp + 8))
                                    a2 = a2.addingProduct(SIMD8<Float>.load(xp + 16), SIMD8<Float>.load(wp + 16))
                                    a3 = a3.addingProduct(SIMD8<Float>.load(xp + 24), SIMD8<Float>.load(wp + 24))
                                }
                            }
                            a0.store(y + ch + 0); a1.store(y + ch + 8); a2.store(y + ch + 16); a3.store(y + ch + 24)
                            ch &+= 32
                        }
                        switch (c &- ch) / 8 {
                        case 3:
                            while ch &+ 24 <= c {
                                var a0 = b.map { SIMD8<Float>.load($0.pointer + ch + 0) } ?? zero
                                var a1 = b.map { SIMD8<Float>.load($0.pointer + ch + 8) } ?? zero
                                var a2 = b.map { SIMD8<Float>.load($0.pointer + ch + 16) } ?? zero
                                for ky in kyLo...kyHi {
                                    let xr = x0 + ((ky &* g.dilationH &* g.inW) &* c &+ ch)
                                    let wr = w.pointer + ((ky &* g.kW) &* c &+ ch)
                                    for kx in 0..<g.kW {
                                        let xp = xr + (kx &* g.dilationW) &* c, wp = wr + kx &* c
                                        a0 = a0.addingProduct(SIMD8<Float>.load(xp), SIMD8<Float>.load(wp))
                                        a1 = a1.addingProduct(SIMD8<Float>.load(xp + 8), SIMD8<Float>.load(wp + 8))
                                        a2 = a2.addingProduct(SIMD8<Float>.load(xp + 16), SIMD8<Float>.load(wp + 16))
                                    }
                                }
                                a0.store(y + ch + 0); a1.store(y + ch + 8); a2.store(y + ch + 16)
                                ch &+= 24
                            }
                        case 2:
                            while ch &+ 16 <= c {
                                var a0 = b.map { SIMD8<Float>.load($0.pointer + ch + 0) } ?? zero
                                var a1 = b.map { SIMD8<Float>.load($0.pointer + ch + 8) } ?? zero
                                for ky in kyLo...kyHi {
                                    let xr = x0 + ((ky &* g.dilationH &* g.inW) &* c &+ ch)
                                    let wr = w.pointer + ((ky &* g.kW) &* c &+ ch)
                                    for kx in 0..<g.kW {
                                        let xp = xr + (kx &* g.dilationW) &* c, wp = wr + kx &* c
                                        a0 = a0.addingProduct(SIMD8<Float>.load(xp), SIMD8<Float>.load(wp))
                                        a1 = a1.addingProduct(SIMD8<Float>.load(xp + 8), SIMD8<Float>.load(wp + 8))
                                    }
                                }
                                a0.store(y + ch + 0); a1.store(y + ch + 8)
                                ch &+= 16
                            }
                        case 1:
                            while ch &+ 8 <= c {
                                var a0 = b.map { SIMD8<Float>.load($0.pointer + ch + 0) } ?? zero
                                for ky in kyLo...kyHi {
                                    let xr = x0 + ((ky &* g.dilationH &* g.inW) &* c &+ ch)
                                    let wr = w.pointer + ((ky &* g.kW) &* c &+ ch)
                                    for kx in 0..<g.kW {
                                        let xp = xr + (kx &* g.dilationW) &* c, wp = wr + kx &* c
                                        a0 = a0.addingProduct(SIMD8<Float>.load(xp), SIMD8<Float>.load(wp))
                                    }
                                }
                                a0.store(y + ch + 0)
                                ch &+= 8
                            }
                        default: break
                        }
                        if ch < c {
                            if let b { copyFloats(b.pointer + ch, to: y + ch, count: c - ch) } else { for i in ch..<c { y[i] = 0 } }
                        }
                        if ch < c {
                            for ky in kyLo...kyHi {
                                let xr = x0 + (ky &* g.dilationH &* g.inW) &* c
                                let wr = w.pointer + (ky &* g.kW) &* c
                                for kx in 0..<g.kW {
                                    multiplyAccumulate(xr + (kx &* g.dilationW) &* c + ch, wr + kx &* c + ch, into: y + ch, count: c - ch)
                                }
                            }
                        }
                    }
                }
                // Border columns: start at the bias, then tap by tap over the columns where each tap lands inside.
                for ox in 0..<g.outW where ox < firstFull || ox > lastFull {
                    if let b { copyFloats(b.pointer, to: outRow + ox &* c, count: c) } else { for i in 0..<c { outRow[ox &* c &+ i] = 0 } }
                }
                for ky in kyLo...kyHi {
                    let iy = oy &* g.strideH &- g.padTop &+ ky &* g.dilationH
                    let inRow = plane + iy &* g.inW &* c
                    for kx in 0..<g.kW {
                        let shift = kx &* g.dilationW &- g.padLeft
                        let lo = shift >= 0 ? 0 : (-shift + g.strideW - 1) / g.strideW
                        let hi = min(g.outW - 1, (g.inW - 1 - shift) >= 0 ? (g.inW - 1 - shift) / g.strideW : -1)
                        if lo > hi { continue }
                        let tap = w.pointer + (ky &* g.kW &+ kx) &* c
                        // Only the border columns: [lo, firstFull) and (lastFull, hi].
                        let interior = firstFull <= lastFull
                        let leftEnd = interior ? min(hi, firstFull - 1) : hi
                        if lo <= leftEnd {
                            for ox in lo...leftEnd {
                                multiplyAccumulate(inRow + (ox &* g.strideW &+ shift) &* c, tap, into: outRow + ox &* c, count: c)
                            }
                        }
                        if interior && max(lo, lastFull + 1) <= hi {
                            for ox in max(lo, lastFull + 1)...hi {
                                multiplyAccumulate(inRow + (ox &* g.strideW &+ shift) &* c, tap, into: outRow + ox &* c, count: c)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `y[i] += x[i] · w[i]` for `count` floats.
    @inline(__always)
    static func multiplyAccumulate(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i &+ 8 <= count {
            SIMD8<Float>.load(y + i).addingProduct(SIMD8<Float>.load(x + i), SIMD8<Float>.load(w + i)).store(y + i)
            i &+= 8
        }
        if i &+ 4 <= count {
            SIMD4<Float>.load(y + i).addingProduct(SIMD4<Float>.load(x + i), SIMD4<Float>.load(w + i)).store(y + i)
            i &+= 4
        }
        while i < count { y[i] += x[i] * w[i]; i &+= 1 }
    }

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

    private static func pool(input: UnsafePointer<Float>, batch n: Int, channels c: Int, geometry g: WindowGeometry,
                             output: UnsafeMutablePointer<Float>, average: Bool, countPadding: Bool) {
        for b in 0..<n {
            let src = input + b * g.inH * g.inW * c
            let dstBase = output + b * g.outH * g.outW * c
            for oy in 0..<g.outH {
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
        for b in 0..<n {
            let src = x + b * inH * inW * c
            let dst = output + b * outH * outW * c
            for oy in 0..<outH {
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

extension SIMD where Scalar == Float {
    /// Loads a vector of floats from any (unaligned) address.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Self {
        UnsafeRawPointer(p).loadUnaligned(as: Self.self)
    }

    /// Stores a vector of floats to any (unaligned) address.
    @inline(__always)
    func store(_ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
    }
}

/// What a convolution applies to its output blocks in the same pass (see `Kernels.conv2d`).
public struct ConvEpilogue: @unchecked Sendable {
    /// A tensor of the output's shape added to it (a residual shortcut).
    public var residual: UnsafePointer<Float>?
    /// Then `max(x, 0)`.
    public var relu: Bool
    /// Or then per-output-channel PReLU with these slopes.
    public var preluAlpha: UnsafePointer<Float>?
    /// Channels per pixel of `residual` when it has fewer than the output (it then covers the first ones, the rest
    /// take nothing: BlazeFace's zero-padded shortcut without the padding); 0 when it has the output's channels.
    public var residualChannels: Int

    public init(residual: UnsafePointer<Float>? = nil, relu: Bool = false, preluAlpha: UnsafePointer<Float>? = nil, residualChannels: Int = 0) {
        self.residual = residual
        self.relu = relu
        self.preluAlpha = preluAlpha
        self.residualChannels = residualChannels
    }
}

/// A pointer handed to worker threads; the caller guarantees the memory outlives the parallel section
/// and that threads write disjoint parts.
/// Shared by Tensor's and NN's parallel kernels (one definition).
public struct SendablePointer: @unchecked Sendable {
    public let pointer: UnsafePointer<Float>
    @inlinable public init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}

/// Image bytes read by worker threads (the samplers that split rows across cores).
public struct SendableBytes: @unchecked Sendable {
    public let pointer: UnsafePointer<UInt8>
    @inlinable public init(_ pointer: UnsafePointer<UInt8>) { self.pointer = pointer }
}

/// Image bytes written by worker threads (disjoint rows only).
public struct SendableMutableBytes: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<UInt8>
    @inlinable public init(_ pointer: UnsafeMutablePointer<UInt8>) { self.pointer = pointer }
}

/// A mutable pointer handed to worker threads (disjoint writes only).
public struct SendableMutablePointer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    @inlinable public init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}
