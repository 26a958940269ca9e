import CKernels
import Foundation
import Synchronization

/// Instruction-set paths of the C micro-kernels (CKernels), best first in raw value.
public enum KernelLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// Swift SIMD code only (OpenBLAS for products): any CPU.
    case portable = 0
    /// AVX2 + FMA, 8-float registers.
    case avx2 = 1
    /// AVX-512 (F, VL, DQ, BW), 16-float registers with masked tails.
    case avx512 = 2

    public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String { ["portable", "avx2", "avx512"][rawValue] }
}

/// Chooses the kernel path at run time: the best the CPU has, capped by `FACET_KERNELS=portable|avx2|avx512`.
/// Tests set `level` to run every path this machine supports against the naive kernels.
public enum FastKernels {
    /// The best level this CPU supports.
    public static let supported: KernelLevel = KernelLevel(rawValue: Int(fk_cpu_level())) ?? .portable

    private static let current = Atomic<Int>({
        let cap = ProcessInfo.processInfo.environment["FACET_KERNELS"].flatMap { name in
            KernelLevel.allCases.first { $0.description == name.lowercased() }
        }
        return min(cap ?? supported, supported).rawValue
    }())

    /// The level in use (set it below `supported` to exercise a slower path; higher values are capped).
    public static var level: KernelLevel {
        get { KernelLevel(rawValue: current.load(ordering: .relaxed)) ?? .portable }
        set { current.store(min(newValue, supported).rawValue, ordering: .relaxed) }
    }
}

/// A convolution filter (OHWI, `[cout][kH·kW·cin]`) packed once, at model load, into the 16-column panels the
/// matrix-product micro-kernel streams (`fk_pack_gemm_b`).
public struct PackedConvFilter: Sendable {
    public let outChannels: Int
    /// Values per output channel: kH·kW·cin.
    public let depth: Int
    let values: [Float]

    public init(filter: UnsafePointer<Float>, outChannels: Int, depth: Int) {
        self.outChannels = outChannels
        self.depth = depth
        var packed = [Float](repeating: 0, count: fk_packed_gemm_b_count(Int32(outChannels), Int32(depth)))
        packed.withUnsafeMutableBufferPointer { p in
            if let base = p.baseAddress { fk_pack_gemm_b(filter, Int32(outChannels), Int32(depth), base) }
        }
        values = packed
    }

    public init(filter: [Float], outChannels: Int, depth: Int) {
        precondition(filter.count == outChannels * depth, "PackedConvFilter: \(filter.count) values for \(outChannels)x\(depth)")
        self = filter.withUnsafeBufferPointer { PackedConvFilter(filter: $0.baseAddress!, outChannels: outChannels, depth: depth) }
    }
}

extension Kernels {
    /// `C[m×n] = act(A[m×k]·Bᵀ + bias + residual)` on the calling thread, B packed (`PackedConvFilter`), by the
    /// micro-kernel of `FastKernels.level` (which must not be `.portable`).
    @inline(__always)
    static func packedProduct(m: Int, a: UnsafePointer<Float>, lda: Int, filter: UnsafePointer<Float>, n: Int, k: Int,
                              bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, residualChannels: Int, relu: Bool,
                              preluAlpha: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int, level: KernelLevel,
                              residualStride: Int? = nil) {
        // The residual's rows are `residualStride` long (default `residualChannels`: the output's `n`, or fewer, see
        // `ConvEpilogue`); it covers the first `residualChannels` columns (0: all).
        var epilogue = fk_epilogue(bias: bias, residual: residual, ldr: Int32(residualStride ?? residualChannels), relu: relu ? 1 : 0,
                                   alpha: preluAlpha, residual_channels: Int32(residualChannels))
        fk_gemm(Int32(level.rawValue), Int32(m), Int32(n), Int32(k), a, Int32(lda), filter, c, Int32(ldc), &epilogue)
    }

    /// `im2col` by the C kernel (each window row inside the image is one contiguous copy).
    static func unfold(_ src: UnsafePointer<Float>, channels cin: Int, geometry g: WindowGeometry, rows: Range<Int>,
                       into cols: UnsafeMutablePointer<Float>, level: KernelLevel) {
        var p = fk_depthwise(input: src, filter: nil, bias: nil, output: nil, c: Int32(cin), in_h: Int32(g.inH), in_w: Int32(g.inW),
                             out_h: Int32(g.outH), out_w: Int32(g.outW), kh: Int32(g.kH), kw: Int32(g.kW),
                             stride_h: Int32(g.strideH), stride_w: Int32(g.strideW), dilation_h: Int32(g.dilationH),
                             dilation_w: Int32(g.dilationW), pad_top: Int32(g.padTop), pad_left: Int32(g.padLeft))
        fk_im2col(Int32(level.rawValue), &p, Int32(rows.lowerBound), Int32(rows.upperBound), cols)
    }

