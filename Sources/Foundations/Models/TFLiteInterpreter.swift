import FacetCore
import Foundation
import Tensor

/// Runs a `TFLiteModel` in file order on preallocated buffers: after `init`, `run` allocates nothing.
/// Not thread-safe; use one interpreter per thread.
public final class TFLiteInterpreter {
    public let model: TFLiteModel
    /// Batch size every activation was sized for.
    public let batch: Int
    private var shapes: [[Int]]
    private var buffers: [[Float]]
    private var scratch: [Float] = []
    /// Convolution filters packed for the matrix-product micro-kernel, by filter tensor index (packed once, here).
    private let packedFilters: [Int: PackedConvFilter]
    /// `pairedWithNext[i]`: operator i is a depthwise convolution whose output only operator i + 1, a 1×1 convolution,
    /// reads; the two run block by block together (`Kernels.depthwiseThenPointwise`) when the fast kernels are on.
    private let pairedWithNext: [Bool]

    /// Prepares buffers for `batch` inputs at once (the model's own batch dimension is replaced).
    public init(model: TFLiteModel, batch: Int = 1) throws {
        guard batch >= 1, batch <= 4096 else { throw ModelError.badInput(reason: "\(model.path): batch \(batch) is outside 1...4096") }
        self.model = model
        self.batch = batch
        let shapes = model.tensors.map { info -> [Int] in
            guard info.constant == nil, info.intConstant == nil, let first = info.shape.first, first == 1 else { return info.shape }
            return [batch] + info.shape.dropFirst()
        }
        self.shapes = shapes
        buffers = model.tensors.indices.map { i in
            model.tensors[i].constant ?? [Float](repeating: 0, count: model.tensors[i].intConstant == nil ? shapes[i].reduce(1, *) : 0)
        }
        var packed: [Int: PackedConvFilter] = [:]
        for op in model.operations {
            switch op.kind {
            case .conv2d, .conv2dFused:
                guard op.inputs.count > 1, op.inputs[1] >= 0 else { continue }
                let f = model.tensors[op.inputs[1]]
                guard let values = f.constant, f.shape.count == 4, packed[op.inputs[1]] == nil,
                      values.count == f.shape[0] * f.shape[1] * f.shape[2] * f.shape[3] else { continue }
                packed[op.inputs[1]] = PackedConvFilter(filter: values, outChannels: f.shape[0], depth: f.shape[1] * f.shape[2] * f.shape[3])
            default: continue
            }
        }
        packedFilters = packed
        var consumers: [Int: Int] = [:]
        for op in model.operations { for t in op.inputs where t >= 0 { consumers[t, default: 0] += 1 } }
        let ops = model.operations
        pairedWithNext = ops.indices.map { i in
            guard i + 1 < ops.count, case .depthwiseConv2d(_, _, _, _, _, .none) = ops[i].kind, let mid = ops[i].outputs.first, mid >= 0,
                  consumers[mid] == 1, !model.outputs.contains(mid), let next = ops[i + 1].inputs.first, next == mid,
                  ops[i + 1].inputs.count > 1, ops[i + 1].inputs[1] >= 0, let f = packed[ops[i + 1].inputs[1]] else { return false }
            let shape = model.tensors[ops[i + 1].inputs[1]].shape
            guard shape.count == 4, shape[1] == 1, shape[2] == 1, f.depth == shape[3] else { return false }
            switch ops[i + 1].kind {
            case .conv2d(1, 1, 1, 1, _, .none), .conv2dFused(1, 1, 1, 1, _, _, _): return true
            default: return false
            }
        }
        try validate()
    }

    /// Shape of input `index` (with the batch dimension).
    public func inputShape(_ index: Int = 0) -> [Int] { shapes[model.inputs[index]] }

    /// Shape of output `index`.
    public func outputShape(_ index: Int = 0) -> [Int] { shapes[model.outputs[index]] }

    /// Copies values into input `index`; their count must match its shape.
    public func setInput(_ values: [Float], index: Int = 0) throws {
        let t = model.inputs[index]
        guard values.count == buffers[t].count else {
            throw ModelError.badInput(reason: "\(model.path): input \(index) takes \(buffers[t].count) values (\(shapes[t])), got \(values.count)")
        }
        buffers[t].withUnsafeMutableBufferPointer { dst in _ = dst.update(from: values) }
    }

