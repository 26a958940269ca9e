import Foundation
import Tensor

/// A TFLite model read from its FlatBuffers file: one subgraph, float32 activations. float16 constants
/// are dequantized at load, and the DEQUANTIZE ops that consumed them are dropped.
public struct TFLiteModel: Sendable {
    /// A tensor of the graph.
    public struct TensorInfo: Sendable {
        public let name: String
        public let shape: [Int]
        /// Constant values (weights, dequantized to float32), or nil for activations.
        public var constant: [Float]?
        /// Constant int32 values (PAD amounts, resize sizes, reshape shapes).
        public var intConstant: [Int32]?
    }

    /// One operator with its decoded options.
    public struct Operation: Sendable {
        public let kind: OperatorKind
        public let inputs: [Int]
        public let outputs: [Int]
    }

    /// The operators Facet runs, with their options.
    public enum OperatorKind: Sendable {
        case conv2d(strideH: Int, strideW: Int, dilationH: Int, dilationW: Int, padding: Padding, activation: Activation)
        case depthwiseConv2d(strideH: Int, strideW: Int, dilationH: Int, dilationW: Int, padding: Padding, activation: Activation)
        case maxPool(kH: Int, kW: Int, strideH: Int, strideW: Int, padding: Padding, activation: Activation)
        case averagePool(kH: Int, kW: Int, strideH: Int, strideW: Int, padding: Padding, activation: Activation)
        case add(activation: Activation)
        /// ADD then PRELU fused (inputs: a, b, alpha), produced by the fusion pass, never read from a file.
        case addPReLU
        /// CONV_2D with what followed it folded in (produced by the fusion pass): inputs x, filter, bias (or
        /// -1), then the residual tensor when `residual`, then the PReLU slopes when the epilogue is `.prelu`.
        case conv2dFused(strideH: Int, strideW: Int, dilationH: Int, dilationW: Int, padding: Padding, residual: Bool, epilogue: Epilogue)
        case relu
        case prelu
        case leakyRelu(alpha: Float)
        case logistic
        case reshape
        case concatenation(axis: Int, activation: Activation)
        case pad
        case resizeBilinear(alignCorners: Bool, halfPixelCenters: Bool)
        case fullyConnected(activation: Activation)
        case dequantize
        /// MEAN over the axes given by the int32 constant input 1 (ReducerOptions.keep_dims only changes the
        /// declared output shape, not the values or their order).
        case mean(keepDims: Bool)
    }

    /// Fused activations.
    public enum Activation: Sendable { case none, relu, relu6 }

    /// What a fused convolution applies after adding its residual.
    public enum Epilogue: Sendable, Equatable { case none, relu, prelu }

    public let path: String
    public let description: String
    public var tensors: [TensorInfo]
    public var operations: [Operation]
    public let inputs: [Int]
    public let outputs: [Int]

