import Foundation

/// The contents of `dlib_face_recognition_resnet_model_v1.dat`, read with `DlibReader` and checked layer
/// by layer against the hard-coded topology (`anet_type` in dlib's `dnn_face_recognition_ex.cpp`).
struct DlibResNetFile {
    /// A learned (or parameter-free) layer, in input → output order.
    struct Layer {
        /// `con`, `affine`, `relu`, `max_pool`, `avg_pool`, `add_prev` or `fc`.
        let kind: String
        /// dlib's layer index (0 = loss, 131 = input).
        let index: Int
        var filterOHWI: [Float] = [], bias: [Float] = []
        var inputs = 0, outputs = 0, kernel = 0, stride = 0, pad = 0
        var gamma: [Float] = [], beta: [Float] = []
        var fcWeights: [Float] = []
    }

    /// What the topology expects at one wrapper position.
    enum Expected: CustomStringConvertible {
        case con(filters: Int, kernel: Int, stride: Int, pad: Int, inputs: Int)
        case affine(channels: Int)
        case relu, addPrev, tag, skip
        case maxPool(kernel: Int, stride: Int)
        case avgPool(kernel: Int, stride: Int)   // kernel 0 = the whole plane
        case fc(outputs: Int, inputs: Int)

        var description: String {
            switch self {
            case let .con(f, k, s, p, c): return "con with \(f) filters \(k)x\(k) stride \(s) padding \(p) on \(c) channels"
            case let .affine(c): return "affine on \(c) channels"
            case .relu: return "relu"
            case .addPrev: return "add_prev"
            case .tag: return "tag"
            case .skip: return "skip"
            case let .maxPool(k, s): return "max_pool \(k)x\(k) stride \(s)"
            case let .avgPool(k, s): return k == 0 ? "avg_pool over the whole plane" : "avg_pool \(k)x\(k) stride \(s)"
            case let .fc(o, i): return "fc \(i) -> \(o)"
            }
        }

        var isTag: Bool {
            switch self { case .tag, .skip: return true; default: return false }
        }
    }

    /// The residual units in input → output order: alevel4 (3 × ares 32), alevel3 (ares_down 64 +
    /// 3 × ares 64), alevel2 (ares_down 128 + 2 × ares 128), alevel1 (ares_down 256 + 2 × ares 256),
    /// alevel0 (ares_down 256).
    static let residualSpecs: [(filters: Int, down: Bool)] =
        [(32, false), (32, false), (32, false),
         (64, true), (64, false), (64, false), (64, false),
         (128, true), (128, false), (128, false),
         (256, true), (256, false), (256, false),
         (256, true)]

    static let stemFilters = 32, embeddingSize = 128, chipSize = 150

    /// Every wrapper from the output side (dlib index 1) to the bottom layer (dlib index 130); the loss
    /// is index 0 and the input layer 131.
    static let architecture: [Expected] = {
        var list: [Expected] = [.fc(outputs: embeddingSize, inputs: residualSpecs.last!.filters), .avgPool(kernel: 0, stride: 1)]
        for (i, spec) in residualSpecs.enumerated().reversed() {
            let n = spec.filters
            let cin = i == 0 ? stemFilters : residualSpecs[i - 1].filters
            if spec.down {
                list += [.relu, .addPrev, .avgPool(kernel: 2, stride: 2), .skip, .tag,
                         .affine(channels: n), .con(filters: n, kernel: 3, stride: 1, pad: 1, inputs: n), .relu,
                         .affine(channels: n), .con(filters: n, kernel: 3, stride: 2, pad: 0, inputs: cin), .tag]
            } else {
                list += [.relu, .addPrev,
                         .affine(channels: n), .con(filters: n, kernel: 3, stride: 1, pad: 1, inputs: n), .relu,
                         .affine(channels: n), .con(filters: n, kernel: 3, stride: 1, pad: 1, inputs: cin), .tag]
            }
        }
        list += [.maxPool(kernel: 3, stride: 2), .relu, .affine(channels: stemFilters),
                 .con(filters: stemFilters, kernel: 7, stride: 2, pad: 0, inputs: 3)]
        return list
    }()

    /// The largest activation of one chip (floats): the stem's 72×72×32 output.
    static let largestActivation: Int = {
        var h = chipSize, c = 3
        var largest = h * h * c
        h = (h - 7) / 2 + 1; c = stemFilters
        largest = max(largest, h * h * c)
        h = (h - 3) / 2 + 1
        for spec in residualSpecs {
            if spec.down { h = max((h - 3) / 2 + 1, h / 2) }
            c = spec.filters
            largest = max(largest, h * h * c)
        }
        return largest
    }()

