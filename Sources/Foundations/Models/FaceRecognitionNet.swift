import Foundation
import Media
import Tensor

/// dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, the `anet_type` of
/// dlib's `dnn_face_recognition_ex.cpp`): a 150×150 RGB face chip in, a 128-d descriptor out. Two
/// descriptors closer than `distanceThreshold` (0.6) are taken to be the same person.
///
/// The file stores no wiring, so the topology is hard-coded here and every stored layer is checked
/// against it. Weights are converted at load time to NHWC/OHWI; each convolution runs as one im2col and
/// one sgemm over the whole batch. Buffers are kept between calls, so steady-state inference does not
/// allocate. Calls are serialised by a lock (OpenBLAS already uses every core).
public final class FaceRecognitionNet: @unchecked Sendable {
    public static let chipSize = 150
    public static let embeddingSize = 128

    /// Mean R, G, B subtracted from the chip before dividing by 256 (from the file: 122.782, 117.001, 104.298).
    public let inputMeans: SIMD3<Float>
    /// `loss_metric`'s distance threshold stored in the file (0.6).
    public let distanceThreshold: Float
    /// Chips run through the network at most this many at a time.
    public let maxBatchSize: Int

    /// A convolution with its bias and the `affine` layer that follows it (and, for some, a `relu`).
    struct Conv {
        var filter: [Float]       // OHWI
        var bias: [Float], scale: [Float], shift: [Float]
        let cin: Int, cout: Int, kernel: Int, stride: Int, pad: Int
        let relu: Bool
        /// dlib's index of the layer whose output this is (for `layerOutputs`).
        let tapIndex: Int
    }

    /// `ares` (`relu(x + conv2(conv1(x)))`) or, with `down`, `ares_down` (`relu(avgpool(x) + block)`).
    struct Residual {
        let conv1: Conv, conv2: Conv
        let down: Bool
        let poolTapIndex: Int, outputTapIndex: Int
    }

    let stem: Conv
    let stemPoolTapIndex: Int
    let residuals: [Residual]
    let globalPoolTapIndex: Int, fcTapIndex: Int
    let fcWeights: [Float]            // [256][128], dlib's layout
    let fcBias: [Float]?

    // Reused between calls (guarded by `lock`).
    private let lock = NSLock()
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var bufferBatch = 0
    private let activationFloats: Int       // largest activation of one chip
    private var scratch: [Float] = []
    private var tapSink: ((Int, [Int], UnsafePointer<Float>) -> Void)?

    /// Loads the model the store holds (`dlib_face_recognition_resnet_model_v1.dat`).
    public convenience init(store: ModelStore = ModelStore(), maxBatchSize: Int = 16) throws {
        try self.init(contentsOf: try store.url(for: .faceRecognitionResNet), maxBatchSize: maxBatchSize)
    }

    /// Loads a face-recognition ResNet file. Throws `ModelError.missing` when it is not there and
    /// `ModelError.malformed` naming the file and the layer when it does not hold this network.
    public init(contentsOf url: URL, maxBatchSize: Int = 16) throws {
        let model = try DlibResNetFile(contentsOf: url)
        self.inputMeans = model.means
        self.distanceThreshold = model.distanceThreshold
        self.maxBatchSize = max(maxBatchSize, 1)
        var layers = model.layers[...]
        func take(_ what: String) -> DlibResNetFile.Layer {
            // The order was validated while parsing, so this cannot run out or mismatch.
            let layer = layers.removeFirst()
            precondition(layer.kind == what, "FaceRecognitionNet: layer order")
            return layer
        }
        func conv() -> Conv {
            let c = take("con"), a = take("affine")
            return Conv(filter: c.filterOHWI, bias: c.bias, scale: a.gamma, shift: a.beta, cin: c.inputs, cout: c.outputs,
                        kernel: c.kernel, stride: c.stride, pad: c.pad, relu: false, tapIndex: a.index)
        }
        func convRelu() -> Conv {
            let c = conv(), r = take("relu")
            return Conv(filter: c.filter, bias: c.bias, scale: c.scale, shift: c.shift, cin: c.cin, cout: c.cout,
                        kernel: c.kernel, stride: c.stride, pad: c.pad, relu: true, tapIndex: r.index)
        }
        stem = convRelu()
        stemPoolTapIndex = take("max_pool").index
        var residuals: [Residual] = []
        for spec in DlibResNetFile.residualSpecs {
            let c1 = convRelu(), c2 = conv()
            let pool = spec.down ? take("avg_pool").index : -1
            _ = take("add_prev")
            residuals.append(Residual(conv1: c1, conv2: c2, down: spec.down, poolTapIndex: pool, outputTapIndex: take("relu").index))
        }
        self.residuals = residuals
        globalPoolTapIndex = take("avg_pool").index
        let fc = take("fc")
        fcTapIndex = fc.index
        fcWeights = fc.fcWeights
        fcBias = fc.bias.isEmpty ? nil : fc.bias
        activationFloats = DlibResNetFile.largestActivation
    }

