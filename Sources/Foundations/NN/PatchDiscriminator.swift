import FacetCore
import Foundation
import Tensor

/// A PatchGAN discriminator sized for the CPU: it scores every overlapping patch of a face as real or
/// generated, so its verdict is about texture and detail (what pixel losses blur), not global layout.
///
/// Input `[n, S, S, 3]` (RGB 0…1, S a multiple of 8) → logits `[n, S/8, S/8, 1]`:
/// - `conv1` 4×4 stride 2 to `w` filters, `conv2` to 2w, `conv3` to 4w (SAME padding, LeakyReLU 0.2),
/// - `output` 3×3 stride 1 to 1 (linear: a least-squares GAN reads the raw score).
/// No normalisation layers: the least-squares loss and instance noise (`InstanceNoise`) are the stabilisers.
/// Each logit sees a 38×38-pixel patch.
///
/// At 64 px with w = 32 (the default): 166 753 parameters, 18.42 M multiply-adds per face forward
/// (conv1 1.57 M, conv2 8.39 M, conv3 8.39 M, output 0.07 M) — a seventh of `lite`'s 124 M. Weights are
/// Glorot uniform from `SeededRandom(seed)`, biases zero.
public final class PatchDiscriminator {
    public struct Configuration: Equatable, Sendable, Codable {
        /// Side of the square input, a multiple of 8.
        public var inputSize: Int
        /// Filters of the first layer (then 2w, 4w).
        public var width: Int
        public var seed: UInt64

        public init(inputSize: Int = 64, width: Int = 32, seed: UInt64 = 0) {
            self.inputSize = inputSize; self.width = width; self.seed = seed
        }
    }

    public let name: String
    public let configuration: Configuration
    public let network: Sequential
    private let first: Conv2D

    /// `name` prefixes the parameter names (`discriminatorA.conv1.kernel`).
    public init(name: String, configuration: Configuration, workspace: Workspace = Workspace()) throws {
        let c = configuration
        guard c.inputSize >= 8, c.inputSize % 8 == 0, c.width >= 1, c.width <= 1024 else {
            throw NNError.invalidConfiguration("discriminator: input \(c.inputSize) px (a multiple of 8), width \(c.width)")
        }
        self.name = name
        self.configuration = c
        var rng = SeededRandom(seed: c.seed)
        let leaky = Activation.leakyReLU(alpha: 0.2)
        var layers: [Conv2D] = []
        var channels = 3
        for (index, filters) in [c.width, 2 * c.width, 4 * c.width].enumerated() {
            layers.append(Conv2D(name: "\(name).conv\(index + 1)", inChannels: channels, outChannels: filters, kernelSize: 4, stride: 2,
                                 activation: leaky, workspace: workspace, rng: &rng))
            channels = filters
        }
        layers.append(Conv2D(name: "\(name).output", inChannels: channels, outChannels: 1, kernelSize: 3, workspace: workspace, rng: &rng))
        first = layers[0]
        network = Sequential(name: name, layers)
    }

    public var parameters: [Parameter] { network.parameters }
    public var parameterCount: Int { network.parameterCount }

    /// `[n, S, S, 3]` → logits `[n, S/8, S/8, 1]`.
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor { try network.forward(x, training: training) }

    /// After a training forward: accumulates the parameter gradients and returns the gradient with respect
    /// to the input (`[n, S, S, 3]`) when `inputGradient`, else an empty tensor (the discriminator's own step
    /// does not need it).
    public func backward(_ dy: Tensor, inputGradient: Bool) throws -> Tensor {
        first.computesInputGradient = inputGradient
        return try network.backward(dy)
    }

    /// Multiply-adds of one face's forward pass.
    public var forwardMultiplyAdds: Int {
        var total = 0
        var shape = [1, configuration.inputSize, configuration.inputSize, 3]
        for case let conv as Conv2D in network.layers {
            guard let out = try? conv.outputShape(for: shape) else { return 0 }
            total += out[1] * out[2] * conv.outChannels * conv.kernelSize * conv.kernelSize * conv.inChannels
            shape = out
        }
        return total
    }
}

/// The least-squares GAN loss (Mao et al. 2017): `mean((y − target)²)` over every logit, with its gradient
/// `2(y − target)/count`. The discriminator pulls real patches to 1 and generated ones to 0; the generator
/// pulls its patches to 1. Unlike the log loss its gradient does not vanish when the discriminator is sure,
/// which keeps a small discriminator from starving the generator.
public enum LeastSquaresGAN {
    public static func loss(_ logits: Tensor, target: Float) -> (value: Float, gradient: Tensor) {
        let count = logits.count
        guard count > 0 else { return (0, logits) }
        var gradient = Tensor.uninitialized(logits.shape)
        var total = 0.0
        let scale = 2 / Float(count)
        logits.withPointer { y in gradient.withMutablePointer { g in
            for i in 0..<count {
                let d = y[i] - target
                total += Double(d * d)
                g[i] = d * scale
            }
        } }
        return (Float(total / Double(count)), gradient)
    }
}

/// Instance noise (Sønderby et al. 2016): the discriminator sees real and generated faces with the same
/// zero-mean noise added, so early on their distributions overlap and it cannot win outright; the noise
/// fades to nothing. Uniform in ±√3·σ (standard deviation σ), drawn from `SeededRandom(seed)` so a
/// resumed run adds exactly the same noise.
public enum InstanceNoise {
    /// σ at `iteration`: `initial` falling linearly to 0 at `fadeIterations`.
    public static func sigma(initial: Double, fadeIterations: Int, iteration: Int) -> Float {
        guard initial > 0, fadeIterations > 0, iteration < fadeIterations else { return 0 }
        return Float(initial * (1 - Double(iteration) / Double(fadeIterations)))
    }

    /// `x` plus the noise (or `x` itself when σ is 0).
    public static func add(to x: Tensor, sigma: Float, seed: UInt64) -> Tensor {
        guard sigma > 0 else { return x }
        var rng = SeededRandom(seed: seed)
        var y = x
        let half = 3.0.squareRoot() * Double(sigma), count = y.count
        y.withMutablePointer { p in
            for i in 0..<count { p[i] += Float((2 * Double(rng.nextUnitFloat()) - 1) * half) }
        }
        return y
    }
}
