import Augment
import Foundation

// AugmentOverrides (the augmentation values given on the command line): Augment/AugmentOptions.swift.

/// Training settings given on the command line; nil fields take their defaults for a new run, or the
/// checkpoint's values when resuming (a value that differs from the checkpoint's is refused).
public struct SettingOverrides: Sendable, Equatable {
    public var model: SwapModelKind?
    public var maskHead: Bool?
    public var batchSize: Int?
    public var loss: ReconstructionLoss?
    public var learningRate: Double?
    public var seed: UInt64?
    public var eyeMultiplier: Double?
    public var mouthMultiplier: Double?
    public var backgroundWeight: Double?
    public var coverage: Double?
    public var augmentation = AugmentOverrides()
    /// `--gan-weight`, `--gan-warmup`, `--cycle-weight`.
    public var ganWeight: Double?
    public var ganWarmup: Int?
    /// `--gan-ramp`.
    public var ganRamp: Int?
    public var cycleWeight: Double?

    public init() {}

    /// The adversarial settings of a new run: the default GAN weight unless `--gan-weight` says otherwise;
    /// nil (a plain run) when both the GAN and the cycle weight are 0.
    var adversarial: AdversarialSettings? {
        let gan = ganWeight ?? AdversarialSettings.defaultGANWeight, cycle = cycleWeight ?? 0
        guard gan != 0 || cycle != 0 else { return nil }
        return AdversarialSettings(ganWeight: gan, ganWarmup: ganWarmup ?? AdversarialSettings.defaultWarmup,
                                   ganRamp: ganRamp ?? AdversarialSettings.defaultRamp, cycleWeight: cycle)
    }

    /// Defaults: `lite`, no mask head, batch 16, MAE, the model's learning rate, seed 0, eye ×3 and mouth ×2
    /// (faceswap's multipliers), background weight 0.25 with a mask head (1 without), coverage 0.75.
    public static let defaultBatchSize = 16, defaultCoverage = 0.75, defaultEyeMultiplier = 3.0, defaultMouthMultiplier = 2.0

    func resolve(stored: TrainingSettings?, checkpoint: String) throws -> TrainingSettings {
        guard let stored else {
            let kind = model ?? .lite, mask = maskHead ?? false
            return TrainingSettings(
                model: kind, maskHead: mask, batchSize: batchSize ?? Self.defaultBatchSize, loss: loss ?? .mae,
                learningRate: learningRate ?? kind.defaultLearningRate, seed: seed ?? 0,
                weighting: LossWeighting(backgroundWeight: backgroundWeight ?? (mask ? 0.25 : 1),
                                         eyeMultiplier: eyeMultiplier ?? Self.defaultEyeMultiplier,
                                         mouthMultiplier: mouthMultiplier ?? Self.defaultMouthMultiplier),
                coverage: coverage ?? Self.defaultCoverage, augmentation: augmentation.resolve(), adversarial: adversarial)
        }
        var problems: [String] = []
        func check<T: Equatable>(_ name: String, _ given: T?, _ kept: T) {
            if let given, given != kept { problems.append("\(name) \(given) differs from the checkpoint's \(kept)") }
        }
        check("--model", model?.rawValue, stored.model.rawValue)
        check("--mask-head", maskHead, stored.maskHead)
        check("--batch-size", batchSize, stored.batchSize)
        check("--loss", loss?.rawValue, stored.loss.rawValue)
        check("--learning-rate", learningRate, stored.learningRate)
        check("--seed", seed, stored.seed)
        check("--eye-multiplier", eyeMultiplier, stored.weighting.eyeMultiplier)
        check("--mouth-multiplier", mouthMultiplier, stored.weighting.mouthMultiplier)
        check("--background-weight", backgroundWeight, stored.weighting.backgroundWeight)
        check("--coverage", coverage, stored.coverage)
        check("--gan-weight", ganWeight, stored.adversarial?.ganWeight ?? 0)
        check("--cycle-weight", cycleWeight, stored.adversarial?.cycleWeight ?? 0)
        if let kept = stored.adversarial, kept.ganWeight > 0 {
            check("--gan-warmup", ganWarmup, kept.ganWarmup)
            check("--gan-ramp", ganRamp, kept.ganRamp)
        }
        if !augmentation.isEmpty && augmentation.resolve() != stored.augmentation {
            problems.append("the augmentation options differ from the checkpoint's")
        }
        if !problems.isEmpty {
            throw TrainingError.resumeMismatch(path: checkpoint, problems: problems + ["a resumed run keeps its settings (leave those options out)"])
        }
        return stored
    }
}