    var means = SIMD3<Float>(0, 0, 0)
    var distanceThreshold: Float = 0.6
    /// Learned and parameter-free layers, input → output (no tags, input layer or loss).
    var layers: [Layer] = []

    init(contentsOf url: URL) throws {
        var r = try DlibReader(contentsOf: url)
        let arch = Self.architecture

        // add_loss_layer: version, then loss_metric's details.
        _ = try r.readInt(in: 1...1, "loss layer version")
        let loss = try r.readString()
        switch loss {
        case "loss_metric_2":
            _ = try r.readFloat()                      // margin
            distanceThreshold = Float(try r.readFloat())
        case "loss_metric_":
            break
        default:
            throw r.failure("the loss layer is '\(loss)', expected loss_metric: this is not dlib's face-recognition ResNet")
        }
        // The wrappers' versions, output side first (serialization recurses into the subnet first).
        var versions: [Int] = []
        for (i, expected) in arch.enumerated() {
            let what = "layer<\(i + 1)> (\(expected)) wrapper version"
            if i == arch.count - 1 {
                versions.append(try r.readInt(in: 2...3, what))
            } else {
                versions.append(try r.readInt(in: expected.isTag ? 1...1 : 1...2, what))
            }
        }
        // input_rgb_image_sized<150>.
        let input = try r.readString()
        guard input == "input_rgb_image_sized" else {
            throw r.failure("the input layer is '\(input)', expected input_rgb_image_sized")
        }
        let means = (try r.readFloat(), try r.readFloat(), try r.readFloat())
        self.means = SIMD3(Float(means.0), Float(means.1), Float(means.2))
        guard self.means.x.isFinite, self.means.y.isFinite, self.means.z.isFinite else { throw r.failure("input means are not finite") }
        let rows = try r.readInt(), cols = try r.readInt()
        guard rows == Self.chipSize, cols == Self.chipSize else {
            throw r.failure("the input layer takes \(rows)x\(cols) images, expected \(Self.chipSize)x\(Self.chipSize)")
        }
        // Then every layer's details, from the input side up.
        for i in stride(from: arch.count - 1, through: 0, by: -1) where !arch[i].isTag {
            let index = i + 1
            layers.append(try Self.readLayer(&r, expected: arch[i], index: index))
            _ = try r.readBool()    // this_layer_setup_called
            _ = try r.readBool()    // gradient_input_is_stale
            _ = try r.readBool()    // get_output_and_gradient_input_disabled
            _ = try r.readTensor()  // x_grad
            _ = try r.readTensor()  // cached_output
            if i == arch.count - 1 {
                _ = try r.readTensor()                      // grad_final
                if versions[i] == 3 { _ = try r.readInt() }  // sample_expansion_factor
            } else if versions[i] == 2 {
                _ = try r.readTensor()                      // params_grad
            }
        }
        try r.expectEnd()
    }

