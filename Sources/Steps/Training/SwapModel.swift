import Foundation
import NN
import Tensor

/// The models `train` offers, all `DeepFakesAutoencoder`s (one shared encoder, a decoder per identity).
///
/// | kind | input | width | encoder / decoder parameters | multiply-adds per image (forward) |
/// |---|---|---|---|---|
/// | `original` | 64 px | 1 (128…1024 filters) | 69.7 M / 6.20 M | 1.900 G |
/// | `lite` | 64 px | ¼ (32…256 filters) | 4.36 M / 0.39 M | 0.124 G |
/// | `df128` | 128 px | ½ (64…512 filters) | 42.6 M / 1.55 M | 1.930 G |
///
/// `original` is the DeepFakes model of the Keras peer; `lite` is sized for training on a 2-core CPU (a
/// 15th of the original's arithmetic: 0.17 s per iteration of 2 × 16 faces on 2 cores, see
/// `benchmarks/train/RESULTS.md`); `df128` is the same layout at 128 px with half the filters.
public enum SwapModelKind: String, CaseIterable, Codable, Sendable {
    case original, lite, df128

    public var inputSize: Int { self == .df128 ? 128 : 64 }
    public var widthDivisor: Int {
        switch self { case .original: return 1; case .lite: return 4; case .df128: return 2 }
    }
    /// Adam's learning rate when none is given: the original's 5e-5; 3e-4 for the small model (over its
    /// first 1000 iterations on real faces it reached a lower loss than 1e-4 and 6e-4).
    public var defaultLearningRate: Double { self == .lite ? 3e-4 : 5e-5 }

    public func configuration(seed: UInt64, maskHead: Bool) -> DeepFakesAutoencoder.Configuration {
        .init(inputSize: inputSize, widthDivisor: widthDivisor, seed: seed, maskHead: maskHead)
    }
}

/// The reconstruction loss between a decoder's RGB output and the target.
public enum ReconstructionLoss: String, CaseIterable, Codable, Sendable {
    /// Mean absolute error (the original's).
    case mae
    /// Mean squared error.
    case mse
    /// Structural dissimilarity (1 − SSIM)/2, 11×11 Gaussian window, σ 1.5.
    case ssim
    /// (DSSIM + MAE) / 2.
    case mixed

    /// Value and gradient w.r.t. `prediction` (`[n, S, S, 3]`), pixels weighted by `weights` (`[n, S, S, 1]`).
    func evaluate(prediction: Tensor, target: Tensor, weights: Tensor?) throws -> (value: Float, gradient: Tensor) {
        switch self {
        case .mae: return try Loss.mae.evaluate(prediction: prediction, target: target, weights: weights)
        case .mse: return try Loss.mse.evaluate(prediction: prediction, target: target, weights: weights)
        case .ssim: return try Loss.standardDSSIM.evaluate(prediction: prediction, target: target, weights: weights)
        case .mixed:
            let (a, ga) = try Loss.standardDSSIM.evaluate(prediction: prediction, target: target, weights: weights)
            let (b, gb) = try Loss.mae.evaluate(prediction: prediction, target: target, weights: weights)
            var gradient = ga
            for i in 0..<gradient.count { gradient.data[i] = (ga.data[i] + gb.data[i]) * 0.5 }
            return ((a + b) / 2, gradient)
        }
    }
}

/// One side's batch: the warped inputs, the targets, and (optionally) per-pixel loss weights and the target
/// masks the mask head learns.
public struct TrainingBatch: Sendable {
    /// `[n, S, S, 3]` each, values 0…1.
    public var input: Tensor
    public var target: Tensor
    /// `[n, S, S, 1]`: the reconstruction loss's pixel weights (nil: all 1).
    public var weights: Tensor?
    /// `[n, S, S, 1]`: the face mask, the mask head's target (nil without a mask head).
    public var mask: Tensor?

    public init(input: Tensor, target: Tensor, weights: Tensor? = nil, mask: Tensor? = nil) {
        self.input = input; self.target = target; self.weights = weights; self.mask = mask
    }
}

