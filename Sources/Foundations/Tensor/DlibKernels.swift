import Foundation

// Kernels added for dlib's ResNet (general-purpose; twins in DlibReferenceKernels.swift).
extension Kernels {
    /// Number of floats `conv2dBatched` needs in `scratch`.
    public static func conv2dBatchedScratchCount(batch n: Int, channels cin: Int, geometry g: WindowGeometry) -> Int {
        isPointwise(g) ? 0 : n * g.outH * g.outW * g.kH * g.kW * cin
    }

    /// 2-D convolution of a whole batch as one im2col and **one** sgemm: input `[n, inH, inW, cin]`,
    /// filter OHWI `[cout, kH, kW, cin]`, output `[n, outH, outW, cout]` (no bias: see `channelAffine`).
    /// `scratch` grows to `conv2dBatchedScratchCount` on first use only.
    public static func conv2dBatched(input: UnsafePointer<Float>, batch n: Int, channels cin: Int, geometry g: WindowGeometry,
                                     filter: UnsafePointer<Float>, outChannels cout: Int,
                                     output: UnsafeMutablePointer<Float>, scratch: inout [Float]) {
        let k = g.kH * g.kW * cin
        let rows = n * g.outH * g.outW
        if isPointwise(g) {
            BLAS.sgemm(transB: true, m: rows, n: cout, k: k, a: input, lda: k, b: filter, ldb: k, c: output, ldc: cout)
            return
        }
        let needed = conv2dBatchedScratchCount(batch: n, channels: cin, geometry: g)
        if scratch.count < needed { scratch = [Float](repeating: 0, count: needed) }
        scratch.withUnsafeMutableBufferPointer { buf in
            let cols = buf.baseAddress!
            for r in 0..<(n * g.outH) {
                let (b, oy) = r.quotientAndRemainder(dividingBy: g.outH)
                im2colRows(input + b * g.inH * g.inW * cin, channels: cin, geometry: g, outputRow: oy, into: cols + r * g.outW * k)
            }
            BLAS.sgemm(transB: true, m: rows, n: cout, k: k, a: cols, lda: k, b: filter, ldb: k, c: output, ldc: cout)
        }
    }

    static func isPointwise(_ g: WindowGeometry) -> Bool {
        g.kH == 1 && g.kW == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0
            && g.outH == g.inH && g.outW == g.inW
    }

    /// `im2col` of output row `oy` (its `outW` rows of `kH·kW·cin` values), copying each kernel row
    /// (`kW·cin` contiguous floats in NHWC) in one go when it lies inside the image.
    static func im2colRows(_ src: UnsafePointer<Float>, channels cin: Int, geometry g: WindowGeometry, outputRow oy: Int,
                           into cols: UnsafeMutablePointer<Float>) {
        let span = g.kW * cin
        var dst = cols
        for ox in 0..<g.outW {
            let ix0 = ox * g.strideW - g.padLeft
            let rowInside = g.dilationW == 1 && ix0 >= 0 && ix0 + g.kW <= g.inW
            for ky in 0..<g.kH {
                let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                if iy < 0 || iy >= g.inH {
                    dst.update(repeating: 0, count: span)
                } else if rowInside {
                    dst.update(from: src + (iy * g.inW + ix0) * cin, count: span)
                } else {
                    for kx in 0..<g.kW {
                        let ix = ix0 + kx * g.dilationW
                        if ix < 0 || ix >= g.inW {
                            (dst + kx * cin).update(repeating: 0, count: cin)
                        } else {
                            (dst + kx * cin).update(from: src + (iy * g.inW + ix) * cin, count: cin)
                        }
                    }
                }
                dst += span
            }
        }
    }

    /// In place, per channel (the last dimension): `x = (x + bias) · scale + shift`, then `max(x, 0)`
    /// when `relu`. This is a convolution's bias followed by dlib's `affine` layer (and `relu`).
    public static func channelAffine(_ x: UnsafeMutablePointer<Float>, rows: Int, channels: Int, bias: UnsafePointer<Float>,
                                     scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, relu: Bool) {
        for r in 0..<rows {
            let row = x + r * channels
            if relu {
                for c in 0..<channels { row[c] = max((row[c] + bias[c]) * scale[c] + shift[c], 0) }
            } else {
                for c in 0..<channels { row[c] = (row[c] + bias[c]) * scale[c] + shift[c] }
            }
        }
    }

    /// dlib's `add_prev`: `a + b` for NHWC tensors of equal batch whose other dimensions may differ. The
    /// output has the larger size on each dimension and each input is anchored at the origin, the
    /// missing part counting as zero. `max(·, 0)` is applied when `relu`.
    public static func addZeroPadded(_ a: UnsafePointer<Float>, shapeA: [Int], _ b: UnsafePointer<Float>, shapeB: [Int],
                                     output: UnsafeMutablePointer<Float>, relu: Bool) {
        precondition(shapeA.count == 4 && shapeB.count == 4 && shapeA[0] == shapeB[0], "addZeroPadded: needs two 4-D tensors of equal batch")
        let (n, ha, wa, ca) = (shapeA[0], shapeA[1], shapeA[2], shapeA[3])
        let (hb, wb, cb) = (shapeB[1], shapeB[2], shapeB[3])
        let (h, w, c) = (max(ha, hb), max(wa, wb), max(ca, cb))
        for i in 0..<n {
            for y in 0..<h {
                for x in 0..<w {
                    let dst = output + ((i * h + y) * w + x) * c
                    let na = y < ha && x < wa ? ca : 0, nb = y < hb && x < wb ? cb : 0
                    let pa = a + ((i * ha + y) * wa + x) * ca, pb = b + ((i * hb + y) * wb + x) * cb
                    let both = min(na, nb)
                    for ch in 0..<both { dst[ch] = pa[ch] + pb[ch] }
                    if na > both { (dst + both).update(from: pa + both, count: na - both) }
                    if nb > both { (dst + both).update(from: pb + both, count: nb - both) }
                    let filled = max(na, nb)
                    if filled < c { (dst + filled).update(repeating: 0, count: c - filled) }
                    if relu { for ch in 0..<filled { dst[ch] = max(dst[ch], 0) } }
                }
            }
        }
    }
}

