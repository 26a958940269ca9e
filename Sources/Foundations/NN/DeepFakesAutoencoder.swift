import FacetCore
import Foundation
import Tensor

/// The original DeepFakes autoencoder: one shared encoder and a decoder per identity (A and B).
///
/// With width divisor d and input size S (64 in the original; bottleneck side s = S/16):
/// - encoder `[n, S, S, 3]` → conv 128/d, 256/d, 512/d, 1024/d (5×5, stride 2, SAME, LeakyReLU 0.1) →
///   flatten → dense 1024/d → dense s·s·1024/d → reshape `[s, s, 1024/d]` → upscale 512/d → `[n, 2s, 2s, 512/d]`;
/// - decoder `[n, 2s, 2s, 512/d]` → upscale 256/d, 128/d, 64/d → conv 3 (5×5, SAME, sigmoid) → `[n, S, S, 3]`
///   (with `maskHead`, conv 4: RGB then the predicted mask, `[n, S, S, 4]`);
/// - upscale f = conv 3×3 to 4f filters + LeakyReLU 0.1 + pixel shuffle (depth-to-space 2).
///
/// Weights are drawn from one `SeededRandom(seed)` stream in the order encoder, decoder A, decoder B
/// (layer by layer, kernels Glorot uniform, biases zero), so a seed fixes the model exactly.
public final class DeepFakesAutoencoder {
    /// The architecture's knobs; stored in checkpoints.
    public struct Configuration: Equatable, Sendable, Codable {
        /// Side of the square RGB input and output, a multiple of 16.
        public var inputSize: Int
        /// Every filter count and dense size is divided by this (1 is the original; 8 is the test fixture's).
        public var widthDivisor: Int
        /// Seed of the weight initialisation.
        public var seed: UInt64
        /// Each decoder's output layer has a fourth (sigmoid) channel: the face mask it predicts. Left out of
        /// the JSON when false, so configurations written before it existed read back unchanged.
        public var maskHead: Bool

        public init(inputSize: Int = 64, widthDivisor: Int = 1, seed: UInt64 = 0, maskHead: Bool = false) {
            self.inputSize = inputSize
            self.widthDivisor = widthDivisor
            self.seed = seed
            self.maskHead = maskHead
        }

        enum CodingKeys: String, CodingKey { case inputSize, widthDivisor, seed, maskHead }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            inputSize = try c.decode(Int.self, forKey: .inputSize)
            widthDivisor = try c.decode(Int.self, forKey: .widthDivisor)
            seed = try c.decode(UInt64.self, forKey: .seed)
            maskHead = try c.decodeIfPresent(Bool.self, forKey: .maskHead) ?? false
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(inputSize, forKey: .inputSize)
            try c.encode(widthDivisor, forKey: .widthDivisor)
            try c.encode(seed, forKey: .seed)
            if maskHead { try c.encode(true, forKey: .maskHead) }
        }

        /// Channels of each decoder's output: RGB, plus the mask with `maskHead`.
        public var outputChannels: Int { maskHead ? 4 : 3 }

        func validate() throws {
            guard inputSize >= 16, inputSize % 16 == 0 else {
                throw NNError.invalidConfiguration("input size \(inputSize) is not a positive multiple of 16")
            }
            guard widthDivisor >= 1, 64 % widthDivisor == 0 else {
                throw NNError.invalidConfiguration("width divisor \(widthDivisor) does not divide 64")
            }
        }

