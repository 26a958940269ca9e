import Foundation
import Tensor
import XCTest

/// Fast kernels against their naive Double twins, on seeded random inputs and shapes.
final class TensorKernelTests: XCTestCase {
    private func random(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    private func assertClose(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-4, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
        guard a.shape == b.shape else { return }
        XCTAssertLessThan(a.maxAbsDifference(b), tolerance, message, file: file, line: line)
    }

    private let paddings: [Padding] = [.same, .valid, .explicit(top: 1, bottom: 2, left: 0, right: 1)]

    func testConv2dMatchesNaive() {
        var rng = SplitMix64(seed: 11)
        for trial in 0..<40 {
            let n = Int.random(in: 1...2, using: &rng), h = Int.random(in: 3...11, using: &rng), w = Int.random(in: 3...11, using: &rng)
            let cin = Int.random(in: 1...5, using: &rng), cout = Int.random(in: 1...6, using: &rng)
            let k = [1, 2, 3, 5].randomElement(using: &rng)!, stride = Int.random(in: 1...3, using: &rng)
            let padding = paddings.randomElement(using: &rng)!
            let x = random([n, h, w, cin], &rng), f = random([cout, k, k, cin], &rng), b = random([cout], &rng)
            let expected = ReferenceKernels.conv2d(x, filter: f, bias: b, strideH: stride, strideW: stride, padding: padding)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            guard g.outH > 0, g.outW > 0 else { continue }
            var out = Tensor(zeros: [n, g.outH, g.outW, cout])
            var scratch: [Float] = []
            x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                out.data.withUnsafeMutableBufferPointer { op in
                    Kernels.conv2d(input: xp.baseAddress!, batch: n, channels: cin, geometry: g, filter: fp.baseAddress!, outChannels: cout,
                                   bias: bp.baseAddress!, output: op.baseAddress!, scratch: &scratch)
                }
            } } }
            assertClose(out, expected, "trial \(trial): conv \(k)x\(k)/\(stride) \(padding) on \([n, h, w, cin]) -> \(cout)")
        }
    }

    func testSamePaddingFollowsTensorFlow() {
        // 5x5 stride 2 on 128: pad 1 before, 2 after; 3x3 stride 2 on an even size: 0 before, 1 after.
        let a = WindowGeometry(inH: 128, inW: 128, kH: 5, kW: 5, strideH: 2, strideW: 2, padding: .same)
        XCTAssertEqual([a.outH, a.padTop], [64, 1])
        let b = WindowGeometry(inH: 64, inW: 64, kH: 3, kW: 3, strideH: 2, strideW: 2, padding: .same)
        XCTAssertEqual([b.outH, b.padTop], [32, 0])
    }

    func testDepthwiseMatchesNaive() {
        var rng = SplitMix64(seed: 12)
        for trial in 0..<30 {
            let n = Int.random(in: 1...2, using: &rng), h = Int.random(in: 3...10, using: &rng), w = Int.random(in: 3...10, using: &rng)
            let c = Int.random(in: 1...9, using: &rng), k = [1, 3, 5].randomElement(using: &rng)!, stride = Int.random(in: 1...2, using: &rng)
            let padding = paddings.randomElement(using: &rng)!
            let x = random([n, h, w, c], &rng), f = random([1, k, k, c], &rng), b = random([c], &rng)
            let expected = ReferenceKernels.depthwiseConv2d(x, filter: f, bias: b, strideH: stride, strideW: stride, padding: padding)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            guard g.outH > 0, g.outW > 0 else { continue }
            var out = Tensor(zeros: expected.shape)
            x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                out.data.withUnsafeMutableBufferPointer { op in
                    Kernels.depthwiseConv2d(input: xp.baseAddress!, batch: n, channels: c, geometry: g, filter: fp.baseAddress!,
                                            bias: bp.baseAddress!, output: op.baseAddress!)
                }
            } } }
            assertClose(out, expected, "trial \(trial): depthwise \(k)x\(k)/\(stride) \(padding)")
        }
    }

    func testPoolingMatchesNaive() {
        var rng = SplitMix64(seed: 13)
        for trial in 0..<30 {
            let h = Int.random(in: 2...9, using: &rng), w = Int.random(in: 2...9, using: &rng), c = Int.random(in: 1...4, using: &rng)
            let k = Int.random(in: 1...3, using: &rng), stride = Int.random(in: 1...2, using: &rng)
            let padding = [Padding.same, .valid].randomElement(using: &rng)!
            let average = Bool.random(using: &rng)
            let x = random([2, h, w, c], &rng)
            let expected = ReferenceKernels.pool(x, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding, average: average)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            guard g.outH > 0, g.outW > 0 else { continue }
            var out = Tensor(zeros: expected.shape)
            x.data.withUnsafeBufferPointer { xp in out.data.withUnsafeMutableBufferPointer { op in
                if average {
                    Kernels.averagePool(input: xp.baseAddress!, batch: 2, channels: c, geometry: g, output: op.baseAddress!)
                } else {
                    Kernels.maxPool(input: xp.baseAddress!, batch: 2, channels: c, geometry: g, output: op.baseAddress!)
                }
            } }
            assertClose(out, expected, tolerance: 1e-5, "trial \(trial): \(average ? "avg" : "max") pool \(k)/\(stride) \(padding)")
        }
    }

    func testBroadcastAddMatchesNaive() {
        var rng = SplitMix64(seed: 14)
        let shapes: [([Int], [Int])] = [([2, 3, 4, 5], [2, 3, 4, 5]), ([2, 3, 4, 5], [5]), ([2, 3, 4, 5], [1, 1, 1, 5]),
                                         ([2, 3, 4, 5], [1, 3, 1, 1]), ([1, 4, 4, 2], [1])]
        for (sa, sb) in shapes {
            let a = random(sa, &rng), b = random(sb, &rng)
            var out = Tensor(zeros: sa)
            a.data.withUnsafeBufferPointer { ap in b.data.withUnsafeBufferPointer { bp in out.data.withUnsafeMutableBufferPointer { op in
                Kernels.add(ap.baseAddress!, shapeA: sa, bp.baseAddress!, shapeB: sb, output: op.baseAddress!)
            } } }
            assertClose(out, ReferenceKernels.add(a, b), tolerance: 1e-6, "add \(sa) + \(sb)")
        }
    }

    func testFullyConnectedMatchesNaive() {
        var rng = SplitMix64(seed: 15)
        for _ in 0..<10 {
            let n = Int.random(in: 1...4, using: &rng), i = Int.random(in: 1...40, using: &rng), o = Int.random(in: 1...20, using: &rng)
            let x = random([n, i], &rng), w = random([o, i], &rng), b = random([o], &rng)
            var out = Tensor(zeros: [n, o])
            x.data.withUnsafeBufferPointer { xp in w.data.withUnsafeBufferPointer { wp in b.data.withUnsafeBufferPointer { bp in
                out.data.withUnsafeMutableBufferPointer { op in
                    Kernels.fullyConnected(input: xp.baseAddress!, batch: n, inputs: i, weights: wp.baseAddress!, outputs: o,
                                           weightsOutIn: true, bias: bp.baseAddress!, output: op.baseAddress!)
                }
            } } }
            assertClose(out, ReferenceKernels.fullyConnected(x, weights: w, bias: b), "fc \(n)x\(i)->\(o)")
        }
    }

    func testResizeBilinearMatchesNaive() {
        var rng = SplitMix64(seed: 16)
        for _ in 0..<20 {
            let h = Int.random(in: 1...8, using: &rng), w = Int.random(in: 1...8, using: &rng), c = Int.random(in: 1...3, using: &rng)
            let oh = Int.random(in: 1...17, using: &rng), ow = Int.random(in: 1...17, using: &rng)
            let align = Bool.random(using: &rng), half = align ? false : Bool.random(using: &rng)
            let x = random([1, h, w, c], &rng)
            var out = Tensor(zeros: [1, oh, ow, c])
            x.data.withUnsafeBufferPointer { xp in out.data.withUnsafeMutableBufferPointer { op in
                Kernels.resizeBilinear(xp.baseAddress!, batch: 1, inH: h, inW: w, channels: c, outH: oh, outW: ow,
                                       alignCorners: align, halfPixelCenters: half, output: op.baseAddress!)
            } }
            let expected = ReferenceKernels.resizeBilinear(x, outH: oh, outW: ow, alignCorners: align, halfPixelCenters: half)
            assertClose(out, expected, tolerance: 1e-5, "resize \(h)x\(w) -> \(oh)x\(ow) align \(align) half \(half)")
        }
    }

    func testPadAndConcat() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        var padded = Tensor(zeros: [1, 1, 2, 5])
        x.data.withUnsafeBufferPointer { xp in padded.data.withUnsafeMutableBufferPointer { op in
            Kernels.pad(xp.baseAddress!, shape: [1, 1, 2, 2], before: [0, 0, 0, 1], after: [0, 0, 0, 2], output: op.baseAddress!)
        } }
        XCTAssertEqual(padded.data, [0, 1, 2, 0, 0, 0, 3, 4, 0, 0])
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6]
        var out = [Float](repeating: 0, count: 6)
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { op in
            Kernels.concat([(ap.baseAddress!, [1, 2, 2]), (bp.baseAddress!, [1, 1, 2])], axis: 1, output: op.baseAddress!)
        } } }
        XCTAssertEqual(out, [1, 2, 3, 4, 5, 6])
    }

    func testFusedActivationsMatchNaive() {
        var rng = SplitMix64(seed: 17)
        for _ in 0..<10 {
            let c = Int.random(in: 1...40, using: &rng), pixels = Int.random(in: 1...30, using: &rng)
            let a = random([1, 1, pixels, c], &rng), b = random([1, 1, pixels, c], &rng), alpha = random([c], &rng)
            let sum = ReferenceKernels.add(a, b)
            let expectedPReLU = sum.data.enumerated().map { i, v in v < 0 ? v * alpha.data[i % c] : v }
            let expectedReLU = sum.data.map { max($0, 0) }
            var prelu = [Float](repeating: 0, count: a.count), relu = [Float](repeating: 0, count: a.count)
            a.data.withUnsafeBufferPointer { ap in b.data.withUnsafeBufferPointer { bp in alpha.data.withUnsafeBufferPointer { al in
                prelu.withUnsafeMutableBufferPointer { out in
                    Kernels.addPReLU(ap.baseAddress!, bp.baseAddress!, alpha: al.baseAddress!, channels: c, count: a.count, output: out.baseAddress!)
                }
                relu.withUnsafeMutableBufferPointer { out in
                    Kernels.add(ap.baseAddress!, shapeA: a.shape, bp.baseAddress!, shapeB: b.shape, output: out.baseAddress!, relu: true)
                }
            } } }
            XCTAssertLessThan(zip(prelu, expectedPReLU).map { abs($0 - $1) }.max() ?? 0, 1e-6, "add+prelu, \(c) channels")
            XCTAssertLessThan(zip(relu, expectedReLU).map { abs($0 - $1) }.max() ?? 0, 1e-6, "add+relu, \(c) channels")
        }
    }

    /// The worker pool under nested and concurrent use: every element written exactly once.
    func testParallelRangesCoverEverythingOnce() {
        for count in [1, 2, 3, 17, 1000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { buffer in
                let base = buffer.baseAddress!
                nonisolated(unsafe) let p = base
                Parallel.ranges(count, work: 10_000_000, threshold: 1) { range in
                    for i in range { p[i] += 1 }
                }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: count), "count \(count)")
        }
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            var local = [Int](repeating: 0, count: 500)
            local.withUnsafeMutableBufferPointer { buffer in
                nonisolated(unsafe) let p = buffer.baseAddress!
                Parallel.ranges(500, work: 10_000_000, threshold: 1) { range in for i in range { p[i] += 1 } }
            }
            XCTAssertEqual(local, [Int](repeating: 1, count: 500))
        }
    }

    /// conv2d with a residual and ReLU / PReLU folded in equals conv, add, activation done one by one.
    func testConvEpilogueMatchesNaive() {
        var rng = SplitMix64(seed: 18)
        for trial in 0..<12 {
            let h = Int.random(in: 3...9, using: &rng), w = Int.random(in: 3...9, using: &rng)
            let cin = Int.random(in: 1...6, using: &rng), cout = Int.random(in: 1...19, using: &rng)
            let k = [1, 3].randomElement(using: &rng)!
            let x = random([1, h, w, cin], &rng), f = random([cout, k, k, cin], &rng), b = random([cout], &rng)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: 1, strideW: 1, padding: .same)
            let residual = random([1, g.outH, g.outW, cout], &rng), alpha = random([cout], &rng)
            let sum = ReferenceKernels.add(ReferenceKernels.conv2d(x, filter: f, bias: b, strideH: 1, strideW: 1, padding: .same), residual)
            let usePReLU = trial % 2 == 0
            let expected = sum.data.enumerated().map { i, v in v >= 0 ? v : (usePReLU ? v * alpha.data[i % cout] : 0) }
            var out = [Float](repeating: 0, count: sum.count)
            var scratch: [Float] = []
            x.data.withUnsafeBufferPointer { xp in f.data.withUnsafeBufferPointer { fp in b.data.withUnsafeBufferPointer { bp in
                residual.data.withUnsafeBufferPointer { rp in alpha.data.withUnsafeBufferPointer { ap in
                    out.withUnsafeMutableBufferPointer { op in
                        let epilogue = ConvEpilogue(residual: rp.baseAddress, relu: !usePReLU, preluAlpha: usePReLU ? ap.baseAddress : nil)
                        Kernels.conv2d(input: xp.baseAddress!, batch: 1, channels: cin, geometry: g, filter: fp.baseAddress!, outChannels: cout,
                                       bias: bp.baseAddress!, epilogue: epilogue, output: op.baseAddress!, scratch: &scratch)
                    }
                } }
            } } }
            XCTAssertLessThan(zip(out, expected).map { abs($0 - $1) }.max() ?? 0, 1e-4, "trial \(trial) \(usePReLU ? "prelu" : "relu")")
        }
    }
}
