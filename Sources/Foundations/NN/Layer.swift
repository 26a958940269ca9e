import FacetCore
import Foundation
import Tensor

/// A trainable tensor: its value and the gradient that backward passes accumulate into.
///
/// Shared by reference: the DeepFakes encoder's parameters belong to both autoencoders (and to both
/// optimizers) at once.
public final class Parameter {
    /// Dotted name, unique within a model (`encoder.conv1.kernel`); the checkpoint key.
    public let name: String
    public var value: Tensor
    /// Same shape as `value`; summed over every backward pass since the last `zeroGradient()`.
    public var gradient: Tensor

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.gradient = Tensor(zeros: value.shape)
    }

    public func zeroGradient() {
        gradient.data.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Throws unless value and gradient have `shape` (kernels read them through raw pointers, so a
    /// wrongly shaped assignment must stop here).
    func check(_ shape: [Int]) throws {
        if value.shape != shape { throw NNError.shapeMismatch(layer: name, expected: "\(shape)", got: value.shape) }
        if gradient.shape != shape { throw NNError.shapeMismatch(layer: name + " gradient", expected: "\(shape)", got: gradient.shape) }
    }
}

/// One step of a network. `forward` caches what `backward` needs; `backward` takes the loss gradient with
/// respect to the output (same shape as the output), ADDS the gradients of the parameters to
/// `Parameter.gradient`, and returns the gradient with respect to the input.
///
/// Image tensors are NHWC `[batch, height, width, channels]`; dense tensors are `[batch, features]`.
public protocol Layer: AnyObject {
    /// Dotted name used as the prefix of the parameter names.
    var name: String { get }
    /// The trainable tensors, in a fixed order.
    var parameters: [Parameter] { get }
    /// The output shape for an input shape, or a thrown `NNError.shapeMismatch` when the input does not fit.
    func outputShape(for input: [Int]) throws -> [Int]
    /// `training` false skips caching (inference).
    func forward(_ x: Tensor, training: Bool) throws -> Tensor
    /// Needs a preceding `forward(_, training: true)`; throws `NNError.noForwardPass` otherwise.
    func backward(_ dy: Tensor) throws -> Tensor
}

/// Layers applied in order.
public final class Sequential: Layer {
    public let name: String
    public let layers: [any Layer]

    public init(name: String, _ layers: [any Layer]) {
        self.name = name
        self.layers = layers
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try layers.reduce(input) { try $1.outputShape(for: $0) }
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        var y = x
        for layer in layers { y = try layer.forward(y, training: training) }
        return y
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        var g = dy
        for layer in layers.reversed() { g = try layer.backward(g) }
        return g
    }
}

extension Sequential {
    /// The same network sharing every `Parameter` (gradients accumulate into the same tensors) with its own
    /// forward caches, so it can run a second pass while the first awaits its backward (the cycle loss
    /// encodes a face, then encodes the decoded swap). Throws for a layer type it does not know.
    public func sharingParameters() throws -> Sequential {
        Sequential(name: name, try layers.map { layer -> any Layer in
            switch layer {
            case let conv as Conv2D: return conv.sharingParameters()
            case let dense as Dense: return dense.sharingParameters()
            case let nested as Sequential: return try nested.sharingParameters()
            case let shuffle as PixelShuffle: return PixelShuffle(name: shuffle.name)
            case let reshape as Reshape: return Reshape(name: reshape.name, to: reshape.target)
            case let act as ActivationLayer: return ActivationLayer(name: act.name, act.activation)
            default: throw NNError.invalidConfiguration("\(layer.name): cannot share the parameters of a \(type(of: layer))")
            }
        })
    }
}

extension Layer {
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }
    /// Number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }
}

/// Errors from building, running, and checkpointing networks. Each names the layer or file and the problem.
public enum NNError: FacetError, Equatable {
    /// A tensor reached a layer with a shape it cannot take.
    case shapeMismatch(layer: String, expected: String, got: [Int])
    /// `backward` was called without a training-mode `forward` before it.
    case noForwardPass(layer: String)
    /// A model configuration that cannot be built (e.g. a width divisor that does not divide the filters).
    case invalidConfiguration(String)
    /// The checkpoint file does not exist.
    case checkpointMissing(path: String)
    /// The file is not a readable safetensors file (truncated, bad header, offsets outside the file).
    case checkpointUnreadable(path: String, reason: String)
    /// The file is valid safetensors but does not fit the model: every problem is listed.
    case checkpointMismatch(path: String, problems: [String])

    public var exitStatus: ExitStatus {
        switch self {
        case .checkpointMissing: return .noInput
        case .invalidConfiguration: return .usage
        case .shapeMismatch, .checkpointUnreadable, .checkpointMismatch: return .dataError
        case .noForwardPass: return .failure
        }
    }

    public var description: String {
        switch self {
        case .shapeMismatch(let layer, let expected, let got):
            return "\(layer): expected input \(expected), got \(got)"
        case .noForwardPass(let layer): return "\(layer): backward called without a training forward pass"
        case .invalidConfiguration(let reason): return "invalid network configuration: \(reason)"
        case .checkpointMissing(let path): return "\(path): no such checkpoint"
        case .checkpointUnreadable(let path, let reason): return "\(path): not a readable safetensors checkpoint: \(reason)"
        case .checkpointMismatch(let path, let problems):
            // The first problems in full, then a count: a wrong width makes every tensor mismatch.
            let shown = problems.prefix(6).joined(separator: "; ")
            let more = problems.count > 6 ? "; and \(problems.count - 6) more" : ""
            return "\(path): checkpoint does not fit the model (\(problems.count) problems): \(shown)\(more)"
        }
    }
}

extension Tensor {
    /// A tensor whose values the caller overwrites entirely (skips zero-filling).
    static func uninitialized(_ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        let data = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        return Tensor(shape: shape, data: data)
    }
}

/// `[n, h, w, c]` of a rank-4 tensor, or a thrown shape mismatch.
func imageShape(_ shape: [Int], layer: String) throws -> (n: Int, h: Int, w: Int, c: Int) {
    guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
        throw NNError.shapeMismatch(layer: layer, expected: "[batch, height, width, channels]", got: shape)
    }
    return (shape[0], shape[1], shape[2], shape[3])
}

/// A valid address for an empty buffer (never read or written: every kernel is given count 0 with it).
nonisolated(unsafe) private let emptyBufferAddress = UnsafeMutablePointer<Float>.allocate(capacity: 1)

extension Tensor {
    /// Calls `body` with the address of the values (a harmless placeholder when there are none).
    func withPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeBufferPointer { try body($0.baseAddress ?? UnsafePointer(emptyBufferAddress)) }
    }

    /// Calls `body` with the mutable address of the values (copying first if they are shared).
    mutating func withMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeMutableBufferPointer { try body($0.baseAddress ?? emptyBufferAddress) }
    }
}

/// Scratch memory shared by the layers of one model (they run one at a time): the im2col matrices.
/// Grows on first use only, so steady-state training does not allocate it again.
public final class Workspace {
    private(set) var buffer: [Float] = []
    /// Upper bound, in floats, for one im2col block; convolutions cut the batch into blocks of whole
    /// images that fit (at least one image). 16 Mi floats = 64 MiB.
    public let blockFloats: Int

    public init(blockFloats: Int = 16 << 20) { self.blockFloats = blockFloats }

    /// Calls `body` with at least `count` floats of scratch.
    func with<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        if buffer.count < count { buffer = [Float](repeating: 0, count: count) }
        return try buffer.withUnsafeMutableBufferPointer { try body($0.baseAddress ?? emptyBufferAddress) }
    }
}