/// Losses of one step (before the update).
public struct StepLoss: Sendable, Equatable {
    public var reconstruction: Float
    /// The mask head's mean squared error, when there is one.
    public var mask: Float?
    /// The generator's least-squares GAN loss (unweighted), after the warm-up of a GAN run.
    public var generator: Float? = nil
    /// The side's discriminator's loss, in a GAN run.
    public var discriminator: Float? = nil
    /// The cycle loss of the OTHER side's faces (the step of B computes A→B→A), unweighted, with a cycle weight.
    public var cycle: Float? = nil

    /// Every loss is finite.
    var isFinite: Bool { [reconstruction, mask, generator, discriminator, cycle].allSatisfy { $0?.isFinite ?? true } }
}

/// Trains a `DeepFakesAutoencoder` as the original does (one Adam per side, each moving the shared encoder
/// with its own moments; a step of A then a step of B), with a choice of loss, pixel weights and the
/// optional mask head (trained with MSE on the face mask).
public final class SwapTrainer {
    public let model: DeepFakesAutoencoder
    public let optimizerA: Adam
    public let optimizerB: Adam
    public let loss: ReconstructionLoss
    /// Completed iterations.
    public var iteration = 0
    /// The GAN and cycle terms (`configureAdversarial`); nil trains on pixel losses only.
    private(set) var adversarial: AdversarialTerms?

    /// Adam(learningRate, β1 0.5, β2 0.999), the original's settings.
    public init(model: DeepFakesAutoencoder, learningRate: Float, loss: ReconstructionLoss) {
        self.model = model
        self.loss = loss
        let adam = Adam.Configuration(learningRate: learningRate, beta1: 0.5, beta2: 0.999)
        optimizerA = Adam(label: "A", parameters: model.parameters(.a), configuration: adam)
        optimizerB = Adam(label: "B", parameters: model.parameters(.b), configuration: adam)
    }

    public func optimizer(_ side: DeepFakesAutoencoder.Side) -> Adam { side == .a ? optimizerA : optimizerB }

    /// Adds the discriminators and their optimizers (`ganWeight` > 0) and the cycle term (`cycleWeight` > 0)
    /// of `settings` (nil: none), seeded from `seed`; call before loading a checkpoint.
    public func configureAdversarial(_ settings: AdversarialSettings?, seed: UInt64) throws {
        adversarial = try settings.map {
            try AdversarialTerms(model: model, settings: $0, seed: seed, learningRate: optimizerA.configuration.learningRate)
        }
    }

    /// The discriminators (A then B), when the run has them.
    public var discriminators: [PatchDiscriminator] { [adversarial?.discriminatorA, adversarial?.discriminatorB].compactMap { $0 } }

    /// The steps need the other side's batch (for the cycle term).
    public var usesCycle: Bool { adversarial?.encoderTwin != nil }

    /// One optimisation step of one side; returns the losses before the update. `other` is the other side's
    /// batch of this iteration, which the cycle term needs (ignored without one).
    @discardableResult
    public func step(_ side: DeepFakesAutoencoder.Side, _ batch: TrainingBatch, other: TrainingBatch? = nil) throws -> StepLoss {
        let adam = optimizer(side)
        for p in adam.parameters { p.zeroGradient() }
        let prediction = try model.forward(batch.input, side: side, training: true)
        let (rgb, predictedMask) = Self.split(prediction)
        let (value, pixelGradient) = try loss.evaluate(prediction: rgb, target: batch.target, weights: batch.weights)
        var rgbGradient = pixelGradient
        var result = StepLoss(reconstruction: value, mask: nil)
        if let terms = adversarial, terms.generatorActive(iteration: iteration),
           let term = try terms.generatorTerm(side, fake: rgb, iteration: iteration) {
            result.generator = term.value
            rgbGradient.data.withUnsafeMutableBufferPointer { p in term.gradient.data.withUnsafeBufferPointer { q in
                for i in 0..<min(p.count, q.count) { p[i] += q[i] }
            } }
        }
        var maskValue: Float?
        var gradient = rgbGradient
        if let predictedMask {
            let target = batch.mask ?? Tensor(zeros: predictedMask.shape)
            let (m, maskGradient) = try Loss.mse.evaluate(prediction: predictedMask, target: target)
            maskValue = m
            gradient = Self.merge(rgbGradient, maskGradient)
        }
        try model.backward(gradient, side: side)
        if let terms = adversarial, let other { result.cycle = try terms.cycleTerm(model: model, side: side, other: other, loss: loss) }
        try adam.step()
        result.mask = maskValue
        if let terms = adversarial { result.discriminator = try terms.discriminatorStep(side, real: batch.target, fake: rgb, iteration: iteration) }
        return result
    }