    /// Loads and checks a .tflite file.
    public init(contentsOf url: URL) throws {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelError.missing(path: path, hint: ModelStore.setupHint)
        }
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw ModelError.malformed(path: path, reason: error.localizedDescription)
        }
        try self.init(bytes: bytes, path: path)
    }

    init(bytes: [UInt8], path: String) throws {
        self.path = path
        let fb = FlatBuffer(bytes: bytes, path: path)
        guard bytes.count >= 8, bytes[4..<8] == [0x54, 0x46, 0x4C, 0x33] else {
            throw ModelError.malformed(path: path, reason: "no TFL3 file identifier (not a TFLite model, or truncated)")
        }
        let model = try fb.root()
        description = try model.string(3) ?? ""
        let codes = try model.tableVector(1).map { code -> Int32 in
            let deprecated = Int32(Int8(bitPattern: try code.uint8(0)))
            let builtin = try code.int32(3)
            return max(deprecated, builtin)
        }
        let buffers = try model.tableVector(4)
        let subgraphs = try model.tableVector(2)
        guard subgraphs.count == 1, let graph = subgraphs.first else {
            throw ModelError.malformed(path: path, reason: "expected one subgraph, found \(subgraphs.count)")
        }
        // Operators first: a model using an operator Facet lacks is reported as such, before its tensors
        // (which may use features that come with that operator, such as sparsity) are looked at.
        let tensorTables = try graph.tableVector(0)
        func checkIndices(_ list: [Int32]) throws -> [Int] {
            try list.map { i in
                guard i >= -1, Int(i) < tensorTables.count else { throw ModelError.malformed(path: path, reason: "tensor index \(i) out of range") }
                return Int(i)
            }
        }
        inputs = try checkIndices(try graph.int32Vector(1))
        outputs = try checkIndices(try graph.int32Vector(2))
        var operations: [Operation] = []
        for op in try graph.tableVector(3) {
            let codeIndex = Int(try op.uint32(0))
            guard codeIndex < codes.count else { throw ModelError.malformed(path: path, reason: "operator code \(codeIndex) out of range") }
            let kind = try Self.decode(code: codes[codeIndex], options: try op.table(4), path: path)
            operations.append(Operation(kind: kind, inputs: try checkIndices(try op.int32Vector(1)), outputs: try checkIndices(try op.int32Vector(2))))
        }
        var tensors: [TensorInfo] = []
        for t in tensorTables {
            let shape = try t.int32Vector(0).map(Int.init)
            var elements = 1
            for d in shape where d > 0 { elements = d < 1 << 20 && elements < 1 << 28 ? elements * d : Int.max }
            // Zero-sized dimensions are refused too: an empty tensor would reach the kernels as a buffer without memory.
            guard shape.count <= 8, shape.allSatisfy({ $0 > 0 && $0 < 1 << 20 }), elements < 1 << 28 else {
                throw ModelError.malformed(path: path, reason: "tensor with impossible shape \(shape)")
            }
            let type = try t.uint8(1)
            let bufferIndex = Int(try t.uint32(2))
            let name = try t.string(3) ?? ""
            var info = TensorInfo(name: name, shape: shape, constant: nil, intConstant: nil)
            if bufferIndex > 0 {
                guard bufferIndex < buffers.count else { throw ModelError.malformed(path: path, reason: "tensor \(name) names buffer \(bufferIndex) of \(buffers.count)") }
                if let range = try buffers[bufferIndex].byteRange(0), !range.isEmpty {
                    let count = shape.reduce(1, *)
                    switch type {
                    case 0: // FLOAT32
                        guard range.count == count * 4 else { throw ModelError.malformed(path: path, reason: "tensor \(name): \(range.count) bytes for \(count) float32 values") }
                        info.constant = (0..<count).map { Float(bitPattern: Self.le32(bytes, range.lowerBound + 4 * $0)) }
                    case 1: // FLOAT16
                        guard range.count == count * 2 else { throw ModelError.malformed(path: path, reason: "tensor \(name): \(range.count) bytes for \(count) float16 values") }
                        info.constant = (0..<count).map { i in
                            let bits = UInt16(bytes[range.lowerBound + 2 * i]) | UInt16(bytes[range.lowerBound + 2 * i + 1]) << 8
                            return Float(Float16(bitPattern: bits))
                        }
                    case 2: // INT32
                        guard range.count == count * 4 else { throw ModelError.malformed(path: path, reason: "tensor \(name): \(range.count) bytes for \(count) int32 values") }
                        info.intConstant = (0..<count).map { Int32(bitPattern: Self.le32(bytes, range.lowerBound + 4 * $0)) }
                    default:
                        throw ModelError.malformed(path: path, reason: "tensor \(name) has unsupported type \(type)")
                    }
                }
            }
            tensors.append(info)
        }
        // Fold DEQUANTIZE of constants into float32 constants.
        var kept: [Operation] = []
        for op in operations {
            if case .dequantize = op.kind, let source = op.inputs.first, source >= 0, let values = tensors[source].constant,
               let target = op.outputs.first, target >= 0 {
                tensors[target].constant = values
                continue
            }
            kept.append(op)
        }
        self.tensors = tensors
        let shapes = tensors.map(\.shape)
        let fused = Self.fuseAddActivation(Self.fuseConvEpilogues(Self.deferConvolutions(kept, outputs: outputs), outputs: outputs,
                                                                  shapes: shapes), outputs: outputs)
        self.operations = Self.deferDepthwise(Self.foldChannelPadding(fused, tensors: tensors, outputs: outputs), outputs: outputs)
    }

    /// Drops a PAD that only appends zero channels to a fused convolution's residual (BlazeFace's widening shortcut):
    /// the convolution takes the unpadded tensor as its residual, which then covers its first channels only
    /// (`ConvEpilogue.residualChannels`). One pass over memory fewer per widening block.
    static func foldChannelPadding(_ operations: [Operation], tensors: [TensorInfo], outputs: [Int]) -> [Operation] {
        var consumers: [Int: Int] = [:]
        for op in operations { for t in op.inputs where t >= 0 { consumers[t, default: 0] += 1 } }
        var producer: [Int: Int] = [:]
        for (i, op) in operations.enumerated() { for t in op.outputs where t >= 0 { producer[t] = i } }
        var result = operations
        var dropped = Set<Int>()
        for (i, op) in operations.enumerated() {
            guard case .conv2dFused(_, _, _, _, _, true, _) = op.kind, op.inputs.count > 3, let r = Optional(op.inputs[3]), r >= 0,
                  consumers[r] == 1, !outputs.contains(r), let p = producer[r], p < i, case .pad = operations[p].kind,
                  operations[p].inputs.count == 2, operations[p].inputs[0] >= 0, operations[p].inputs[1] >= 0,
                  let amounts = tensors[operations[p].inputs[1]].intConstant, amounts.count == 8,
                  amounts[0..<7].allSatisfy({ $0 == 0 }), amounts[7] > 0 else { continue }
            var inputs = op.inputs
            inputs[3] = operations[p].inputs[0]
            result[i] = Operation(kind: op.kind, inputs: inputs, outputs: op.outputs)
            dropped.insert(p)
        }
        return result.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
    }

    /// Moves each DEPTHWISE_CONV_2D whose output only a convolution uses to just before it, so the interpreter can run
    /// the two together (`TFLiteInterpreter`'s depthwise + 1×1 pairs). Safe for the same reason as `deferConvolutions`.
    static func deferDepthwise(_ operations: [Operation], outputs: [Int]) -> [Operation] {
        deferProducers(operations, outputs: outputs,
                       producer: { if case .depthwiseConv2d = $0 { return true } else { return false } },
                       consumer: { switch $0 { case .conv2d, .conv2dFused: return true; default: return false } })
    }

    /// Moves each CONV_2D whose output only an ADD uses to just before that ADD (BlazeFace computes the shortcut
    /// branch, max pool and channel padding, between the two), so that `fuseConvEpilogues` can fold the ADD into it.
    /// Every tensor is written once, so running a convolution later, after operators it does not feed, is safe.
    static func deferConvolutions(_ operations: [Operation], outputs: [Int]) -> [Operation] {
        deferProducers(operations, outputs: outputs,
                       producer: { if case .conv2d(_, _, _, _, _, .none) = $0 { return true } else { return false } },
                       consumer: { if case .add = $0 { return true } else { return false } })
    }

    /// Moves each `producer` operator whose output is used once, by a `consumer` operator further on (and is not a
    /// graph output), to just before that consumer. Each operator moves at most once, so two producers feeding
    /// one consumer cannot swap places forever.
    private static func deferProducers(_ operations: [Operation], outputs: [Int], producer: (OperatorKind) -> Bool,
                                       consumer: (OperatorKind) -> Bool) -> [Operation] {
        var consumers: [Int: Int] = [:]
        for op in operations { for t in op.inputs where t >= 0 { consumers[t, default: 0] += 1 } }
        var result = operations
        var moved = Set<Int>()
        var i = 0
        while i < result.count {
            let op = result[i]
            if producer(op.kind), let y = op.outputs.first, y >= 0, consumers[y] == 1, !outputs.contains(y), !moved.contains(y),
               let j = result[(i + 1)...].firstIndex(where: { $0.inputs.contains(y) }), j > i + 1, consumer(result[j].kind) {
                result.remove(at: i)
                result.insert(op, at: j - 1)
                moved.insert(y)
                continue   // another operator is now at i
            }
            i += 1
        }
        return result
    }

    /// Folds into a CONV_2D the ADD of a residual, then a RELU or PRELU, when each intermediate result is
    /// used by nothing else: the convolution then writes its final output in one pass (see `ConvEpilogue`).
    static func fuseConvEpilogues(_ operations: [Operation], outputs: [Int], shapes: [[Int]]) -> [Operation] {
        var consumers: [Int: Int] = [:]
        for op in operations { for t in op.inputs where t >= 0 { consumers[t, default: 0] += 1 } }
        func private_(_ t: Int) -> Bool { consumers[t] == 1 && !outputs.contains(t) }
        var result: [Operation] = []
        var i = 0
        while i < operations.count {
            let op = operations[i]
            guard case .conv2d(let sH, let sW, let dH, let dW, let padding, .none) = op.kind, let y = op.outputs.first,
                  op.inputs.count >= 2, private_(y), i + 1 < operations.count else {
                result.append(op); i += 1; continue
            }
            var inputs = [op.inputs[0], op.inputs[1], op.inputs.count > 2 ? op.inputs[2] : -1]
            var residual = false, epilogue = Epilogue.none, last = y, next = i + 1
            // An ADD of the convolution's output and a tensor of the same shape.
            if case .add(let activation) = operations[next].kind, activation != .relu6, operations[next].inputs.count == 2,
               operations[next].inputs.contains(y) {
                let other = operations[next].inputs[0] == y ? operations[next].inputs[1] : operations[next].inputs[0]
                if other >= 0, other != y, shapes[other] == shapes[y] {
                    residual = true
                    inputs.append(other)
                    last = operations[next].outputs[0]
                    if activation == .relu { epilogue = .relu }
                    next += 1
                }
            }
            // Then a RELU or PRELU of that result.
            if epilogue == .none, next < operations.count, (last == y || private_(last)), operations[next].inputs.first == last {
                if case .relu = operations[next].kind, operations[next].inputs.count == 1 {
                    epilogue = .relu; last = operations[next].outputs[0]; next += 1
                } else if case .prelu = operations[next].kind, operations[next].inputs.count == 2 {
                    epilogue = .prelu; inputs.append(operations[next].inputs[1]); last = operations[next].outputs[0]; next += 1
                }
            }
            if next == i + 1 { result.append(op); i += 1; continue }
            result.append(Operation(kind: .conv2dFused(strideH: sH, strideW: sW, dilationH: dH, dilationW: dW, padding: padding,
                                                        residual: residual, epilogue: epilogue),
                                    inputs: inputs, outputs: [last]))
            i = next
        }
        return result
    }

    /// Folds a RELU or PRELU that alone consumes an ADD's output into the ADD (one pass over memory instead of two).
    static func fuseAddActivation(_ operations: [Operation], outputs: [Int]) -> [Operation] {
        var consumers: [Int: Int] = [:]
        for op in operations { for t in op.inputs where t >= 0 { consumers[t, default: 0] += 1 } }
        var result: [Operation] = []
        var i = 0
        while i < operations.count {
            let op = operations[i]
            if case .add(.none) = op.kind, i + 1 < operations.count, let sum = op.outputs.first,
               operations[i + 1].inputs.first == sum, consumers[sum] == 1, !outputs.contains(sum) {
                let next = operations[i + 1]
                if case .relu = next.kind, next.inputs == [sum] {
                    result.append(Operation(kind: .add(activation: .relu), inputs: op.inputs, outputs: next.outputs))
                    i += 2
                    continue
                }
                if case .prelu = next.kind, next.inputs.count == 2, op.inputs.count == 2 {
                    result.append(Operation(kind: .addPReLU, inputs: op.inputs + [next.inputs[1]], outputs: next.outputs))
                    i += 2
                    continue
                }
            }
            result.append(op)
            i += 1
        }
        return result
    }

    private static func le32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    private static func padding(_ value: UInt8) -> Padding { value == 1 ? .valid : .same }

    private static func activation(_ value: UInt8, path: String) throws -> Activation {
        switch value {
        case 0: return .none
        case 1: return .relu
        case 3: return .relu6
        default: throw ModelError.unsupportedOperator(path: path, name: "fused activation \(value)")
        }
    }

    /// Builtin operator names for error messages (the ones most likely met).
    static let operatorNames: [Int32: String] = [
        0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 5: "DEPTH_TO_SPACE",
        6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6",
        22: "RESHAPE", 23: "RESIZE_BILINEAR", 25: "SOFTMAX", 40: "MEAN", 28: "TANH", 34: "PAD", 54: "PRELU", 98: "LEAKY_RELU", 124: "DENSIFY",
    ]

    private static func decode(code: Int32, options o: FlatBuffer.Table?, path: String) throws -> OperatorKind {
        func i(_ f: Int, _ d: Int32 = 0) throws -> Int { Int(try o?.int32(f, default: d) ?? d) }
        func u(_ f: Int) throws -> UInt8 { try o?.uint8(f) ?? 0 }
        switch code {
        case 3:
            return .conv2d(strideH: try i(2, 1), strideW: try i(1, 1), dilationH: try i(5, 1), dilationW: try i(4, 1),
                           padding: padding(try u(0)), activation: try activation(try u(3), path: path))
        case 4:
            guard try i(3, 1) == 1 else { throw ModelError.unsupportedOperator(path: path, name: "DEPTHWISE_CONV_2D with depth multiplier \(try i(3, 1))") }
            return .depthwiseConv2d(strideH: try i(2, 1), strideW: try i(1, 1), dilationH: try i(6, 1), dilationW: try i(5, 1),
                                    padding: padding(try u(0)), activation: try activation(try u(4), path: path))
        case 17, 1:
            let k = (kH: try i(4, 1), kW: try i(3, 1), sH: try i(2, 1), sW: try i(1, 1))
            let act = try activation(try u(5), path: path)
            return code == 17
                ? .maxPool(kH: k.kH, kW: k.kW, strideH: k.sH, strideW: k.sW, padding: padding(try u(0)), activation: act)
                : .averagePool(kH: k.kH, kW: k.kW, strideH: k.sH, strideW: k.sW, padding: padding(try u(0)), activation: act)
        case 0: return .add(activation: try activation(try u(0), path: path))
        case 19: return .relu
        case 54: return .prelu
        case 98: return .leakyRelu(alpha: try o?.float(0, default: 0.2) ?? 0.2)
        case 14: return .logistic
        case 22: return .reshape
        case 2: return .concatenation(axis: try i(0), activation: try activation(try u(1), path: path))
        case 34: return .pad
        case 23: return .resizeBilinear(alignCorners: try o?.bool(2) ?? false, halfPixelCenters: try o?.bool(3) ?? false)
        case 9: return .fullyConnected(activation: try activation(try u(0), path: path))
        case 6: return .dequantize
        case 40: return .mean(keepDims: try o?.bool(0) ?? false)
        default:
            throw ModelError.unsupportedOperator(path: path, name: operatorNames[code] ?? "builtin operator \(code)")
        }
    }
}