    /// Reads one layer's details and checks them against what the topology expects there.
    static func readLayer(_ r: inout DlibReader, expected: Expected, index: Int) throws -> Layer {
        let start = r.offset
        let name = try r.readString()
        func mismatch(_ found: String) -> ModelError {
            .malformed(path: r.path, reason: "layer<\(index)> should be \(expected) but the file has \(found) (at byte \(start))")
        }
        func finite(_ values: [Float]) throws -> [Float] {
            let ok = values.withUnsafeBufferPointer { v in
                var ok = true
                for x in v where !x.isFinite { ok = false; break }
                return ok
            }
            guard ok else { throw mismatch("'\(name)' with non-finite parameters") }
            return values
        }
        switch (name, expected) {
        case ("con_4", let .con(filters, kernel, stride, pad, inputs)), ("con_5", let .con(filters, kernel, stride, pad, inputs)):
            let params = try r.readTensor()
            let f = try r.readInt(), nr = try r.readInt(), nc = try r.readInt()
            let sy = try r.readInt(), sx = try r.readInt(), py = try r.readInt(), px = try r.readInt()
            let filterAlias = try r.readAliasTensor(), biasAlias = try r.readAliasTensor()
            for _ in 0..<4 { _ = try r.readFloat() }   // learning-rate and weight-decay multipliers
            let useBias = name == "con_5" ? try r.readBool() : true
            let found = "con with \(f) filters \(nr)x\(nc) stride \(sy)x\(sx) padding \(py)x\(px)"
            guard f == filters, nr == kernel, nc == kernel, sy == stride, sx == stride, py == pad, px == pad else { throw mismatch(found) }
            let weightCount = filters * inputs * kernel * kernel
            guard filterAlias == [filters, inputs, kernel, kernel], params.values.count == weightCount + (useBias ? filters : 0),
                  !useBias || biasAlias == [1, filters, 1, 1] else {
                throw mismatch("\(found) with filters \(filterAlias) and \(params.values.count) parameters (expected \(weightCount + filters))")
            }
            let p = try finite(params.values)
            var layer = Layer(kind: "con", index: index)
            layer.inputs = inputs; layer.outputs = filters; layer.kernel = kernel; layer.stride = stride; layer.pad = pad
            // OIHW → OHWI.
            let plane = kernel * kernel
            layer.filterOHWI = [Float](unsafeUninitializedCapacity: weightCount) { ohwi, initialized in
                p.withUnsafeBufferPointer { oihw in
                    for o in 0..<filters { for c in 0..<inputs { for yx in 0..<plane {
                        ohwi[(o * plane + yx) * inputs + c] = oihw[(o * inputs + c) * plane + yx]
                    } } }
                }
                initialized = weightCount
            }
            layer.bias = useBias ? Array(p[weightCount...]) : [Float](repeating: 0, count: filters)
            return layer
        case ("affine_", let .affine(channels)), ("affine_2", let .affine(channels)):
            let params = try r.readTensor()
            _ = try r.readAliasTensor(); _ = try r.readAliasTensor()
            let mode = try r.readInt()
            let disabled = name == "affine_2" ? try r.readBool() : false
            guard mode == 0, params.values.count == 2 * channels || (disabled && params.values.isEmpty) else {
                throw mismatch("affine in mode \(mode) with \(params.values.count) parameters (expected conv mode 0 and \(2 * channels))")
            }
            var layer = Layer(kind: "affine", index: index)
            if disabled {
                layer.gamma = [Float](repeating: 1, count: channels); layer.beta = [Float](repeating: 0, count: channels)
            } else {
                let p = try finite(params.values)
                layer.gamma = Array(p[..<channels]); layer.beta = Array(p[channels...])
            }
            return layer
        case ("relu_", .relu):
            return Layer(kind: "relu", index: index)
        case ("add_prev_", .addPrev):
            return Layer(kind: "add_prev", index: index)
        case ("max_pool_2", let .maxPool(kernel, stride)), ("avg_pool_2", let .avgPool(kernel, stride)):
            let nr = try r.readInt(), nc = try r.readInt(), sy = try r.readInt(), sx = try r.readInt()
            let py = try r.readInt(), px = try r.readInt()
            let found = "\(name.dropLast(2)) \(nr)x\(nc) stride \(sy)x\(sx) padding \(py)x\(px)"
            guard nr == kernel, nc == kernel, py == 0, px == 0, kernel == 0 || (sy == stride && sx == stride) else { throw mismatch(found) }
            return Layer(kind: String(name.dropLast(2)), index: index)
        case ("fc_2", let .fc(outputs, inputs)), ("fc_3", let .fc(outputs, inputs)):
            let no = try r.readInt(), ni = try r.readInt()
            let params = try r.readTensor()
            _ = try r.readAliasTensor(); _ = try r.readAliasTensor()
            let biasMode = try r.readInt()
            for _ in 0..<4 { _ = try r.readFloat() }
            let useBias = (name == "fc_3" ? try r.readBool() : true) && biasMode == 0
            guard no == outputs, ni == inputs, biasMode == 0 || biasMode == 1,
                  params.values.count == inputs * outputs + (useBias ? outputs : 0) else {
                throw mismatch("fc \(ni) -> \(no) with bias mode \(biasMode) and \(params.values.count) parameters")
            }
            let p = try finite(params.values)
            var layer = Layer(kind: "fc", index: index)
            layer.inputs = inputs; layer.outputs = outputs
            layer.fcWeights = Array(p[..<(inputs * outputs)])
            layer.bias = useBias ? Array(p[(inputs * outputs)...]) : []
            return layer
        default:
            throw mismatch("'\(name)'")
        }
    }
}
