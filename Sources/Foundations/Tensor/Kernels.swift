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
        let level = FastKernels.level
        // A small window into few channels (the networks' first layer): directly, without unfolding.
        if !pointwise && epilogue.residual == nil
            && smallConvolution(input: input, batch: n, channels: cin, geometry: g, filter: filter, outChannels: cout, bias: bias,
                                relu: epilogue.relu, preluAlpha: epilogue.preluAlpha, output: output, level: level) {
            return
        }
        if !pointwise && scratch.count < rows * k { scratch = [Float](repeating: 0, count: rows * k) }
        let w = SendablePointer(filter), b = bias.map(SendablePointer.init)
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
                        let rc = epilogue.residualChannels > 0 && epilogue.residualChannels < cout ? epilogue.residualChannels : cout
                        if rows < Parallel.cores && cout >= 32 {
                            // Fewer output pixels than cores (FaceMesh's 1×1×1404 head): the columns are split instead, in
                            // whole 16-column panels, after the few windows are unfolded once.
                            let a: UnsafePointer<Float>
                            if pointwise {
                                a = src.pointer
                            } else if let cols {
                                unfold(src.pointer, channels: cin, geometry: g, rows: 0..<rows, into: cols.pointer, level: level)
                                a = UnsafePointer(cols.pointer)
                            } else { return }
                            let from = SendablePointer(a)
                            Parallel.ranges((cout + 15) / 16, work: rows * cout * k) { panels in
                                let n0 = panels.lowerBound * 16, n1 = min(cout, panels.upperBound * 16)
                                let residualColumns = min(rc - n0, n1 - n0)
                                packedProduct(m: rows, a: from.pointer, lda: k, filter: pw.pointer + n0 * k, n: n1 - n0, k: k,
                                              bias: b.map { $0.pointer + n0 },
                                              residual: residualColumns > 0 ? epilogue.residual.map { $0 + image * rows * rc + n0 } : nil,
                                              residualChannels: max(residualColumns, 0), relu: epilogue.relu,
                                              preluAlpha: epilogue.preluAlpha.map { $0 + n0 }, c: dst.pointer + n0, ldc: cout, level: level,
                                              residualStride: rc)
                            }
                            continue
                        }
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