    /// The RGB channels and, for a 4-channel output, the mask channel.
    public static func split(_ y: Tensor) -> (rgb: Tensor, mask: Tensor?) { TrainedModel.splitMask(y) }

    static func merge(_ rgb: Tensor, _ mask: Tensor) -> Tensor {
        let pixels = mask.count
        var out = [Float](repeating: 0, count: pixels * 4)
        for i in 0..<pixels {
            out[4 * i] = rgb.data[3 * i]; out[4 * i + 1] = rgb.data[3 * i + 1]; out[4 * i + 2] = rgb.data[3 * i + 2]
            out[4 * i + 3] = mask.data[i]
        }
        return Tensor(shape: Array(mask.shape.dropLast()) + [4], data: out)
    }

    // MARK: Checkpoints

    var configurationJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(model.configuration)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The model's parameters, then the discriminators' (a GAN run).
    var checkpointParameters: [Parameter] { model.allParameters + (adversarial?.discriminatorParameters ?? []) }
    /// Optimizers A and B, then the discriminators' `DA` and `DB` (a GAN run).
    var checkpointOptimizers: [Adam] { [optimizerA, optimizerB] + (adversarial?.optimizers ?? []) }

    /// Weights, every optimizer (a GAN run's discriminators and theirs too), the iteration and `metadata`,
    /// written atomically.
    public func saveCheckpoint(to url: URL, metadata: [String: String]) throws {
        try Checkpoint.save(to: url, architecture: DeepFakesAutoencoder.architecture, configurationJSON: configurationJSON,
                            iteration: iteration, parameters: checkpointParameters, optimizers: checkpointOptimizers,
                            extraMetadata: metadata)
    }

    /// Restores weights, optimizers and iteration (changing nothing when the file does not fit).
    public func loadCheckpoint(from url: URL) throws {
        iteration = try Checkpoint.load(from: url, architecture: DeepFakesAutoencoder.architecture, configurationJSON: configurationJSON,
                                        ignoringConfigurationKeys: ["seed"], parameters: checkpointParameters,
                                        optimizers: checkpointOptimizers)
    }

    /// The weights alone (no optimizer state), for `swap` and `--init-from`; a GAN run's discriminators
    /// are included (`swap` ignores them).
    public func exportWeights(to url: URL, metadata: [String: String]) throws {
        try Checkpoint.save(to: url, architecture: DeepFakesAutoencoder.architecture, configurationJSON: configurationJSON,
                            iteration: iteration, parameters: checkpointParameters, optimizers: [], extraMetadata: metadata)
    }

    /// Replaces the weights with an exported model's (optimizers and iteration untouched). A GAN run takes
    /// the file's discriminators when it has them (returns true) and keeps its fresh ones when it has none;
    /// a run without a GAN ignores them.
    @discardableResult
    public func importWeights(from url: URL) throws -> Bool {
        let discriminators = adversarial?.discriminatorParameters ?? []
        let stored = Set(try SafeTensors.Reader(url).header.entries.map(\.name))
        _ = try Checkpoint.load(from: url, architecture: DeepFakesAutoencoder.architecture, configurationJSON: configurationJSON,
                                ignoringConfigurationKeys: ["seed"], parameters: model.allParameters, optimizers: [],
                                optionalParameters: discriminators,
                                ignoringTensorPrefixes: discriminators.isEmpty ? [Checkpoint.discriminatorPrefix] : [])
        return discriminators.contains { stored.contains($0.name) }
    }
}