    deinit {
        for b in buffers { b.deallocate() }
    }

    /// Euclidean distance between two descriptors.
    public static func distance(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "distance: descriptors of different lengths")
        var s: Float = 0
        for i in 0..<a.count { let d = a[i] - b[i]; s += d * d }
        return s.squareRoot()
    }

    /// The descriptor of one 150×150 chip.
    public func embed(chip: RGBImage) throws -> [Float] {
        try embed(chips: [chip])[0]
    }

    /// The descriptors of 150×150 chips (e.g. from `FaceChip.extract`), computed `maxBatchSize` at a time.
    public func embed(chips: [RGBImage]) throws -> [[Float]] {
        for (i, chip) in chips.enumerated() where chip.width != Self.chipSize || chip.height != Self.chipSize {
            throw ModelError.badInput(reason: "chip \(i) is \(chip.width)x\(chip.height); the face-recognition network takes \(Self.chipSize)x\(Self.chipSize)")
        }
        lock.lock()
        defer { lock.unlock() }
        var out: [[Float]] = []
        out.reserveCapacity(chips.count)
        var start = 0
        while start < chips.count {
            let n = min(maxBatchSize, chips.count - start)
            let result = forward(chips[start..<(start + n)])
            for i in 0..<n { out.append(Array(UnsafeBufferPointer(start: result + i * Self.embeddingSize, count: Self.embeddingSize))) }
            start += n
        }
        return out
    }

    /// Every intermediate output for one chip, keyed by dlib's layer index (0 = loss, 1 = fc, …, 131 =
    /// input, as `cout << net` numbers them), as dlib tensors (`[1, k, nr, nc]`, NCHW). Outputs of
    /// in-place layers are keyed by the last layer of the chain (e.g. a conv by its `affine`); the
    /// input is key 131. For debugging against dlib's own dumps.
    public func layerOutputs(chip: RGBImage) throws -> [Int: DlibTensor] {
        guard chip.width == Self.chipSize, chip.height == Self.chipSize else {
            throw ModelError.badInput(reason: "chip is \(chip.width)x\(chip.height); the face-recognition network takes \(Self.chipSize)x\(Self.chipSize)")
        }
        lock.lock()
        defer { lock.unlock() }
        var taps: [Int: DlibTensor] = [:]
        tapSink = { index, shape, data in
            let (h, w, c) = (shape[1], shape[2], shape[3])
            var nchw = [Float](repeating: 0, count: h * w * c)
            for y in 0..<h { for x in 0..<w { for ch in 0..<c { nchw[(ch * h + y) * w + x] = data[(y * w + x) * c + ch] } } }
            taps[index] = DlibTensor(shape: [1, c, h, w], values: nchw)
        }
        defer { tapSink = nil }
        _ = forward([chip][...])
        return taps
    }

    // MARK: forward pass

    private func ensureBuffers(batch n: Int) {
        if n <= bufferBatch { return }
        for b in buffers { b.deallocate() }
        buffers = (0..<3).map { _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n * activationFloats)
            p.initialize(repeating: 0, count: n * activationFloats)
            return p
        }
        bufferBatch = n
    }

    /// Runs the network on up to `maxBatchSize` chips; returns a pointer to `n × 128` descriptors, valid
    /// until the next call.
    private func forward(_ chips: ArraySlice<RGBImage>) -> UnsafePointer<Float> {
        let n = chips.count
        ensureBuffers(batch: n)
        var x = buffers[0], t = buffers[1], u = buffers[2]
        // Input: (pixel − mean) / 256, NHWC.
        let size = Self.chipSize
        for (i, chip) in chips.enumerated() {
            let dst = x + i * size * size * 3
            chip.pixels.withUnsafeBufferPointer { px in
                for p in 0..<(size * size) {
                    dst[3 * p] = (Float(px[3 * p]) - inputMeans.x) / 256
                    dst[3 * p + 1] = (Float(px[3 * p + 1]) - inputMeans.y) / 256
                    dst[3 * p + 2] = (Float(px[3 * p + 2]) - inputMeans.z) / 256
                }
            }
        }
        var shape = (h: size, w: size, c: 3)
        tap(131, n, shape, x)

        // Stem: conv 7×7/2 + affine + relu, then max pool 3×3/2.
        shape = run(stem, n: n, shape: shape, from: x, to: t)
        let pool = WindowGeometry(inH: shape.h, inW: shape.w, kH: 3, kW: 3, strideH: 2, strideW: 2, padding: .valid)
        Kernels.maxPool(input: t, batch: n, channels: shape.c, geometry: pool, output: x)
        shape = (pool.outH, pool.outW, shape.c)
        tap(stemPoolTapIndex, n, shape, x)

        for block in residuals {
            let s1 = run(block.conv1, n: n, shape: shape, from: x, to: t)
            let s2 = run(block.conv2, n: n, shape: s1, from: t, to: u)
            if block.down {
                // relu(avgpool2×2/2(x) + block), zero-padded: the result replaces x.
                let g = WindowGeometry(inH: shape.h, inW: shape.w, kH: 2, kW: 2, strideH: 2, strideW: 2, padding: .valid)
                Kernels.averagePool(input: x, batch: n, channels: shape.c, geometry: g, countPadding: true, output: t)
                let pooled = (h: g.outH, w: g.outW, c: shape.c)
                tap(block.poolTapIndex, n, pooled, t)
                Kernels.addZeroPadded(u, shapeA: [n, s2.h, s2.w, s2.c], t, shapeB: [n, pooled.h, pooled.w, pooled.c], output: x, relu: true)
                shape = (max(s2.h, pooled.h), max(s2.w, pooled.w), max(s2.c, pooled.c))
            } else {
                // relu(x + block): the result goes to t, which becomes x.
                Kernels.addZeroPadded(u, shapeA: [n, s2.h, s2.w, s2.c], x, shapeB: [n, shape.h, shape.w, shape.c], output: t, relu: true)
                shape = (max(s2.h, shape.h), max(s2.w, shape.w), max(s2.c, shape.c))
                swap(&x, &t)
            }
            tap(block.outputTapIndex, n, shape, x)
        }

        // Head: average over the whole plane, then fc 256 → 128 without bias.
        let global = WindowGeometry(inH: shape.h, inW: shape.w, kH: shape.h, kW: shape.w, strideH: 1, strideW: 1, padding: .valid)
        Kernels.averagePool(input: x, batch: n, channels: shape.c, geometry: global, countPadding: true, output: t)
        tap(globalPoolTapIndex, n, (1, 1, shape.c), t)
        fcWeights.withUnsafeBufferPointer { w in
            if let fcBias {
                fcBias.withUnsafeBufferPointer { b in
                    Kernels.fullyConnected(input: t, batch: n, inputs: shape.c, weights: w.baseAddress!, outputs: Self.embeddingSize,
                                           weightsOutIn: false, bias: b.baseAddress!, output: u)
                }
            } else {
                Kernels.fullyConnected(input: t, batch: n, inputs: shape.c, weights: w.baseAddress!, outputs: Self.embeddingSize,
                                       weightsOutIn: false, bias: nil, output: u)
            }
        }
        tap(fcTapIndex, n, (1, 1, Self.embeddingSize), u)
        return UnsafePointer(u)
    }

    /// One convolution (+ bias, affine and maybe relu) over the batch; returns the output shape.
    private func run(_ conv: Conv, n: Int, shape: (h: Int, w: Int, c: Int), from input: UnsafeMutablePointer<Float>,
                     to output: UnsafeMutablePointer<Float>) -> (h: Int, w: Int, c: Int) {
        let g = WindowGeometry(inH: shape.h, inW: shape.w, kH: conv.kernel, kW: conv.kernel, strideH: conv.stride, strideW: conv.stride,
                               padding: .explicit(top: conv.pad, bottom: conv.pad, left: conv.pad, right: conv.pad))
        conv.filter.withUnsafeBufferPointer { f in
            Kernels.conv2dBatched(input: input, batch: n, channels: shape.c, geometry: g, filter: f.baseAddress!,
                                  outChannels: conv.cout, output: output, scratch: &scratch)
        }
        conv.bias.withUnsafeBufferPointer { b in
            conv.scale.withUnsafeBufferPointer { s in
                conv.shift.withUnsafeBufferPointer { sh in
                    Kernels.channelAffine(output, rows: n * g.outH * g.outW, channels: conv.cout, bias: b.baseAddress!,
                                          scale: s.baseAddress!, shift: sh.baseAddress!, relu: conv.relu)
                }
            }
        }
        let out = (h: g.outH, w: g.outW, c: conv.cout)
        tap(conv.tapIndex, n, out, output)
        return out
    }

    @inline(__always)
    private func tap(_ index: Int, _ n: Int, _ shape: (h: Int, w: Int, c: Int), _ data: UnsafeMutablePointer<Float>) {
        if let tapSink { tapSink(index, [n, shape.h, shape.w, shape.c], data) }
    }
}
