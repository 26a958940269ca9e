import FacetCore
import Foundation
import NN
import Tensor

/// A run's adversarial and cycle-consistency options, stored in its settings (left out, nil, when both
/// weights are 0, so plain runs — `--gan-weight 0` — read and write their settings as before).
public struct AdversarialSettings: Codable, Equatable, Sendable {
    /// Weight of the generator's least-squares GAN loss beside the pixel loss (0: no discriminators).
    public var ganWeight: Double
    /// The first iterations, in which the generator trains on the pixel losses only (the discriminators
    /// learn from iteration 0, so they have something to say when the warm-up ends).
    public var ganWarmup: Int
    /// Iterations after the warm-up over which the generator's GAN weight rises linearly from 0 to `ganWeight`.
    /// The adversarial gradient is an order of magnitude larger per pixel than the pixel loss's, and
    /// Adam's second moment adapts over about 1,000 steps: switched on at full weight against a
    /// discriminator that has trained through the warm-up, it threw a 20-minute `lite` run from an MAE
    /// of 0.057 to 0.50 (saturated outputs) within 100 iterations. Settings stored before the ramp existed
    /// read as 0 (full weight at once, as they trained).
    public var ganRamp: Int
    /// Weight of the cycle loss (0: off).
    public var cycleWeight: Double
    /// Filters of the discriminators' first layer (`PatchDiscriminator`).
    public var discriminatorWidth: Int
    /// Instance noise: σ at iteration 0 (images 0…1), falling linearly to 0 at `noiseFadeIterations`.
    public var instanceNoise: Double
    public var noiseFadeIterations: Int

    /// `train`'s GAN weight when `--gan-weight` is not given: on, because the equal-budget trial
    /// (benchmarks/train/RESULTS.md) drew sharper faces with it (glasses, 2.9x the plain run's detail) at
    /// the same ID retrieval, for 15% more time per iteration. The cycle term stays off (0).
    public static let defaultGANWeight = 0.1
    public static let defaultWarmup = 1000, defaultRamp = 2000, defaultWidth = 32, defaultNoise = 0.1, defaultNoiseFade = 10_000

    public init(ganWeight: Double, ganWarmup: Int = Self.defaultWarmup, ganRamp: Int = Self.defaultRamp, cycleWeight: Double,
                discriminatorWidth: Int = Self.defaultWidth, instanceNoise: Double = Self.defaultNoise,
                noiseFadeIterations: Int = Self.defaultNoiseFade) {
        self.ganWeight = ganWeight; self.ganWarmup = ganWarmup; self.ganRamp = ganRamp; self.cycleWeight = cycleWeight
        self.discriminatorWidth = discriminatorWidth; self.instanceNoise = instanceNoise; self.noiseFadeIterations = noiseFadeIterations
    }

    private enum CodingKeys: String, CodingKey {
        case ganWeight, ganWarmup, ganRamp, cycleWeight, discriminatorWidth, instanceNoise, noiseFadeIterations
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(ganWeight: try c.decode(Double.self, forKey: .ganWeight), ganWarmup: try c.decode(Int.self, forKey: .ganWarmup),
                  ganRamp: try c.decodeIfPresent(Int.self, forKey: .ganRamp) ?? 0, cycleWeight: try c.decode(Double.self, forKey: .cycleWeight),
                  discriminatorWidth: try c.decode(Int.self, forKey: .discriminatorWidth),
                  instanceNoise: try c.decode(Double.self, forKey: .instanceNoise),
                  noiseFadeIterations: try c.decode(Int.self, forKey: .noiseFadeIterations))
    }

    /// The generator's GAN weight at `iteration`: 0 in the warm-up, then rising linearly over `ganRamp`
    /// iterations to `ganWeight`.
    public func generatorWeight(iteration: Int) -> Double {
        guard ganWeight > 0, iteration >= ganWarmup else { return 0 }
        guard ganRamp > 0 else { return ganWeight }
        let into = Double(iteration - ganWarmup + 1)
        return ganWeight * min(1, into / Double(ganRamp))
    }

    func validate() throws {
        for (name, value) in [("--gan-weight", ganWeight), ("--cycle-weight", cycleWeight)] {
            guard value.isFinite, (0...100).contains(value) else { throw TrainingError.invalidOption("\(name) must be 0...100") }
        }
        guard ganWarmup >= 0 else { throw TrainingError.invalidOption("--gan-warmup must be 0 or more") }
        guard ganRamp >= 0 else { throw TrainingError.invalidOption("--gan-ramp must be 0 or more") }
        guard (1...512).contains(discriminatorWidth), instanceNoise.isFinite, instanceNoise >= 0, noiseFadeIterations >= 0 else {
            throw TrainingError.invalidOption("discriminator width \(discriminatorWidth), instance noise \(instanceNoise) over \(noiseFadeIterations) iterations")
        }
    }
}

