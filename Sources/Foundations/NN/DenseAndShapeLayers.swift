import FacetCore
import Foundation
import Tensor

/// Fully connected: input `[n, inputs]` → output `[n, outputs]`, `y = act(x · W + b)`.
/// kernel `[inputs, outputs]` (Keras' layout), Glorot uniform; bias `[outputs]`, zeros.
/// Backward: `g = dy ⊙ act'(y)`, `dW += xᵀ · g`, `db += Σ_n g`, `dx = g · Wᵀ`.
public final class Dense: Layer {
    public let name: String
    public let inputs: Int, outputs: Int
    public let activation: Activation
    public let kernel: Parameter
    public let bias: Parameter
    private var input: Tensor?
    private var output: Tensor?

    public init(name: String, inputs: Int, outputs: Int, activation: Activation = .linear, rng: inout SeededRandom) {
        self.name = name
        self.inputs = inputs; self.outputs = outputs
        self.activation = activation
        kernel = Parameter(name: name + ".kernel",
                           value: Initializers.glorotUniform(shape: [inputs, outputs], fanIn: inputs, fanOut: outputs, rng: &rng))
        bias = Parameter(name: name + ".bias", value: Tensor(zeros: [outputs]))
    }

    /// The same layer and `Parameter`s with its own forward cache (see `Conv2D.sharingParameters`).
    private init(sharing other: Dense) {
        name = other.name
        inputs = other.inputs; outputs = other.outputs
        activation = other.activation
        kernel = other.kernel; bias = other.bias
    }

    public func sharingParameters() -> Dense { Dense(sharing: self) }

    public var parameters: [Parameter] { [kernel, bias] }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard inputs >= 1, outputs >= 1 else { throw NNError.invalidConfiguration("\(name): \(inputs) → \(outputs) units") }
        try kernel.check([inputs, outputs])
        try bias.check([outputs])
        guard input.count == 2, input[0] > 0, input[1] == inputs else {
            throw NNError.shapeMismatch(layer: name, expected: "[batch, \(inputs)]", got: input)
        }
        return [input[0], outputs]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let n = try outputShape(for: x.shape)[0]
        let (cin, cout) = (inputs, outputs)
        var y = Tensor.uninitialized([n, cout])
        x.withPointer { xp in kernel.value.withPointer { wp in bias.value.withPointer { bp in y.withMutablePointer { yp in
            TrainingKernels.broadcastRows(bp, rows: n, channels: cout, into: yp)
            BLAS.sgemm(m: n, n: cout, k: cin, a: xp, lda: cin, b: wp, ldb: cout, beta: 1, c: yp, ldc: cout)
            activation.apply(yp, count: n * cout)
        } } } }
        if training { input = x; output = y } else { input = nil; output = nil }
        return y
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, let y = output else { throw NNError.noForwardPass(layer: name) }
        guard dy.shape == y.shape else { throw NNError.shapeMismatch(layer: name, expected: "gradient \(y.shape)", got: dy.shape) }
        input = nil; output = nil
        let n = x.shape[0], (cin, cout) = (inputs, outputs)
        var grad = Tensor.uninitialized(dy.shape)
        let count = grad.count
        y.withPointer { yp in dy.withPointer { dp in
            grad.withMutablePointer { activation.multiplyDerivative(output: yp, gradient: dp, into: $0, count: count) }
        } }
        var dx = Tensor.uninitialized(x.shape)
        x.withPointer { xp in grad.withPointer { gp in kernel.value.withPointer { wp in
            bias.gradient.withMutablePointer { TrainingKernels.addColumnSums(gp, rows: n, channels: cout, into: $0) }
            kernel.gradient.withMutablePointer { dw in
                BLAS.sgemm(transA: true, m: cin, n: cout, k: n, a: xp, lda: cin, b: gp, ldb: cout, beta: 1, c: dw, ldc: cout)
            }
            dx.withMutablePointer { BLAS.sgemm(transB: true, m: n, n: cin, k: cout, a: gp, lda: cout, b: wp, ldb: cout, c: $0, ldc: cin) }
        } } }
        return dx
    }
}

