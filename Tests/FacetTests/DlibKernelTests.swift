import Tensor
import XCTest

/// The kernels added for dlib's ResNet against their naive Double twins, on seeded random inputs.
final class DlibKernelTests: XCTestCase {
    private func random(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    func testBatchedConvolutionMatchesNaive() {
        var rng = SplitMix64(seed: 21)
        // (k, stride, pad, cin): dlib's stem, its 3×3 convolutions, a pointwise one and random ones.
        var cases: [(Int, Int, Int, Int)] = [(7, 2, 0, 3), (3, 1, 1, 8), (3, 2, 0, 8), (1, 1, 0, 5), (3, 1, 2, 2)]
        for _ in 0..<20 {
            cases.append((Int.random(in: 1...5, using: &rng), Int.random(in: 1...3, using: &rng), Int.random(in: 0...2, using: &rng),
                          Int.random(in: 1...6, using: &rng)))
        }
        for (k, stride, pad, cin) in cases {
            let n = Int.random(in: 1...3, using: &rng), h = Int.random(in: k...12, using: &rng), w = Int.random(in: k...12, using: &rng)
            let cout = Int.random(in: 1...7, using: &rng)
            let padding = Padding.explicit(top: pad, bottom: pad, left: pad, right: pad)
            let x = random([n, h, w, cin], &rng), f = random([cout, k, k, cin], &rng)
            let expected = ReferenceKernels.conv2d(x, filter: f, bias: nil, strideH: stride, strideW: stride, padding: padding)
            let g = WindowGeometry(inH: h, inW: w, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            var out = Tensor(zeros: [n, g.outH, g.outW, cout])
            var scratch: [Float] = []
            x.data.withUnsafeBufferPointer { xp in
                f.data.withUnsafeBufferPointer { fp in
                    out.data.withUnsafeMutableBufferPointer { op in
                        Kernels.conv2dBatched(input: xp.baseAddress!, batch: n, channels: cin, geometry: g, filter: fp.baseAddress!,
                                              outChannels: cout, output: op.baseAddress!, scratch: &scratch)
                    }
                }
            }
            XCTAssertEqual(out.shape, expected.shape)
            XCTAssertLessThan(out.maxAbsDifference(expected), 1e-4, "k \(k) stride \(stride) pad \(pad) cin \(cin) batch \(n)")
            XCTAssertLessThanOrEqual(scratch.count, Kernels.conv2dBatchedScratchCount(batch: n, channels: cin, geometry: g))
        }
    }

    func testChannelAffineMatchesNaive() {
        var rng = SplitMix64(seed: 22)
        for relu in [false, true] {
            let x = random([2, 3, 4, 5], &rng)
            let bias = random([5], &rng).data, scale = random([5], &rng).data, shift = random([5], &rng).data
            let expected = ReferenceKernels.channelAffine(x, bias: bias, scale: scale, shift: shift, relu: relu)
            var out = x
            out.data.withUnsafeMutableBufferPointer { op in
                Kernels.channelAffine(op.baseAddress!, rows: 24, channels: 5, bias: bias, scale: scale, shift: shift, relu: relu)
            }
            XCTAssertLessThan(out.maxAbsDifference(expected), 1e-6)
        }
    }

    func testZeroPaddedAddMatchesNaive() {
        var rng = SplitMix64(seed: 23)
        // dlib's cases (block 64 channels + pooled 32; 3×3 block + 4×4 pooled skip; 1×1 + 2×2) and random ones.
        var cases: [([Int], [Int])] = [([2, 5, 5, 8], [2, 5, 5, 4]), ([1, 3, 3, 8], [1, 4, 4, 4]), ([2, 1, 1, 6], [2, 2, 2, 6]),
                                       ([1, 4, 4, 3], [1, 4, 4, 3])]
        for _ in 0..<10 {
            let n = Int.random(in: 1...2, using: &rng)
            cases.append(([n] + (0..<3).map { _ in Int.random(in: 1...5, using: &rng) }, [n] + (0..<3).map { _ in Int.random(in: 1...5, using: &rng) }))
        }
        for (sa, sb) in cases {
            for relu in [false, true] {
                let a = random(sa, &rng), b = random(sb, &rng)
                let expected = ReferenceKernels.addZeroPadded(a, b, relu: relu)
                var out = Tensor(zeros: expected.shape)
                a.data.withUnsafeBufferPointer { ap in
                    b.data.withUnsafeBufferPointer { bp in
                        out.data.withUnsafeMutableBufferPointer { op in
                            Kernels.addZeroPadded(ap.baseAddress!, shapeA: sa, bp.baseAddress!, shapeB: sb, output: op.baseAddress!, relu: relu)
                        }
                    }
                }
                XCTAssertLessThan(out.maxAbsDifference(expected), 1e-6, "\(sa) + \(sb) relu \(relu)")
            }
        }
    }
}