/// The adversarial and cycle terms of `SwapTrainer`'s steps.
///
/// GAN (`ganWeight` > 0): a `PatchDiscriminator` per side, D_X, judges side X's faces. In the step of side X
/// the generator (encoder + decoder X) adds `w · mean((D_X(recon + noise) − 1)²)` to its pixel loss (w rising
/// from 0 after the warm-up to `ganWeight` over `ganRamp` iterations),
/// where recon is decoder X's reconstruction of X's warped faces (as faceswap's and DeepFaceLab's GAN
/// options do: no extra generator pass); after the generator's update D_X takes an Adam step (its own
/// optimizer, `DA` / `DB`, the run's learning rate, β1 0.5) on `½ mean((D(real + noise) − 1)²) + ½ mean(D(recon + noise)²)`,
/// real being X's target faces.
///
/// Cycle (`cycleWeight` > 0): in the step of side X, Y's warped faces go through the encoder and decoder X
/// (the swap Y→X), back through the encoder and decoder Y, and are compared with Y's targets by the run's
/// reconstruction loss and pixel weights, times `cycleWeight`. Gradients flow through both passes (the
/// second encoder pass runs on a parameter-sharing copy of the encoder); the step's optimizer updates what
/// it owns, the encoder and decoder X — the generator of the swap into X — while decoder Y, trained by
/// its own step, is held fixed for this term. So A→B→A (`cycle_loss_a`) is the term of B's step, B→A→B of A's.
final class AdversarialTerms {
    let settings: AdversarialSettings
    let seed: UInt64
    let discriminatorA: PatchDiscriminator?, discriminatorB: PatchDiscriminator?
    let optimizerDA: Adam?, optimizerDB: Adam?
    /// The encoder again, sharing its parameters, for the cycle's second pass.
    let encoderTwin: Sequential?

    init(model: DeepFakesAutoencoder, settings: AdversarialSettings, seed: UInt64, learningRate: Float) throws {
        try settings.validate()
        self.settings = settings
        self.seed = seed
        let adam = Adam.Configuration(learningRate: learningRate, beta1: 0.5, beta2: 0.999)
        if settings.ganWeight > 0 {
            func make(_ label: String, _ salt: UInt64) throws -> (PatchDiscriminator, Adam) {
                let d = try PatchDiscriminator(name: Checkpoint.discriminatorPrefix + label,
                                               configuration: .init(inputSize: model.configuration.inputSize, width: settings.discriminatorWidth,
                                                                    seed: SeededRandom.mix(seed ^ salt)),
                                               workspace: model.workspace)
                return (d, Adam(label: "D" + label, parameters: d.parameters, configuration: adam))
            }
            let (da, oa) = try make("A", 0xD15C_000A), (db, ob) = try make("B", 0xD15C_000B)
            discriminatorA = da; discriminatorB = db; optimizerDA = oa; optimizerDB = ob
        } else {
            discriminatorA = nil; discriminatorB = nil; optimizerDA = nil; optimizerDB = nil
        }
        if settings.cycleWeight > 0 {
            let twin = try model.encoder.sharingParameters()
            (twin.layers.first as? Conv2D)?.computesInputGradient = true   // the second pass needs the swap's gradient
            encoderTwin = twin
        } else {
            encoderTwin = nil
        }
    }

    var discriminatorParameters: [Parameter] { (discriminatorA?.parameters ?? []) + (discriminatorB?.parameters ?? []) }
    var optimizers: [Adam] { [optimizerDA, optimizerDB].compactMap { $0 } }

    func discriminator(_ side: DeepFakesAutoencoder.Side) -> (PatchDiscriminator, Adam)? {
        switch side {
        case .a: return discriminatorA.flatMap { d in optimizerDA.map { (d, $0) } }
        case .b: return discriminatorB.flatMap { d in optimizerDB.map { (d, $0) } }
        }
    }

    /// The generator hears the discriminator from the end of the warm-up on.
    func generatorActive(iteration: Int) -> Bool { settings.generatorWeight(iteration: iteration) > 0 }