    /// The depthwise convolution of output rows `rows` (over `n · outH`) by the C kernel; false when it does not
    /// handle the shape (the caller then uses the portable code).
    static func depthwiseRows(input: UnsafePointer<Float>, channels c: Int, geometry g: WindowGeometry, filter: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, rows: Range<Int>, level: KernelLevel) -> Bool {
        windowRows(rows, input: input, channels: c, geometry: g, filter: filter, bias: bias, output: output) { p, first, last in
            fk_depthwise_rows(Int32(level.rawValue), p, first, last)
        }
    }

    /// A convolution with at most 128 taps (kH·kW·cin) and 32 output channels, dilation 1, no residual, computed directly
    /// (`fk_conv_small_rows`, AVX-512) with each core taking a block of output rows; false (nothing written) when the
    /// layer or the CPU is outside what it handles: the caller then unfolds and multiplies.
    static func smallConvolution(input: UnsafePointer<Float>, batch n: Int, channels cin: Int, geometry g: WindowGeometry,
                                 filter: UnsafePointer<Float>, outChannels cout: Int, bias: UnsafePointer<Float>?, relu: Bool,
                                 preluAlpha: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, level: KernelLevel) -> Bool {
        let taps = g.kH * g.kW * cin
        guard level >= .avx512, g.dilationH == 1, g.dilationW == 1, taps >= 1, taps <= 128, cout >= 1, cout <= 32,
              g.outH > 0, g.outW > 0, g.inH > 0, g.inW > 0 else { return false }
        let src = SendablePointer(input), dst = SendableMutablePointer(output), w = SendablePointer(filter)
        let b = bias.map(SendablePointer.init), alpha = preluAlpha.map(SendablePointer.init)
        let handled = Atomic<Bool>(true)
        Parallel.ranges(n * g.outH, work: n * g.outH * g.outW * cout * taps) { rows in
            var row = rows.lowerBound
            while row < rows.upperBound {
                let image = row / g.outH, first = row % g.outH
                let last = min(g.outH, first + rows.upperBound - row)
                var p = fk_conv_small(input: src.pointer + image * g.inH * g.inW * cin, filter: w.pointer, bias: b?.pointer,
                                      alpha: alpha?.pointer, output: dst.pointer + image * g.outH * g.outW * cout, relu: relu ? 1 : 0,
                                      cin: Int32(cin), cout: Int32(cout), in_h: Int32(g.inH), in_w: Int32(g.inW), out_h: Int32(g.outH),
                                      out_w: Int32(g.outW), kh: Int32(g.kH), kw: Int32(g.kW), stride_h: Int32(g.strideH),
                                      stride_w: Int32(g.strideW), pad_top: Int32(g.padTop), pad_left: Int32(g.padLeft))
                if fk_conv_small_rows(Int32(level.rawValue), &p, Int32(first), Int32(last)) == 0 { handled.store(false, ordering: .relaxed) }
                row += last - first
            }
        }
        return handled.load(ordering: .relaxed)
    }

    /// The depthwise convolution of output rows `rows` (over `n · outH`) by the C kernel, written one after another
    /// from `block` (`rows.count · outW · c` floats) instead of at their places in the output; false when the kernel
    /// does not handle the shape.
    static func depthwiseBlock(input: UnsafePointer<Float>, channels c: Int, geometry g: WindowGeometry, filter: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, rows: Range<Int>, into block: UnsafeMutablePointer<Float>,
                               level: KernelLevel) -> Bool {
        windowRows(rows, input: input, channels: c, geometry: g, filter: filter, bias: bias, output: block, packed: true) { p, first, last in
            fk_depthwise_block(Int32(level.rawValue), p, first, last)
        }
    }

    /// Max pooling of output rows `rows` (over `n · outH`) by the C kernel; false below AVX2.
    static func maxPoolRows(input: UnsafePointer<Float>, channels c: Int, geometry g: WindowGeometry, output: UnsafeMutablePointer<Float>,
                            rows: Range<Int>, level: KernelLevel) -> Bool {
        windowRows(rows, input: input, channels: c, geometry: g, filter: nil, bias: nil, output: output) { p, first, last in
            fk_maxpool_rows(Int32(level.rawValue), p, first, last)
        }
    }

