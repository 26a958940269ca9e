import Foundation
import Media
import Tensor
import XCTest

/// The C micro-kernels (CKernels: packed matrix product with fused epilogue, depthwise convolution) against their
/// naive Double twins, on every instruction-set path this machine has (AVX2 and, where present, AVX-512), over
/// odd sizes, strides, paddings and channel counts that are not multiples of the vector width.
final class TensorFastKernelTests: XCTestCase {
    private func random(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    private let paddings: [Padding] = [.same, .valid, .explicit(top: 1, bottom: 2, left: 0, right: 1), .explicit(top: 2, bottom: 0, left: 2, right: 2)]

    /// Every level above portable that the CPU supports (fails in CI on an x86-64 machine without AVX2).
    private func levels() throws -> [KernelLevel] {
        let found = KernelLevel.allCases.filter { $0 > .portable && $0 <= FastKernels.supported }
        #if arch(x86_64)
        XCTAssertFalse(found.isEmpty, "this x86-64 CPU has no AVX2: the fast kernels are not exercised")
        #endif
        return found
    }

    private func withLevel(_ level: KernelLevel, _ body: () throws -> Void) rethrows {
        let saved = FastKernels.level
        FastKernels.level = level
        defer { FastKernels.level = saved }
        try body()
    }

    func testLevelIsCappedBySupport() {
        let saved = FastKernels.level
        defer { FastKernels.level = saved }
        FastKernels.level = .avx512
        XCTAssertLessThanOrEqual(FastKernels.level, FastKernels.supported)
        FastKernels.level = .portable
        XCTAssertEqual(FastKernels.level, .portable)
    }

    /// Convolutions (1×1 as a plain product, k×k through im2col) with bias, residual (also one with fewer channels than
    /// the output: a folded zero channel padding) and ReLU / PReLU / nothing; the portable path too.
    func testPackedConvolutionMatchesNaive() throws {
        for level in [.portable] + (try levels()) {
            try withLevel(level) {
                var rng = SplitMix64(seed: 31)
                for trial in 0..<60 {
                    let n = Int.random(in: 1...2, using: &rng), h = Int.random(in: 1...13, using: &rng), w = Int.random(in: 1...13, using: &rng)
                    let cin = [1, 3, 5, 8, 16, 17, 31, 40].randomElement(using: &rng)!
                    let cout = [1, 7, 8, 12, 16, 17, 24, 33, 40, 49].randomElement(using: &rng)!
                    let k = [1, 1, 2, 3, 5].randomElement(using: &rng)!, stride = Int.random(in: 1...3, using: &rng)
                    let padding = paddings.randomElement(using: &rng)!
                    let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
                    guard g.outH > 0, g.outW > 0 else { continue }
                    let x = random([n, h, w, cin], &rng), f = random([cout, k, k, cin], &rng), b = random([cout], &rng)
                    let mode = trial % 5   // 0 plain, 1 residual + ReLU, 2 residual + PReLU, 3 PReLU, no bias, 4 narrower residual + ReLU
                    let rc = mode == 4 ? max(1, cout / 2) : cout
                    let residual = random([n, g.outH, g.outW, rc], &rng), alpha = random([cout], &rng)
                    let conv = ReferenceKernels.conv2d(x, filter: f, bias: mode == 3 ? nil : b, strideH: stride, strideW: stride, padding: padding)
                    let padded = rc == cout ? residual : Tensor(shape: conv.shape, data: (0..<conv.count).map { i in
                        i % cout < rc ? residual.data[i / cout * rc + i % cout] : 0
                    })
                    let sum = mode == 1 || mode == 2 || mode == 4 ? ReferenceKernels.add(conv, padded) : conv
                    let expected = sum.data.enumerated().map { i, v -> Float in
                        switch mode {
                        case 1, 4: return max(v, 0)
                        case 2, 3: return v >= 0 ? v : v * alpha.data[i % cout]
                        default: return v
                        }
                    }
                    var out = [Float](repeating: .nan, count: sum.count)
                    var scratch: [Float] = []
                    let packed = trial % 3 == 0 ? PackedConvFilter(filter: f.data, outChannels: cout, depth: k * k * cin) : nil
                    x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                        residual.data.withUnsafeBufferPointer { rp in alpha.data.withUnsafeBufferPointer { ap in
                            out.withUnsafeMutableBufferPointer { op in
                                let epilogue = ConvEpilogue(residual: mode == 1 || mode == 2 || mode == 4 ? rp.baseAddress : nil,
                                                            relu: mode == 1 || mode == 4, preluAlpha: mode == 2 || mode == 3 ? ap.baseAddress : nil,
                                                            residualChannels: rc)
                                Kernels.conv2d(input: xp.baseAddress!, batch: n, channels: cin, geometry: g, filter: fp.baseAddress!,
                                               outChannels: cout, bias: mode == 3 ? nil : bp.baseAddress!, epilogue: epilogue, packed: packed,
                                               output: op.baseAddress!, scratch: &scratch)
                            }
                        } }
                    } } }
                    let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertFalse(out.contains { $0.isNaN }, "\(level) trial \(trial): outputs left unwritten")
                    XCTAssertLessThan(worst, 2e-4, "\(level) trial \(trial): conv \(k)x\(k)/\(stride) \(padding) \([n, h, w, cin]) -> \(cout), mode \(mode)")
                }
            }
        }
    }

    /// The direct kernel for small windows into few channels (`fk_conv_small_rows`: up to 128 taps, 32 output channels,
    /// AVX-512; the product path elsewhere): images wide enough for its 8-pixel blocks and their edges, rows split
    /// across the worker pool, channel counts below, at and between the vector widths, bias or none, ReLU, PReLU.
    func testSmallConvolutionMatchesNaive() throws {
        for level in try levels() {
            try withLevel(level) {
                var rng = SplitMix64(seed: 33)
                for trial in 0..<40 {
                    let h = [9, 17, 40, 96].randomElement(using: &rng)!, w = [8, 19, 41, 96].randomElement(using: &rng)!
                    let cin = [1, 3, 4].randomElement(using: &rng)!, k = [1, 3, 5].randomElement(using: &rng)!
                    let stride = k == 1 ? 2 : Int.random(in: 1...2, using: &rng)
                    let cout = [1, 8, 16, 17, 24, 32].randomElement(using: &rng)!
                    let padding = paddings.randomElement(using: &rng)!
                    let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
                    guard g.outH > 0, g.outW > 0 else { continue }
                    let x = random([1, h, w, cin], &rng), f = random([cout, k, k, cin], &rng), b = random([cout], &rng)
                    let alpha = random([cout], &rng)
                    let mode = trial % 4   // 0 plain, 1 ReLU, 2 PReLU, 3 no bias
                    let conv = ReferenceKernels.conv2d(x, filter: f, bias: mode == 3 ? nil : b, strideH: stride, strideW: stride, padding: padding)
                    let expected = conv.data.enumerated().map { i, v -> Float in
                        mode == 1 ? max(v, 0) : mode == 2 && v < 0 ? v * alpha.data[i % cout] : v
                    }
                    var out = [Float](repeating: .nan, count: conv.count)
                    var scratch: [Float] = []
                    x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                        alpha.data.withUnsafeBufferPointer { ap in
                            out.withUnsafeMutableBufferPointer { op in
                                Kernels.conv2d(input: xp.baseAddress!, batch: 1, channels: cin, geometry: g, filter: fp.baseAddress!,
                                               outChannels: cout, bias: mode == 3 ? nil : bp.baseAddress!,
                                               epilogue: ConvEpilogue(relu: mode == 1, preluAlpha: mode == 2 ? ap.baseAddress : nil),
                                               output: op.baseAddress!, scratch: &scratch)
                            }
                        }
                    } } }
                    let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertFalse(out.contains { $0.isNaN }, "\(level) trial \(trial): outputs left unwritten")
                    XCTAssertLessThan(worst, 2e-4, "\(level) trial \(trial): conv \(k)x\(k)/\(stride) \(padding) \([h, w, cin]) -> \(cout), mode \(mode)")
                }
            }
        }
    }

    /// Large enough that rows are split across the worker pool (and across micro-tile boundaries).
    func testPackedPointwiseAcrossThreads() throws {
        for level in try levels() {
            try withLevel(level) {
                var rng = SplitMix64(seed: 32)
                for (h, cin, cout) in [(37, 24, 40), (29, 64, 17), (48, 32, 96)] {
                    let x = random([1, h, h, cin], &rng), f = random([cout, 1, 1, cin], &rng), b = random([cout], &rng)
                    let expected = ReferenceKernels.conv2d(x, filter: f, bias: b, strideH: 1, strideW: 1, padding: .same)
                    let g = WindowGeometry(inH: h, inW: h, kH: 1, kW: 1, strideH: 1, strideW: 1, padding: .same)
                    var out = Tensor(zeros: expected.shape)
                    var scratch: [Float] = []
                    x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                        out.data.withUnsafeMutableBufferPointer { op in
                            Kernels.conv2d(input: xp.baseAddress!, batch: 1, channels: cin, geometry: g, filter: fp.baseAddress!, outChannels: cout,
                                           bias: bp.baseAddress!, output: op.baseAddress!, scratch: &scratch)
                        }
                    } } }
                    XCTAssertLessThan(out.maxAbsDifference(expected), 2e-4, "\(level) pointwise \(h)x\(h)x\(cin) -> \(cout)")
                }
            }
        }
    }

    /// Depthwise 3×3 and 5×5 (register-tiled copies) and other window sizes (generic copy), strides 1–3,
    /// channel counts on and off the vector width, output rows wide enough for the four-pixel tiles and their tails.
    func testDepthwiseMatchesNaive() throws {
        for level in try levels() {
            try withLevel(level) {
                var rng = SplitMix64(seed: 33)
                for trial in 0..<60 {
                    let n = Int.random(in: 1...2, using: &rng), h = Int.random(in: 1...14, using: &rng), w = Int.random(in: 1...19, using: &rng)
                    let c = [1, 3, 7, 8, 9, 15, 16, 17, 24, 32, 33, 40].randomElement(using: &rng)!
                    let k = [3, 3, 5, 5, 1, 2, 4].randomElement(using: &rng)!, stride = Int.random(in: 1...3, using: &rng)
                    let padding = paddings.randomElement(using: &rng)!
                    let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
                    guard g.outH > 0, g.outW > 0 else { continue }
                    let x = random([n, h, w, c], &rng), f = random([1, k, k, c], &rng), b = random([c], &rng)
                    let useBias = trial % 5 != 0
                    let expected = ReferenceKernels.depthwiseConv2d(x, filter: f, bias: useBias ? b : nil, strideH: stride, strideW: stride, padding: padding)
                    var out = Tensor(zeros: expected.shape)
                    x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                        out.data.withUnsafeMutableBufferPointer { op in
                            Kernels.depthwiseConv2d(input: xp.baseAddress!, batch: n, channels: c, geometry: g, filter: fp.baseAddress!,
                                                    bias: useBias ? bp.baseAddress! : nil, output: op.baseAddress!)
                        }
                    } } }
                    XCTAssertLessThan(out.maxAbsDifference(expected), 1e-4, "\(level) trial \(trial): depthwise \(k)x\(k)/\(stride) \(padding) \([n, h, w, c])")
                }
                // A layer large enough to be split across the pool, as in FaceMesh (96×96×16, 3×3).
                let x = random([1, 96, 96, 16], &rng), f = random([1, 3, 3, 16], &rng), b = random([16], &rng)
                let expected = ReferenceKernels.depthwiseConv2d(x, filter: f, bias: b, strideH: 1, strideW: 1, padding: .same)
                let g = WindowGeometry(inH: 96, inW: 96, kH: 3, kW: 3, strideH: 1, strideW: 1, padding: .same)
                var out = Tensor(zeros: expected.shape)
                x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                    out.data.withUnsafeMutableBufferPointer { op in
                        Kernels.depthwiseConv2d(input: xp.baseAddress!, batch: 1, channels: 16, geometry: g, filter: fp.baseAddress!,
                                                bias: bp.baseAddress!, output: op.baseAddress!)
                    }
                } } }
                XCTAssertLessThan(out.maxAbsDifference(expected), 1e-4, "\(level) depthwise 96x96x16")
            }
        }
    }

    /// Depthwise then 1×1 convolution block by block equals the two naive layers one after the other, with the
    /// pointwise layer's residual and ReLU / PReLU, across strides, paddings and channel counts.
    func testDepthwiseThenPointwiseMatchesNaive() throws {
        for level in try levels() {
            try withLevel(level) {
                var rng = SplitMix64(seed: 34)
                for trial in 0..<40 {
                    let n = Int.random(in: 1...2, using: &rng), h = Int.random(in: 1...17, using: &rng), w = Int.random(in: 1...17, using: &rng)
                    let c = [1, 3, 8, 16, 17, 24, 33].randomElement(using: &rng)!, cout = [1, 5, 8, 16, 19, 32, 40].randomElement(using: &rng)!
                    let k = [3, 5, 2].randomElement(using: &rng)!, stride = Int.random(in: 1...2, using: &rng)
                    let padding = paddings.randomElement(using: &rng)!
                    let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
                    guard g.outH > 0, g.outW > 0 else { continue }
                    let x = random([n, h, w, c], &rng), dwf = random([1, k, k, c], &rng), dwb = random([c], &rng)
                    let pwf = random([cout, 1, 1, c], &rng), pwb = random([cout], &rng)
                    let mode = trial % 4   // 0 plain, 1 residual + ReLU, 2 PReLU, 3 narrower residual + ReLU
                    let rc = mode == 3 ? max(1, cout / 3) : cout
                    let residual = random([n, g.outH, g.outW, rc], &rng), alpha = random([cout], &rng)
                    let mid = ReferenceKernels.depthwiseConv2d(x, filter: dwf, bias: dwb, strideH: stride, strideW: stride, padding: padding)
                    let conv = ReferenceKernels.conv2d(mid, filter: pwf, bias: pwb, strideH: 1, strideW: 1, padding: .same)
                    let padded = Tensor(shape: conv.shape, data: (0..<conv.count).map { i in i % cout < rc ? residual.data[i / cout * rc + i % cout] : 0 })
                    let sum = mode == 1 || mode == 3 ? ReferenceKernels.add(conv, padded) : conv
                    let expected = sum.data.enumerated().map { i, v -> Float in
                        mode == 1 || mode == 3 ? max(v, 0) : (mode == 2 && v < 0 ? v * alpha.data[i % cout] : v)
                    }
                    var between = [Float](repeating: .nan, count: mid.count), out = [Float](repeating: .nan, count: sum.count)
                    let packed = PackedConvFilter(filter: pwf.data, outChannels: cout, depth: c)
                    var done = false
                    x.data.withUnsafeBufferPointer { xp in dwf.data.withUnsafeBufferPointer { fp in dwb.data.withUnsafeBufferPointer { bp in
                        pwb.data.withUnsafeBufferPointer { pb in residual.data.withUnsafeBufferPointer { rp in alpha.data.withUnsafeBufferPointer { ap in
                            between.withUnsafeMutableBufferPointer { mp in out.withUnsafeMutableBufferPointer { op in
                                let epilogue = ConvEpilogue(residual: mode == 1 || mode == 3 ? rp.baseAddress : nil, relu: mode == 1 || mode == 3,
                                                            preluAlpha: mode == 2 ? ap.baseAddress : nil, residualChannels: rc)
                                done = Kernels.depthwiseThenPointwise(input: xp.baseAddress!, batch: n, channels: c, geometry: g,
                                                                      depthwiseFilter: fp.baseAddress!, depthwiseBias: bp.baseAddress!,
                                                                      intermediate: mp.baseAddress!, packed: packed, bias: pb.baseAddress!,
                                                                      epilogue: epilogue, output: op.baseAddress!)
                            } }
                        } } }
                    } } }
                    XCTAssertTrue(done, "\(level) trial \(trial): the fused kernel refused \(g)")
                    // `between` is scratch for the blocks of depthwise rows: only the output is defined.
                    XCTAssertFalse(out.contains { $0.isNaN }, "\(level) trial \(trial): values left unwritten")
                    let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(worst, 2e-4, "\(level) trial \(trial): dw \(k)x\(k)/\(stride) \(padding) \([n, h, w, c]) -> \(cout), mode \(mode)")
                }
            }
        }
    }

    /// Max pooling by the C kernel (AVX2 and AVX-512) and the portable code against the naive twin: exact, over
    /// channel counts on and off the vector widths, windows 1-3, strides 1-2, both paddings, and maps large enough that
    /// rows are split across the worker pool.
    func testMaxPoolMatchesNaiveOnEveryPath() throws {
        for level in [.portable] + (try levels()) {
            try withLevel(level) {
                var rng = SplitMix64(seed: 41)
                for trial in 0..<40 {
                    let n = Int.random(in: 1...2, using: &rng)
                    let h = trial % 4 == 0 ? 96 : Int.random(in: 2...19, using: &rng), w = trial % 4 == 0 ? 96 : Int.random(in: 2...19, using: &rng)
                    let c = [1, 3, 8, 15, 16, 17, 31, 33, 40].randomElement(using: &rng)!
                    let k = Int.random(in: 1...3, using: &rng), stride = Int.random(in: 1...2, using: &rng)
                    let padding = [Padding.same, .valid].randomElement(using: &rng)!
                    let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
                    guard g.outH > 0, g.outW > 0 else { continue }
                    let x = random([n, h, w, c], &rng)
                    let expected = ReferenceKernels.pool(x, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding, average: false)
                    var out = [Float](repeating: .nan, count: expected.count)
                    x.data.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
                        Kernels.maxPool(input: xp.baseAddress!, batch: n, channels: c, geometry: g, output: op.baseAddress!)
                    } }
                    XCTAssertEqual(out, expected.data, "\(level) trial \(trial): max pool \(k)/\(stride) \(padding) \([n, h, w, c])")
                }
            }
        }
    }

    /// Convolutions with fewer output pixels than cores (FaceMesh's 1×1×1404 head) split the output channels across
    /// the pool in 16-column panels: each panel's bias, residual (full or narrower than the output) and activation
    /// must still land on its own columns.
    func testConvolutionWithFewPixelsSplitsColumns() throws {
        for level in try levels() {
            try withLevel(level) {
                var rng = SplitMix64(seed: 42)
                for trial in 0..<24 {
                    let side = Int.random(in: 1...4, using: &rng), cin = [3, 8, 32].randomElement(using: &rng)!
                    let cout = [32, 33, 48, 70, 1404].randomElement(using: &rng)!
                    let g = WindowGeometry(inH: side, inW: side, kH: side, kW: side, strideH: 1, strideW: 1, padding: .valid)
                    let x = random([1, side, side, cin], &rng), f = random([cout, side, side, cin], &rng), b = random([cout], &rng)
                    let mode = trial % 4   // 0 plain, 1 residual + ReLU, 2 residual + PReLU, 3 narrower residual + ReLU
                    let rc = mode == 3 ? 20 : cout
                    let residual = random([1, 1, 1, rc], &rng), alpha = random([cout], &rng)
                    let conv = ReferenceKernels.conv2d(x, filter: f, bias: b, strideH: 1, strideW: 1, padding: .valid)
                    let expected = conv.data.enumerated().map { i, v -> Float in
                        let r = mode == 0 ? v : v + (i < rc ? residual.data[i] : 0)
                        switch mode {
                        case 1, 3: return max(r, 0)
                        case 2: return r >= 0 ? r : r * alpha.data[i]
                        default: return r
                        }
                    }
                    var out = [Float](repeating: .nan, count: cout)
                    var scratch: [Float] = []
                    let packed = PackedConvFilter(filter: f.data, outChannels: cout, depth: side * side * cin)
                    x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                        residual.data.withUnsafeBufferPointer { rp in alpha.data.withUnsafeBufferPointer { ap in
                            out.withUnsafeMutableBufferPointer { op in
                                let epilogue = ConvEpilogue(residual: mode == 0 ? nil : rp.baseAddress, relu: mode == 1 || mode == 3,
                                                            preluAlpha: mode == 2 ? ap.baseAddress : nil, residualChannels: mode == 3 ? rc : 0)
                                Kernels.conv2d(input: xp.baseAddress!, batch: 1, channels: cin, geometry: g, filter: fp.baseAddress!,
                                               outChannels: cout, bias: bp.baseAddress!, epilogue: epilogue, packed: packed,
                                               output: op.baseAddress!, scratch: &scratch)
                            }
                        } }
                    } } }
                    XCTAssertFalse(out.contains { $0.isNaN }, "\(level) trial \(trial): outputs left unwritten")
                    let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(worst, 2e-4, "\(level) trial \(trial): conv \(side)x\(side) \(cin) -> \(cout), mode \(mode)")
                }
            }
        }
    }

    /// The C sampler (FastSampling) against Media's `Bilinear` written out as `ImageSampling.affineCrop` and
    /// `FaceAlignment.crop` write it: equal bit for bit, on both map orders, both borders, bytes and floats (rounded
    /// or not), images from 1x1 up, maps that shrink, enlarge, rotate, mirror and reach far outside the image
    /// (the last pixel's bytes included: the vector path must not read past the image), and NaN coordinates.
    func testAffineSamplerEqualsBilinearOnBothPaths() throws {
        var rng = SplitMix64(seed: 0x5A_3917)
        let sizes = [(1, 1), (2, 3), (7, 5), (33, 17), (64, 64), (129, 70)]
        for level in try levels() {
            for (w, h) in sizes {
                let pixels = (0..<(w * h * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                for trial in 0..<12 {
                    let outWidth = [1, 3, 8, 13, 31][trial % 5], rows = 1 + Int(rng.next() % 9)
                    func unit() -> Double { Double(rng.next() % 10_000) / 10_000 }
                    let angle = unit() * 2 * .pi, scale = 0.2 + unit() * 3 * (trial % 3 == 0 ? -1 : 1)
                    var map = SamplingMap(a: scale * cos(angle), b: -scale * sin(angle), tx: (unit() - 0.3) * Double(w) * 1.6,
                                          c: scale * sin(angle), d: scale * cos(angle), ty: (unit() - 0.3) * Double(h) * 1.6,
                                          originFirst: trial % 2 == 0)
                    if trial == 11 { map.tx = .nan }
                    if trial == 10 { map.a = 1e300; map.ty = -1e300 }
                    let zero = trial % 4 == 1
                    func point(_ u: Int, _ v: Int) -> (Double, Double) {
                        let cu = Double(u) + 0.5, cv = Double(v) + 0.5
                        return map.originFirst ? (map.tx + cu * map.a + cv * map.b, map.ty + cu * map.c + cv * map.d)
                            : (map.a * cu + map.b * cv + map.tx, map.c * cu + map.d * cv + map.ty)
                    }
                    var expectedBytes = [UInt8](repeating: 0, count: rows * outWidth * 3)
                    var expectedFloats = [Float](repeating: 0, count: rows * outWidth * 3)
                    let (scaleF, offsetF, round) = (Float(0.0078125), Float(-1), trial % 3 != 2)
                    pixels.withUnsafeBufferPointer { src in
                        for v in 0..<rows {
                            for u in 0..<outWidth {
                                let (x, y) = point(u, v)
                                let rgb = Bilinear.rgb(src.baseAddress!, width: w, height: h, x: x, y: y, border: zero ? .zero : .replicate)
                                let o = (v * outWidth + u) * 3
                                for (ch, value) in [rgb.0, rgb.1, rgb.2].enumerated() {
                                    expectedBytes[o + ch] = Bilinear.byte(value)
                                    expectedFloats[o + ch] = (round ? Float((value + 0.5).rounded(.down)) : Float(value)) * scaleF + offsetF
                                }
                            }
                        }
                    }
                    var bytes = [UInt8](repeating: 7, count: rows * outWidth * 3)
                    var floats = [Float](repeating: 7, count: rows * outWidth * 3)
                    withLevel(level) {
                        pixels.withUnsafeBufferPointer { src in
                            bytes.withUnsafeMutableBufferPointer { out in
                                XCTAssertTrue(FastSampling.affineRGB(src.baseAddress!, width: w, height: h, outWidth: outWidth, map: map,
                                                                     zeroBorder: zero, target: .bytes(out.baseAddress!), rows: 0..<rows))
                            }
                            floats.withUnsafeMutableBufferPointer { out in
                                // In two row ranges, as the callers split rows across cores.
                                for part in [0..<(rows / 2), (rows / 2)..<rows] {
                                    XCTAssertTrue(FastSampling.affineRGB(src.baseAddress!, width: w, height: h, outWidth: outWidth, map: map,
                                                                         zeroBorder: zero, target: .floats(out.baseAddress!, scale: scaleF,
                                                                                                           offset: offsetF, round: round),
                                                                         rows: part))
                                }
                            }
                        }
                    }
                    let what = "\(level) \(w)x\(h) trial \(trial) (\(outWidth)x\(rows), zero border \(zero))"
                    XCTAssertEqual(bytes, expectedBytes, "bytes, \(what)")
                    XCTAssertEqual(floats.map(\.bitPattern), expectedFloats.map(\.bitPattern), "floats, \(what)")
                }
            }
        }
        // Off: nothing written, the caller's Swift loop runs.
        withLevel(.portable) {
            var out = [UInt8](repeating: 0, count: 3)
            let done = [UInt8](repeating: 9, count: 3).withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { o in
                    FastSampling.affineRGB(src.baseAddress!, width: 1, height: 1, outWidth: 1, map: SamplingMap(a: 1, b: 0, tx: 0, c: 0, d: 1, ty: 0,
                                                                                                                originFirst: true),
                                           zeroBorder: false, target: .bytes(o.baseAddress!), rows: 0..<1)
                }
            }
            XCTAssertFalse(done)
            XCTAssertEqual(out, [0, 0, 0])
        }
    }
}