    /// Writes into input `index` in place.
    public func withInput<T>(_ index: Int = 0, _ body: (inout [Float]) throws -> T) rethrows -> T {
        try body(&buffers[model.inputs[index]])
    }

    /// Output `index` after `run()`.
    public func output(_ index: Int = 0) -> [Float] { buffers[model.outputs[index]] }

    /// The values of any tensor after `run()` (for layer-by-layer debugging).
    public func tensorValues(named name: String) -> [Float]? {
        model.tensors.firstIndex { $0.name == name }.map { buffers[$0] }
    }

    /// Executes every operator in file order (a depthwise convolution and the 1×1 convolution after it together,
    /// see `pairedWithNext`).
    public func run() {
        let ops = model.operations
        var i = 0
        while i < ops.count {
            if pairedWithNext[i], executePair(ops[i], ops[i + 1]) { i += 2; continue }
            execute(ops[i])
            i += 1
        }
    }

    /// A depthwise convolution and the 1×1 convolution reading its output, block by block; false (nothing done)
    /// when the fast kernels do not take the pair.
    private func executePair(_ dwOp: TFLiteModel.Operation, _ pwOp: TFLiteModel.Operation) -> Bool {
        guard case .depthwiseConv2d(let sH, let sW, let dH, let dW, let padding, .none) = dwOp.kind,
              let packed = packedFilters[pwOp.inputs[1]] else { return false }
        let inShape = shapes[dwOp.inputs[0]]
        let f = model.tensors[dwOp.inputs[1]].shape
        let g = WindowGeometry(inH: inShape[1], inW: inShape[2], kH: f[1], kW: f[2], strideH: sH, strideW: sW,
                               dilationH: dH, dilationW: dW, padding: padding)
        guard Kernels.fastDepthwiseHandles(channels: inShape[3], geometry: g) else { return false }
        var residualTensor = -1, alphaTensor = -1, relu = false
        switch pwOp.kind {
        case .conv2d: break
        case .conv2dFused(_, _, _, _, _, let residual, let epilogue):
            residualTensor = residual ? pwOp.inputs[3] : -1
            alphaTensor = epilogue == .prelu ? pwOp.inputs[residual ? 4 : 3] : -1
            relu = epilogue == .relu
        default: return false
        }
        let mid = dwOp.outputs[0], out = pwOp.outputs[0]
        var midBuffer = buffers[mid], outBuffer = buffers[out]
        buffers[mid] = []; buffers[out] = []
        defer { buffers[mid] = midBuffer; buffers[out] = outBuffer }
        var done = false
        midBuffer.withUnsafeMutableBufferPointer { mp in
            outBuffer.withUnsafeMutableBufferPointer { op in
                withOptionalBuffer(dwOp.inputs[0]) { x in
                    withOptionalBuffer(dwOp.inputs[1]) { w in
                        withOptionalBuffer(dwOp.inputs.count > 2 ? dwOp.inputs[2] : -1) { dwBias in
                            withOptionalBuffer(pwOp.inputs.count > 2 ? pwOp.inputs[2] : -1) { bias in
                                withOptionalBuffer(residualTensor) { residual in
                                    withOptionalBuffer(alphaTensor) { alpha in
                                        guard let x, let w, let m = mp.baseAddress, let o = op.baseAddress else { return }
                                        done = Kernels.depthwiseThenPointwise(
                                            input: x, batch: inShape[0], channels: inShape[3], geometry: g, depthwiseFilter: w,
                                            depthwiseBias: dwBias, intermediate: m, packed: packed, bias: bias,
                                            epilogue: ConvEpilogue(residual: residual, relu: relu, preluAlpha: alpha,
                                                                   residualChannels: residualTensor >= 0 ? shapes[residualTensor].last ?? 0 : 0),
                                            output: o)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return done
    }

    /// Runs `repeats` times and returns the mean time of each operator kind in milliseconds, largest first (for
    /// finding where a model spends its time; `model-bench --profile`). Wall time, or with `cpuTime` the calling
    /// thread's CPU time (steady on a busy machine; meaningful with one thread, `FACET_THREADS=1`).
    public func runProfiled(repeats: Int = 50, cpuTime: Bool = false) -> [(kind: String, milliseconds: Double, count: Int)] {
        var totals: [String: (Double, Int)] = [:]
        /// Milliseconds on the chosen clock.
        func now() -> Double { cpuTime ? threadCPUMilliseconds() : Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }
        let ops = model.operations
        for _ in 0..<repeats {
            var i = 0
            while i < ops.count {
                // Only the operators are timed; their names are built after the clock is read.
                let start = now()
                let paired = pairedWithNext[i] && executePair(ops[i], ops[i + 1])
                if !paired { execute(ops[i]) }
                let elapsed = now() - start
                let name = paired
                    ? "depthwise+" + Self.profileName(ops[i + 1], shapes: shapes) + " (dw " + Self.profileName(ops[i], shapes: shapes) + ")"
                    : Self.profileName(ops[i], shapes: shapes)
                i += paired ? 2 : 1
                totals[name, default: (0, 0)].0 += elapsed / Double(repeats)
                totals[name, default: (0, 0)].1 += 1
            }
        }
        return totals.map { (kind: $0.key, milliseconds: $0.value.0, count: $0.value.1 / repeats) }.sorted { $0.milliseconds > $1.milliseconds }
    }

    private static func profileName(_ op: TFLiteModel.Operation, shapes: [[Int]]) -> String {
        let label = String(describing: op.kind).split(separator: "(").first.map(String.init) ?? "op"
        switch op.kind {
        case .conv2d(let sH, _, _, _, _, _), .depthwiseConv2d(let sH, _, _, _, _, _), .conv2dFused(let sH, _, _, _, _, _, _):
            return "\(label) s\(sH) \(shapes[op.inputs[1]].dropFirst().prefix(2).map(String.init).joined(separator: "x")) -> \(shapes[op.outputs[0]].dropFirst().map(String.init).joined(separator: "x"))"
        default:
            return label
        }
    }

    private func execute(_ op: TFLiteModel.Operation) {
        let out = op.outputs[0]
        let inShape = shapes[op.inputs[0]]
        switch op.kind {
        case .conv2d(let sH, let sW, let dH, let dW, let padding, let activation):
            let f = model.tensors[op.inputs[1]].shape
            let g = WindowGeometry(inH: inShape[1], inW: inShape[2], kH: f[1], kW: f[2], strideH: sH, strideW: sW,
                                   dilationH: dH, dilationW: dW, padding: padding)
            withBuffers(op.inputs[0], op.inputs[1], op.inputs.count > 2 ? op.inputs[2] : -1, out) { x, w, b, y in
                guard let w else { return }   // validate() guarantees a constant filter
                Kernels.conv2d(input: x, batch: inShape[0], channels: inShape[3], geometry: g, filter: w, outChannels: f[0],
                               bias: b, packed: packedFilters[op.inputs[1]], output: y, scratch: &scratch)
            }
            applyActivation(activation, out)
        case .conv2dFused(let sH, let sW, let dH, let dW, let padding, let residual, let epilogue):
            let f = model.tensors[op.inputs[1]].shape
            let g = WindowGeometry(inH: inShape[1], inW: inShape[2], kH: f[1], kW: f[2], strideH: sH, strideW: sW,
                                   dilationH: dH, dilationW: dW, padding: padding)
            let residualTensor = residual ? op.inputs[3] : -1
            let alphaTensor = epilogue == .prelu ? op.inputs[residual ? 4 : 3] : -1
            withBuffers(op.inputs[0], op.inputs[1], op.inputs[2], out) { x, w, b, y in
                guard let w else { return }
                withOptionalBuffer(residualTensor) { res in
                    withOptionalBuffer(alphaTensor) { alpha in
                        Kernels.conv2d(input: x, batch: inShape[0], channels: inShape[3], geometry: g, filter: w, outChannels: f[0], bias: b,
                                       epilogue: ConvEpilogue(residual: res, relu: epilogue == .relu, preluAlpha: alpha,
                                                              residualChannels: residual ? shapes[residualTensor].last ?? 0 : 0),
                                       packed: packedFilters[op.inputs[1]], output: y, scratch: &scratch)
                    }
                }
            }
        case .depthwiseConv2d(let sH, let sW, let dH, let dW, let padding, let activation):
            let f = model.tensors[op.inputs[1]].shape
            let g = WindowGeometry(inH: inShape[1], inW: inShape[2], kH: f[1], kW: f[2], strideH: sH, strideW: sW,
                                   dilationH: dH, dilationW: dW, padding: padding)
            withBuffers(op.inputs[0], op.inputs[1], op.inputs.count > 2 ? op.inputs[2] : -1, out) { x, w, b, y in
                guard let w else { return }
                Kernels.depthwiseConv2d(input: x, batch: inShape[0], channels: inShape[3], geometry: g, filter: w, bias: b, output: y)
            }
            applyActivation(activation, out)
        case .maxPool(let kH, let kW, let sH, let sW, let padding, let activation),
             .averagePool(let kH, let kW, let sH, let sW, let padding, let activation):
            let g = WindowGeometry(inH: inShape[1], inW: inShape[2], kH: kH, kW: kW, strideH: sH, strideW: sW, padding: padding)
            let isMax: Bool
            if case .maxPool = op.kind { isMax = true } else { isMax = false }
            withBuffers(op.inputs[0], -1, -1, out) { x, _, _, y in
                if isMax {
                    Kernels.maxPool(input: x, batch: inShape[0], channels: inShape[3], geometry: g, output: y)
                } else {
                    Kernels.averagePool(input: x, batch: inShape[0], channels: inShape[3], geometry: g, output: y)
                }
            }
            applyActivation(activation, out)
        case .add(let activation):
            let shapeB = shapes[op.inputs[1]]
            withBuffers(op.inputs[0], op.inputs[1], -1, out) { a, b, _, y in
                guard let b else { return }
                Kernels.add(a, shapeA: inShape, b, shapeB: shapeB, output: y, relu: activation == .relu)
            }
            if activation == .relu6 { applyActivation(activation, out) }
        case .addPReLU:
            let channels = shapes[out].last ?? 1
            let count = shapes[out].reduce(1, *)
            var y = buffers[out]
            buffers[out] = []
            y.withUnsafeMutableBufferPointer { yp in
                buffers[op.inputs[0]].withUnsafeBufferPointer { a in
                    buffers[op.inputs[1]].withUnsafeBufferPointer { b in
                        buffers[op.inputs[2]].withUnsafeBufferPointer { alpha in
                            guard let yb = yp.baseAddress, let ab = a.baseAddress, let bb = b.baseAddress, let al = alpha.baseAddress else { return }
                            Kernels.addPReLU(ab, bb, alpha: al, channels: channels, count: count, output: yb)
                        }
                    }
                }
            }
            buffers[out] = y
        case .relu:
            let count = shapes[out].reduce(1, *)
            withBuffers(op.inputs[0], -1, -1, out) { x, _, _, y in Kernels.relu(x, count: count, output: y) }
        case .prelu:
            let channels = shapes[out].last ?? 1
            let count = shapes[out].reduce(1, *)
            withBuffers(op.inputs[0], op.inputs[1], -1, out) { x, alpha, _, y in
                guard let alpha else { return }
                Kernels.prelu(x, count: count, alpha: alpha, channels: channels, output: y)
            }
        case .leakyRelu(let alpha):
            copy(op.inputs[0], to: out)
            buffers[out].withUnsafeMutableBufferPointer { if let p = $0.baseAddress { Kernels.leakyRelu(p, count: $0.count, alpha: alpha) } }
        case .logistic:
            copy(op.inputs[0], to: out)
            buffers[out].withUnsafeMutableBufferPointer { if let p = $0.baseAddress { Kernels.sigmoid(p, count: $0.count) } }
        case .reshape, .dequantize:
            copy(op.inputs[0], to: out)
        case .concatenation(let axis, let activation):
            let rank = shapes[out].count
            let resolved = axis < 0 ? axis + rank : axis
            let parts = op.inputs.map { ($0, shapes[$0]) }
            var outBuffer = buffers[out]
            outBuffer.withUnsafeMutableBufferPointer { y in
                var pointers: [(UnsafePointer<Float>, [Int])] = []
                func collect(_ i: Int) {
                    if i == parts.count {
                        if let base = y.baseAddress { Kernels.concat(pointers, axis: resolved, output: base) }
                        return
                    }
                    buffers[parts[i].0].withUnsafeBufferPointer { p in
                        guard let base = p.baseAddress else { return }   // validate() refuses zero-sized tensors
                        pointers.append((base, parts[i].1))
                        collect(i + 1)
                    }
                }
                collect(0)
            }
            buffers[out] = outBuffer
            applyActivation(activation, out)
        case .pad:
            let amounts = model.tensors[op.inputs[1]].intConstant ?? []
            let before = (0..<4).map { Int(amounts[2 * $0]) }, after = (0..<4).map { Int(amounts[2 * $0 + 1]) }
            withBuffers(op.inputs[0], -1, -1, out) { x, _, _, y in
                Kernels.pad(x, shape: inShape, before: before, after: after, output: y)
            }
        case .resizeBilinear(let alignCorners, let halfPixelCenters):
            let o = shapes[out]
            withBuffers(op.inputs[0], -1, -1, out) { x, _, _, y in
                Kernels.resizeBilinear(x, batch: inShape[0], inH: inShape[1], inW: inShape[2], channels: inShape[3],
                                       outH: o[1], outW: o[2], alignCorners: alignCorners, halfPixelCenters: halfPixelCenters, output: y)
            }
        case .fullyConnected(let activation):
            let w = model.tensors[op.inputs[1]].shape
            let rows = buffers[op.inputs[0]].count / w[1]
            withBuffers(op.inputs[0], op.inputs[1], op.inputs.count > 2 ? op.inputs[2] : -1, out) { x, wt, b, y in
                guard let wt else { return }
                Kernels.fullyConnected(input: x, batch: rows, inputs: w[1], weights: wt, outputs: w[0], weightsOutIn: true, bias: b, output: y)
            }
            applyActivation(activation, out)
        case .mean:
            let axes = TFLiteReduce.resolvedAxes(model.tensors[op.inputs[1]].intConstant ?? [], rank: inShape.count) ?? []
            withBuffers(op.inputs[0], -1, -1, out) { x, _, _, y in
                TFLiteReduce.mean(x, shape: inShape, axes: axes, output: y)
            }
        }
    }

    private func applyActivation(_ activation: TFLiteModel.Activation, _ tensor: Int) {
        switch activation {
        case .none: return
        case .relu: buffers[tensor].withUnsafeMutableBufferPointer { if let p = $0.baseAddress { Kernels.relu(p, count: $0.count) } }
        case .relu6: for i in buffers[tensor].indices { buffers[tensor][i] = min(max(buffers[tensor][i], 0), 6) }
        }
    }

    private func copy(_ from: Int, to: Int) {
        if from == to { return }
        var destination = buffers[to]
        buffers[to] = []
        defer { buffers[to] = destination }
        destination.withUnsafeMutableBufferPointer { dst in
            buffers[from].withUnsafeBufferPointer { src in
                guard let d = dst.baseAddress, let s = src.baseAddress else { return }
                d.update(from: s, count: min(src.count, dst.count))
            }
        }
    }

    /// A pointer to tensor `index`'s values for the call (nil for index -1).
    private func withOptionalBuffer(_ index: Int, _ body: (UnsafePointer<Float>?) -> Void) {
        if index < 0 || buffers[index].isEmpty { body(nil); return }
        buffers[index].withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Gives pointers to up to three inputs (index -1: nil) and the output buffer. The output buffer is
    /// taken out of `buffers` during the call so that Swift's exclusivity rules hold.
    private func withBuffers(_ a: Int, _ b: Int, _ c: Int, _ out: Int,
                             _ body: (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>) -> Void) {
        var y = buffers[out]
        buffers[out] = []
        defer { buffers[out] = y }
        func ptr(_ i: Int, _ next: (UnsafePointer<Float>?) -> Void) {
            if i < 0 || buffers[i].isEmpty { next(nil); return }
            buffers[i].withUnsafeBufferPointer { next($0.baseAddress) }
        }
        y.withUnsafeMutableBufferPointer { yp in
            guard let yBase = yp.baseAddress else { return }
            ptr(a) { ap in ptr(b) { bp in ptr(c) { cp in
                guard let ap else { return }
                body(ap, bp, cp, yBase)
            } } }
        }
    }

    /// Checks every operator's tensors before anything runs: inputs have storage, and each output's
    /// declared shape is exactly what the operator computes from its inputs. With this, no kernel can
    /// read or write outside a buffer, however damaged the file.
    private func validate() throws {
        func fail(_ op: TFLiteModel.Operation, _ why: String) -> ModelError {
            .malformed(path: model.path, reason: "operator \(op.kind): \(why)")
        }
        func count(_ t: Int) -> Int { shapes[t].reduce(1, *) }
        for op in model.operations {
            guard op.outputs.count == 1, let out = op.outputs.first, out >= 0, !op.inputs.isEmpty, op.inputs[0] >= 0 else {
                throw fail(op, "needs one output and at least one input")
            }
            let x = op.inputs[0], xs = shapes[x], os = shapes[out]
            // A damaged file can declare a dimension of 0: no kernel is given an empty buffer.
            for t in op.inputs + [out] where t >= 0 && t < shapes.count && model.tensors[t].intConstant == nil && count(t) == 0 {
                throw fail(op, "tensor \(t) ('\(model.tensors[t].name)') is zero-sized \(shapes[t])")
            }
            guard buffers[x].count == count(x), buffers[out].count == count(out), model.tensors[out].constant == nil else {
                throw fail(op, "tensor without storage")
            }
            func input(_ i: Int) throws -> Int {
                guard op.inputs.count > i, op.inputs[i] >= 0 else { throw fail(op, "missing input \(i)") }
                return op.inputs[i]
            }
            func constant(_ i: Int, rank: Int) throws -> [Int] {
                let t = try input(i)
                guard model.tensors[t].constant != nil, shapes[t].count == rank, buffers[t].count == count(t) else {
                    throw fail(op, "input \(i) must be a rank-\(rank) constant")
                }
                return shapes[t]
            }
            func bias(_ channels: Int) throws {
                guard op.inputs.count > 2, op.inputs[2] >= 0 else { return }
                guard buffers[op.inputs[2]].count == channels else { throw fail(op, "bias has \(buffers[op.inputs[2]].count) values for \(channels) channels") }
            }
            func expect(_ shape: [Int]) throws {
                guard os == shape else { throw fail(op, "output declared \(os), computes \(shape)") }
            }
            switch op.kind {
            case .conv2d(let sH, let sW, let dH, let dW, let padding, _), .depthwiseConv2d(let sH, let sW, let dH, let dW, let padding, _):
                guard xs.count == 4, sH >= 1, sW >= 1, dH >= 1, dW >= 1 else { throw fail(op, "needs a 4-D input and positive strides") }
                let f = try constant(1, rank: 4)
                guard f[1] >= 1, f[2] >= 1 else { throw fail(op, "empty filter") }
                let g = WindowGeometry(inH: xs[1], inW: xs[2], kH: f[1], kW: f[2], strideH: sH, strideW: sW,
                                       dilationH: dH, dilationW: dW, padding: padding)
                if case .conv2d = op.kind {
                    guard f[3] == xs[3] else { throw fail(op, "filter takes \(f[3]) channels, input has \(xs[3])") }
                    try bias(f[0])
                    try expect([xs[0], g.outH, g.outW, f[0]])
                } else {
                    guard f[0] == 1, f[3] == xs[3] else { throw fail(op, "depthwise filter \(f) does not fit input \(xs)") }
                    try bias(xs[3])
                    try expect([xs[0], g.outH, g.outW, xs[3]])
                }
            case .conv2dFused(let sH, let sW, let dH, let dW, let padding, let residual, let epilogue):
                guard xs.count == 4, sH >= 1, sW >= 1, dH >= 1, dW >= 1, op.inputs.count == 3 + (residual ? 1 : 0) + (epilogue == .prelu ? 1 : 0) else {
                    throw fail(op, "fused convolution with unexpected inputs")
                }
                let f = try constant(1, rank: 4)
                guard f[1] >= 1, f[2] >= 1, f[3] == xs[3] else { throw fail(op, "filter \(f) does not fit input \(xs)") }
                let g = WindowGeometry(inH: xs[1], inW: xs[2], kH: f[1], kW: f[2], strideH: sH, strideW: sW,
                                       dilationH: dH, dilationW: dW, padding: padding)
                if op.inputs[2] >= 0 { try bias(f[0]) }
                try expect([xs[0], g.outH, g.outW, f[0]])
                if residual {
                    // The residual has the output's shape, or fewer channels (a folded zero channel padding).
                    let r = try input(3), rs = shapes[r]
                    guard rs.count == os.count, rs.dropLast() == os.dropLast(), let rc = rs.last, let oc = os.last, rc >= 1, rc <= oc,
                          buffers[r].count == count(r), r != out else { throw fail(op, "residual \(shapes[r]) does not match \(os)") }
                }
                if epilogue == .prelu {
                    let a = try input(residual ? 4 : 3)
                    guard buffers[a].count == f[0] else { throw fail(op, "PReLU slopes for \(buffers[a].count) channels, output has \(f[0])") }
                }
            case .maxPool(let kH, let kW, let sH, let sW, let padding, _), .averagePool(let kH, let kW, let sH, let sW, let padding, _):
                guard xs.count == 4, kH >= 1, kW >= 1, sH >= 1, sW >= 1 else { throw fail(op, "bad pooling window") }
                let g = WindowGeometry(inH: xs[1], inW: xs[2], kH: kH, kW: kW, strideH: sH, strideW: sW, padding: padding)
                try expect([xs[0], g.outH, g.outW, xs[3]])
            case .add:
                let ys = shapes[try input(1)]
                guard buffers[op.inputs[1]].count == count(op.inputs[1]) else { throw fail(op, "input 1 without storage") }
                let rank = max(xs.count, ys.count)
                let px = Array(repeating: 1, count: rank - xs.count) + xs, py = Array(repeating: 1, count: rank - ys.count) + ys
                guard zip(px, py).allSatisfy({ $0 == $1 || $0 == 1 || $1 == 1 }), broadcastShape(xs, ys) == xs else {
                    throw fail(op, "cannot broadcast \(ys) to \(xs)")
                }
                try expect(xs)
            case .relu, .logistic, .leakyRelu, .dequantize:
                try expect(xs)
            case .addPReLU:
                let alpha = try input(2)
                let b = try input(1)
                guard shapes[b] == xs, buffers[b].count == count(b), os == xs, xs.last == buffers[alpha].count, buffers[alpha].count >= 1 else {
                    throw fail(op, "fused ADD+PRELU needs equal shapes and per-channel alpha")
                }
            case .prelu:
                let alpha = try input(1)
                let channels = buffers[alpha].count
                guard channels >= 1, os == xs, xs.last == channels else { throw fail(op, "alpha of \(channels) values for \(xs)") }
            case .reshape:
                guard count(out) == count(x) else { throw fail(op, "reshape of \(count(x)) values to \(os)") }
            case .concatenation(let axis, _):
                let rank = os.count
                let a = axis < 0 ? axis + rank : axis
                guard a >= 0, a < rank else { throw fail(op, "axis \(axis) out of range") }
                var total = 0
                for t in op.inputs {
                    guard t >= 0, shapes[t].count == rank, buffers[t].count == count(t),
                          (0..<rank).allSatisfy({ $0 == a || shapes[t][$0] == os[$0] }) else { throw fail(op, "inputs do not line up") }
                    total += shapes[t][a]
                }
                guard total == os[a] else { throw fail(op, "concatenated size \(total) is not \(os[a])") }
            case .pad:
                let amounts = model.tensors[try input(1)].intConstant ?? []
                guard xs.count == 4, amounts.count == 8, amounts.allSatisfy({ $0 >= 0 && $0 < 1 << 16 }) else { throw fail(op, "needs 4x2 non-negative amounts") }
                try expect((0..<4).map { xs[$0] + Int(amounts[2 * $0]) + Int(amounts[2 * $0 + 1]) })
            case .resizeBilinear:
                guard xs.count == 4, os.count == 4, os[0] == xs[0], os[3] == xs[3], os[1] >= 1, os[2] >= 1, xs[1] >= 1, xs[2] >= 1 else {
                    throw fail(op, "resize from \(xs) to \(os)")
                }
            case .fullyConnected:
                let w = try constant(1, rank: 2)
                guard w[1] >= 1, count(x) % w[1] == 0, count(out) == count(x) / w[1] * w[0] else {
                    throw fail(op, "weights \(w) do not fit input \(xs) and output \(os)")
                }
                try bias(w[0])
            case .mean(let keepDims):
                let axesTensor = try input(1)
                guard let axes = TFLiteReduce.resolvedAxes(model.tensors[axesTensor].intConstant ?? [], rank: xs.count), !axes.isEmpty else {
                    throw fail(op, "MEAN needs constant axes within rank \(xs.count)")
                }
                let kept = xs.indices.map { axes.contains($0) ? 1 : xs[$0] }
                let expected = keepDims ? kept : xs.indices.filter { !axes.contains($0) }.map { xs[$0] }
                guard count(out) == expected.reduce(1, *) else { throw fail(op, "output declared \(os), computes \(expected)") }
            }
        }
    }
}