    private func noisy(_ x: Tensor, side: DeepFakesAutoencoder.Side, iteration: Int, real: Bool) -> Tensor {
        let sigma = InstanceNoise.sigma(initial: settings.instanceNoise, fadeIterations: settings.noiseFadeIterations, iteration: iteration)
        let key = UInt64(max(iteration, 0)) &* 4 &+ (side == .a ? 0 : 2) &+ (real ? 1 : 0)
        return InstanceNoise.add(to: x, sigma: sigma, seed: SeededRandom.mix(seed ^ 0x1A5C_0015E) &+ SeededRandom.mix(key))
    }

    /// The generator's adversarial term on side X's reconstruction `fake` (`[n, S, S, 3]`): its unweighted
    /// value and the iteration's weight (`AdversarialSettings.generatorWeight`) times its gradient with respect to `fake`.
    func generatorTerm(_ side: DeepFakesAutoencoder.Side, fake: Tensor, iteration: Int) throws -> (value: Float, gradient: Tensor)? {
        guard let d = discriminator(side)?.0 else { return nil }
        let logits = try d.forward(noisy(fake, side: side, iteration: iteration, real: false), training: true)
        let (value, unweighted) = LeastSquaresGAN.loss(logits, target: 1)
        var gradient = unweighted
        let w = Float(settings.generatorWeight(iteration: iteration))
        gradient.data.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= w } }
        return (value, try d.backward(gradient, inputGradient: true))
    }

    /// One Adam step of D_X on X's real faces and the reconstruction `fake` (both `[n, S, S, 3]`); returns
    /// its loss before the step.
    func discriminatorStep(_ side: DeepFakesAutoencoder.Side, real: Tensor, fake: Tensor, iteration: Int) throws -> Float? {
        guard let pair = discriminator(side) else { return nil }
        let (d, adam) = pair
        guard real.shape == fake.shape else { throw NNError.shapeMismatch(layer: d.name + " real faces", expected: "\(fake.shape)", got: real.shape) }
        for p in adam.parameters { p.zeroGradient() }
        let both = Tensor(shape: [2 * real.shape[0]] + real.shape.dropFirst(),
                          data: noisy(real, side: side, iteration: iteration, real: true).data
                            + noisy(fake, side: side, iteration: iteration, real: false).data)
        let logits = try d.forward(both, training: true)
        let half = logits.count / 2, shape = [real.shape[0]] + logits.shape.dropFirst()
        let (realLoss, realGradient) = LeastSquaresGAN.loss(Tensor(shape: shape, data: Array(logits.data[..<half])), target: 1)
        let (fakeLoss, fakeGradient) = LeastSquaresGAN.loss(Tensor(shape: shape, data: Array(logits.data[half...])), target: 0)
        let gradient = Tensor(shape: logits.shape, data: (realGradient.data + fakeGradient.data).map { $0 * 0.5 })
        _ = try d.backward(gradient, inputGradient: false)
        try adam.step()
        return (realLoss + fakeLoss) / 2
    }

    /// The cycle term of side X's step for Y's batch `other`: Y → encoder → decoder X → encoder → decoder Y,
    /// against Y's targets. Accumulates `cycleWeight` times its gradients into the encoder and decoder X (and,
    /// unused, decoder Y's gradients, which Y's step zeroes); returns the unweighted loss.
    func cycleTerm(model: DeepFakesAutoencoder, side: DeepFakesAutoencoder.Side, other: TrainingBatch,
                   loss: ReconstructionLoss) throws -> Float? {
        guard let twin = encoderTwin else { return nil }
        let back: DeepFakesAutoencoder.Side = side == .a ? .b : .a
        let swapped = try model.decoder(side).forward(try model.encoder.forward(other.input, training: true), training: true)
        let (swapRGB, swapMask) = SwapTrainer.split(swapped)
        let returned = try model.decoder(back).forward(try twin.forward(swapRGB, training: true), training: true)
        let (returnedRGB, returnedMask) = SwapTrainer.split(returned)
        let (value, unweighted) = try loss.evaluate(prediction: returnedRGB, target: other.target, weights: other.weights)
        var gradient = unweighted
        let w = Float(settings.cycleWeight)
        gradient.data.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= w } }
        if let returnedMask { gradient = SwapTrainer.merge(gradient, Tensor(zeros: returnedMask.shape)) }
        var swapGradient = try twin.backward(try model.decoder(back).backward(gradient))
        if let swapMask { swapGradient = SwapTrainer.merge(swapGradient, Tensor(zeros: swapMask.shape)) }
        _ = try model.encoder.backward(try model.decoder(side).backward(swapGradient))
        return value
    }
}