/// Depth-to-space with block 2 (the DeepFakes "upscale" shuffle), TensorFlow's `depth_to_space` order:
/// input `[n, h, w, 4C]` → output `[n, 2h, 2w, C]`, `y[b, 2h+dy, 2w+dx, c] = x[b, h, w, (2·dy+dx)·C + c]`.
/// Backward is the inverse permutation (space-to-depth) of the gradient.
public final class PixelShuffle: Layer {
    public let name: String
    public init(name: String) { self.name = name }
    public var parameters: [Parameter] { [] }
    private var inputShape: [Int]?

    public func outputShape(for input: [Int]) throws -> [Int] {
        let (n, h, w, c) = try imageShape(input, layer: name)
        guard c % 4 == 0 else { throw NNError.shapeMismatch(layer: name, expected: "channels divisible by 4", got: input) }
        return [n, 2 * h, 2 * w, c / 4]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let shape = try outputShape(for: x.shape)
        var y = Tensor.uninitialized(shape)
        x.withPointer { xp in y.withMutablePointer { yp in
            TrainingKernels.pixelShuffle(xp, into: yp, n: x.shape[0], h: x.shape[1], w: x.shape[2], outChannels: shape[3], inverse: false)
        } }
        inputShape = training ? x.shape : nil
        return y
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let shape = inputShape else { throw NNError.noForwardPass(layer: name) }
        let expected = try outputShape(for: shape)
        guard dy.shape == expected else { throw NNError.shapeMismatch(layer: name, expected: "gradient \(expected)", got: dy.shape) }
        inputShape = nil
        var dx = Tensor.uninitialized(shape)
        dy.withPointer { gp in dx.withMutablePointer { xp in
            TrainingKernels.pixelShuffle(gp, into: xp, n: shape[0], h: shape[1], w: shape[2], outChannels: expected[3], inverse: true)
        } }
        return dx
    }
}

/// Reshape that keeps the batch dimension: `[n, …]` → `[n] + target`. `Reshape(name:, to: [-1])` flattens.
/// Row-major, so it matches Keras' `Flatten` and `Reshape` on NHWC tensors.
public final class Reshape: Layer {
    public let name: String
    /// Per-sample shape; one entry may be -1 (inferred).
    public let target: [Int]
    private var inputShape: [Int]?

    public init(name: String, to target: [Int]) {
        self.name = name
        self.target = target
    }

    /// Flatten: `[n, …]` → `[n, product]`.
    public static func flatten(name: String) -> Reshape { Reshape(name: name, to: [-1]) }

    public var parameters: [Parameter] { [] }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count >= 1, input.allSatisfy({ $0 > 0 }) else {
            throw NNError.shapeMismatch(layer: name, expected: "[batch, …]", got: input)
        }
        let size = input.dropFirst().reduce(1, *)
        let known = target.filter { $0 != -1 }.reduce(1, *)
        let unknowns = target.filter { $0 == -1 }.count
        var shape = target
        if unknowns == 1, known > 0, size % known == 0, let i = target.firstIndex(of: -1) {
            shape[i] = size / known
        } else if unknowns != 0 || known != size {
            throw NNError.shapeMismatch(layer: name, expected: "\(size) values per sample to fill \(target)", got: input)
        }
        return [input[0]] + shape
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let shape = try outputShape(for: x.shape)
        inputShape = training ? x.shape : nil
        return x.reshaped(shape)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let shape = inputShape else { throw NNError.noForwardPass(layer: name) }
        guard dy.count == shape.reduce(1, *) else { throw NNError.shapeMismatch(layer: name, expected: "gradient of \(shape)", got: dy.shape) }
        inputShape = nil
        return dy.reshaped(shape)
    }
}