        func width(_ filters: Int) -> Int { filters / widthDivisor }
    }

    /// Which identity's decoder.
    public enum Side: String, Sendable, CaseIterable { case a = "A", b = "B" }

    public static let architecture = "deepfakes-autoencoder"
    public let configuration: Configuration
    public let encoder: Sequential
    public let decoderA: Sequential
    public let decoderB: Sequential
    /// im2col scratch shared by every convolution of the model.
    public let workspace: Workspace

    public init(configuration: Configuration = Configuration(), workspace: Workspace = Workspace()) throws {
        try configuration.validate()
        self.configuration = configuration
        self.workspace = workspace
        var rng = SeededRandom(seed: configuration.seed)
        let c = configuration, s = c.inputSize / 16
        let alpha = Activation.leakyReLU(alpha: 0.1)
        var encoderLayers: [any Layer] = []
        var channels = 3
        for (index, filters) in [128, 256, 512, 1024].enumerated() {
            let conv = Conv2D(name: "encoder.conv\(index + 1)", inChannels: channels, outChannels: c.width(filters),
                              kernelSize: 5, stride: 2, activation: alpha, workspace: workspace, rng: &rng)
            conv.computesInputGradient = index > 0   // nothing upstream of the first layer needs it
            encoderLayers.append(conv)
            channels = c.width(filters)
        }
        encoderLayers.append(Reshape.flatten(name: "encoder.flatten"))
        encoderLayers.append(Dense(name: "encoder.dense1", inputs: s * s * channels, outputs: c.width(1024), rng: &rng))
        encoderLayers.append(Dense(name: "encoder.dense2", inputs: c.width(1024), outputs: s * s * c.width(1024), rng: &rng))
        encoderLayers.append(Reshape(name: "encoder.reshape", to: [s, s, c.width(1024)]))
        encoderLayers += Self.upscale(name: "encoder.upscale", inChannels: c.width(1024), filters: c.width(512),
                                      workspace: workspace, rng: &rng)
        encoder = Sequential(name: "encoder", encoderLayers)
        decoderA = Self.decoder(name: "decoderA", c, workspace: workspace, rng: &rng)
        decoderB = Self.decoder(name: "decoderB", c, workspace: workspace, rng: &rng)
    }

    /// conv 3×3 to 4·filters + LeakyReLU 0.1, then depth-to-space: `[n, h, w, in]` → `[n, 2h, 2w, filters]`.
    static func upscale(name: String, inChannels: Int, filters: Int, workspace: Workspace, rng: inout SeededRandom) -> [any Layer] {
        [Conv2D(name: name + ".conv", inChannels: inChannels, outChannels: 4 * filters, kernelSize: 3,
                activation: .leakyReLU(alpha: 0.1), workspace: workspace, rng: &rng),
         PixelShuffle(name: name + ".shuffle")]
    }

    static func decoder(name: String, _ c: Configuration, workspace: Workspace, rng: inout SeededRandom) -> Sequential {
        var layers: [any Layer] = []
        var channels = c.width(512)
        for (index, filters) in [256, 128, 64].enumerated() {
            layers += upscale(name: "\(name).upscale\(index + 1)", inChannels: channels, filters: c.width(filters),
                              workspace: workspace, rng: &rng)
            channels = c.width(filters)
        }
        layers.append(Conv2D(name: "\(name).output", inChannels: channels, outChannels: c.outputChannels, kernelSize: 5,
                             activation: .sigmoid, workspace: workspace, rng: &rng))
        return Sequential(name: name, layers)
    }

    public func decoder(_ side: Side) -> Sequential { side == .a ? decoderA : decoderB }

    /// Encoder then the side's decoder: `[n, S, S, 3]` → `[n, S, S, 3]` (`[n, S, S, 4]` with the mask head) in (0, 1).
    public func forward(_ x: Tensor, side: Side, training: Bool) throws -> Tensor {
        try decoder(side).forward(try encoder.forward(x, training: training), training: training)
    }

    /// Backward through the side's decoder and the encoder (after a training forward of that side),
    /// accumulating the gradients of both.
    public func backward(_ dy: Tensor, side: Side) throws {
        _ = try encoder.backward(try decoder(side).backward(dy))
    }

    /// The parameters one side trains: encoder then its decoder.
    public func parameters(_ side: Side) -> [Parameter] { encoder.parameters + decoder(side).parameters }

    /// Every parameter once: encoder, decoder A, decoder B.
    public var allParameters: [Parameter] { encoder.parameters + decoderA.parameters + decoderB.parameters }

    /// Multiply-adds of one image's forward pass (convolutions and dense layers).
    public var forwardMultiplyAdds: Int {
        var total = 0
        var shape = [1, configuration.inputSize, configuration.inputSize, 3]
        for layer in encoder.layers + decoderA.layers {
            guard let out = try? layer.outputShape(for: shape) else { return 0 }
            if let conv = layer as? Conv2D {
                total += out[1] * out[2] * conv.outChannels * conv.kernelSize * conv.kernelSize * conv.inChannels
            } else if let dense = layer as? Dense {
                total += dense.inputs * dense.outputs
            }
            shape = out
        }
        return total
    }
}

/// Trains a `DeepFakesAutoencoder` the way the original does: one Adam per side (each also updating the
/// shared encoder, with its own moments and step count), a step of side A then a step of side B.
public final class DeepFakesTrainer {
    public let model: DeepFakesAutoencoder
    public let optimizerA: Adam
    public let optimizerB: Adam
    public var loss: Loss
    /// Completed iterations (one iteration = a step of each side).
    public var iteration = 0

    /// Adam(5e-5, β1 0.5, β2 0.999) and MAE, as the original.
    public init(model: DeepFakesAutoencoder,
                optimizer: Adam.Configuration = Adam.Configuration(learningRate: 5e-5, beta1: 0.5, beta2: 0.999),
                loss: Loss = .mae) {
        self.model = model
        self.loss = loss
        optimizerA = Adam(label: "A", parameters: model.parameters(.a), configuration: optimizer)
        optimizerB = Adam(label: "B", parameters: model.parameters(.b), configuration: optimizer)
    }

    public func optimizer(_ side: DeepFakesAutoencoder.Side) -> Adam { side == .a ? optimizerA : optimizerB }

    /// One optimisation step of one side on a batch (`input`, `target` `[n, S, S, 3]`, optional loss
    /// weights `[n, S, S, 1]`); returns the loss before the update.
    @discardableResult
    public func step(_ side: DeepFakesAutoencoder.Side, input: Tensor, target: Tensor, weights: Tensor? = nil) throws -> Float {
        let adam = optimizer(side)
        for p in adam.parameters { p.zeroGradient() }
        let prediction = try model.forward(input, side: side, training: true)
        let (value, gradient) = try loss.evaluate(prediction: prediction, target: target, weights: weights)
        try model.backward(gradient, side: side)
        try adam.step()
        return value
    }

    /// A step of A then a step of B; returns both losses.
    @discardableResult
    public func iterate(inputA: Tensor, targetA: Tensor, inputB: Tensor, targetB: Tensor) throws -> (a: Float, b: Float) {
        let a = try step(.a, input: inputA, target: targetA)
        let b = try step(.b, input: inputB, target: targetB)
        iteration += 1
        return (a, b)
    }
}