    /// Runs a C row kernel (`fk_depthwise_rows`, `fk_depthwise_block`, `fk_maxpool_rows`) over output rows `rows` (over
    /// `n · outH`), image by image, with the layer described as `fk_depthwise`; false as soon as the kernel refuses
    /// (returns 0). `output` is the whole output tensor, or with `packed` the start of the rows written one after another
    /// (the block kernel writes its first row at `output`).
    private static func windowRows(_ rows: Range<Int>, input: UnsafePointer<Float>, channels c: Int, geometry g: WindowGeometry,
                                   filter: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                   packed: Bool = false, _ kernel: (UnsafePointer<fk_depthwise>, Int32, Int32) -> Int32) -> Bool {
        var row = rows.lowerBound
        while row < rows.upperBound {
            let image = row / g.outH, first = row % g.outH
            let last = min(g.outH, first + rows.upperBound - row)
            var p = fk_depthwise(input: input + image * g.inH * g.inW * c, filter: filter, bias: bias,
                                 output: packed ? output + (row - rows.lowerBound) * g.outW * c : output + image * g.outH * g.outW * c,
                                 c: Int32(c), in_h: Int32(g.inH), in_w: Int32(g.inW),
                                 out_h: Int32(g.outH), out_w: Int32(g.outW), kh: Int32(g.kH), kw: Int32(g.kW),
                                 stride_h: Int32(g.strideH), stride_w: Int32(g.strideW), dilation_h: Int32(g.dilationH),
                                 dilation_w: Int32(g.dilationW), pad_top: Int32(g.padTop), pad_left: Int32(g.padLeft))
            if kernel(&p, Int32(first), Int32(last)) == 0 { return false }
            row += last - first
        }
        return true
    }
}

extension Kernels {
    /// Whether the C depthwise kernel handles this layer (the window and one padded input row must fit its buffers).
    public static func fastDepthwiseHandles(channels c: Int, geometry g: WindowGeometry) -> Bool {
        FastKernels.level >= .avx2 && g.kH * g.kW <= 64 && g.inW * c <= 16_384 && c >= 1
    }

    /// A depthwise convolution followed by a 1×1, stride-1 convolution of its output, done a few rows at a time: each
    /// block of depthwise rows is written to scratch space in `intermediate` (room for `[n, outH, outW, c]`; its contents
    /// afterwards are undefined) and multiplied at once, while it is still in cache, instead of the whole tensor making a
    /// round trip through memory between the two layers.
    /// The pointwise filter is `packed` (`[cout][c]`), with `bias` and `epilogue` as in `conv2d`; `output` is
    /// `[n, outH, outW, cout]`. Returns false (having done nothing) when the fast kernels are off or do not handle the
    /// depthwise layer (`fastDepthwiseHandles`): the caller then runs the two layers one after the other.
    public static func depthwiseThenPointwise(input: UnsafePointer<Float>, batch n: Int, channels c: Int, geometry g: WindowGeometry,
                                              depthwiseFilter: UnsafePointer<Float>, depthwiseBias: UnsafePointer<Float>?,
                                              intermediate: UnsafeMutablePointer<Float>, packed: PackedConvFilter,
                                              bias: UnsafePointer<Float>?, epilogue: ConvEpilogue = ConvEpilogue(),
                                              output: UnsafeMutablePointer<Float>) -> Bool {
        let level = FastKernels.level
        guard fastDepthwiseHandles(channels: c, geometry: g), packed.depth == c else { return false }
        let cout = packed.outChannels, rows = n * g.outH, width = g.outW
        let src = SendablePointer(input), mid = SendableMutablePointer(intermediate), dst = SendableMutablePointer(output)
        let dw = SendablePointer(depthwiseFilter), dwBias = depthwiseBias.map(SendablePointer.init), b = bias.map(SendablePointer.init)
        // About 24 KiB of depthwise output per block.
        let block = max(1, 24_576 / max(1, width * c * 4))
        packed.values.withUnsafeBufferPointer { pp in
            guard let pw = pp.baseAddress.map(SendablePointer.init) else { return }
            Parallel.ranges(rows, work: rows * width * c * (g.kH * g.kW + cout), threshold: 60_000) { range in
                var lower = range.lowerBound
                while lower < range.upperBound {
                    let upper = min(range.upperBound, lower + block)
                    // Each block goes to the start of this range's part of `intermediate`, the same few KiB every time, so it
                    // stays in cache (its own place in the tensor would stream the whole tensor through memory).
                    let blockStart = mid.pointer + range.lowerBound * width * c
                    _ = depthwiseBlock(input: src.pointer, channels: c, geometry: g, filter: dw.pointer, bias: dwBias?.pointer,
                                       rows: lower..<upper, into: blockStart, level: level)
                    let first = lower * width
                    let rc = epilogue.residualChannels > 0 && epilogue.residualChannels < cout ? epilogue.residualChannels : cout
                    packedProduct(m: (upper - lower) * width, a: UnsafePointer(blockStart), lda: c, filter: pw.pointer, n: cout,
                                  k: c, bias: b?.pointer, residual: epilogue.residual.map { $0 + first * rc }, residualChannels: rc,
                                  relu: epilogue.relu, preluAlpha: epilogue.preluAlpha, c: dst.pointer + first * cout, ldc: cout, level: level)
                    lower = upper
                }
            }
        }
        return true
    }
}
