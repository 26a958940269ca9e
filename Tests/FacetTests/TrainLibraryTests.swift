import Augment
import Faces
import Foundation
import Manifest
import Media
import NN
import Tensor
@testable import Training
import XCTest

/// The training library without files: batches, the trainer with a mask head, settings on resume, outputs.
final class TrainLibraryTests: XCTestCase {
    /// `count` synthetic faces (noise images with mean-face landmarks) at processing size `size`.
    func syntheticSide(count: Int, size: Int) throws -> TrainingSide {
        let template = FaceAlignment.template(size: size)
        var points: [Float] = []
        for k in 0..<68 {
            let p = k >= 17 ? template[k - 17] : SIMD2(Double(size) * (0.2 + 0.6 * Double(k) / 16), Double(size) * 0.85)
            points += [Float(p.x), Float(p.y)]
        }
        var rng = SplitMix64(seed: 11)
        let faces = try (0..<count).map { _ in
            try AugmentSource(crop: RGBImage(width: size, height: size, pixels: rng.bytes(size * size * 3)), landmarks68: points, mask: nil,
                              processingSize: size)
        }
        return TrainingSide(identity: "synthetic", manifestURL: URL(fileURLWithPath: "/nonexistent.json"), schema: "facet.dataset",
                            manifestSHA256: "", contentSHA256: "", cropSize: size, centering: "face", faces: faces,
                            cropPaths: faces.map { _ in "x.png" }, neighbours: faces.map { _ in [] })
    }

    func sampler(_ side: TrainingSide, batch: Int, size: Int, masks: Bool = false) throws -> BatchSampler {
        let geometry = try AugmentGeometry(outputSize: size, coverage: 1)
        return BatchSampler(side: side, sideIndex: 0, augmenter: try FaceAugmenter(settings: AugmentSettings(), geometry: geometry), seed: 3,
                            batchSize: batch, weighting: LossWeighting(backgroundWeight: masks ? 0.25 : 1, eyeMultiplier: 3, mouthMultiplier: 2),
                            wantsMasks: masks)
    }

    func testBatchesFollowEpochsAndDependOnlyOnTheIteration() throws {
        let side = try syntheticSide(count: 5, size: 32)
        let s = try sampler(side, batch: 3, size: 32)
        // 5 iterations × 3 samples = 3 epochs of 5 faces: each epoch is a permutation.
        let order = (0..<5).flatMap { i in (0..<3).map { s.faceIndex(iteration: i, sample: $0) } }
        for epoch in 0..<3 { XCTAssertEqual(Set(order[(epoch * 5)..<(epoch * 5 + 5)]), Set(0..<5), "epoch \(epoch)") }
        // A batch is the same whenever and however often it is made.
        let late = s.batch(iteration: 4)
        let fresh = try sampler(side, batch: 3, size: 32)
        XCTAssertEqual(fresh.batch(iteration: 4).input, late.input)
        XCTAssertEqual(fresh.batch(iteration: 4).weights, late.weights)
        XCTAssertNotEqual(fresh.batch(iteration: 3).input, late.input)
        XCTAssertEqual(late.input.shape, [3, 32, 32, 3])
        XCTAssertEqual(late.weights?.shape, [3, 32, 32, 1])
        XCTAssertNil(late.mask)
    }

    func testLossWeightsCombineMaskEyesAndMouth() {
        let w = LossWeighting(backgroundWeight: 0.25, eyeMultiplier: 3, mouthMultiplier: 2)
        let t = w.weights(face: [0, 1, 1, 0.5], eyes: [0, 0, 1, 0], mouth: [0, 1, 0, 0], shape: [1, 2, 2, 1])
        XCTAssertEqual(t?.data, [0.25, 2, 3, 0.625])
        XCTAssertNil(LossWeighting().weights(face: [], eyes: [], mouth: [], shape: [1, 2, 2, 1]))
    }

    func testMaskHeadTrainsAndLossesFall() throws {
        let side = try syntheticSide(count: 4, size: 32)
        let s = try sampler(side, batch: 2, size: 32, masks: true)
        let model = try DeepFakesAutoencoder(configuration: .init(inputSize: 32, widthDivisor: 16, seed: 1, maskHead: true))
        XCTAssertEqual(try model.decoderA.outputShape(for: [1, 4, 4, 32]), [1, 32, 32, 4])
        let trainer = SwapTrainer(model: model, learningRate: 2e-3, loss: .mixed)
        let batch = s.batch(iteration: 0)
        XCTAssertEqual(batch.mask?.shape, [2, 32, 32, 1])
        let first = try trainer.step(.a, batch)
        var last = first
        for _ in 0..<15 { last = try trainer.step(.a, batch) }
        XCTAssertNotNil(first.mask)
        XCTAssertLessThan(last.reconstruction, first.reconstruction)
        XCTAssertLessThan(try XCTUnwrap(last.mask), try XCTUnwrap(first.mask))
    }

    func testMaskHeadCheckpointsRoundTrip() throws {
        // Configurations holding a boolean must compare equal to themselves when a checkpoint is loaded.
        let folder = try makeTemporaryDirectory()
        let configuration = DeepFakesAutoencoder.Configuration(inputSize: 32, widthDivisor: 16, seed: 2, maskHead: true)
        let trainer = SwapTrainer(model: try DeepFakesAutoencoder(configuration: configuration), learningRate: 1e-3, loss: .mae)
        trainer.iteration = 7
        let url = folder.appendingPathComponent("c.safetensors")
        try trainer.saveCheckpoint(to: url, metadata: ["facet.train": "{}"])
        var other = configuration
        other.seed = 3
        let copy = SwapTrainer(model: try DeepFakesAutoencoder(configuration: other), learningRate: 1e-3, loss: .mae)
        try copy.loadCheckpoint(from: url)
        XCTAssertEqual(copy.iteration, 7)
        XCTAssertEqual(copy.model.allParameters.map(\.value), trainer.model.allParameters.map(\.value))
        other.maskHead = false
        let plain = SwapTrainer(model: try DeepFakesAutoencoder(configuration: other), learningRate: 1e-3, loss: .mae)
        XCTAssertThrowsError(try plain.loadCheckpoint(from: url))
    }

    func testSplitAndMergeAreInverse() {
        let y = Tensor(shape: [1, 1, 2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8])
        let (rgb, mask) = SwapTrainer.split(y)
        XCTAssertEqual(rgb.data, [1, 2, 3, 5, 6, 7])
        XCTAssertEqual(mask?.data, [4, 8])
        XCTAssertEqual(SwapTrainer.merge(rgb, mask ?? rgb), y)
    }

    func testConfigurationsWithoutMaskHeadReadAsBefore() throws {
        let old = Data(#"{"inputSize":64,"seed":5,"widthDivisor":4}"#.utf8)
        let decoded = try JSONDecoder().decode(DeepFakesAutoencoder.Configuration.self, from: old)
        XCTAssertFalse(decoded.maskHead)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        XCTAssertEqual(String(decoding: try encoder.encode(decoded), as: UTF8.self), #"{"inputSize":64,"seed":5,"widthDivisor":4}"#)
        var withMask = decoded
        withMask.maskHead = true
        XCTAssertEqual(try JSONDecoder().decode(DeepFakesAutoencoder.Configuration.self, from: try encoder.encode(withMask)), withMask)
    }

    func testResumeKeepsStoredSettingsAndRefusesOthers() throws {
        var fresh = SettingOverrides()
        fresh.model = .df128
        let stored = try fresh.resolve(stored: nil, checkpoint: "c")
        XCTAssertEqual(stored.model, .df128)
        XCTAssertEqual(stored.learningRate, SwapModelKind.df128.defaultLearningRate)
        XCTAssertEqual(stored.batchSize, 16)
        XCTAssertEqual(try SettingOverrides().resolve(stored: stored, checkpoint: "c"), stored)
        var same = SettingOverrides()
        same.batchSize = 16
        XCTAssertEqual(try same.resolve(stored: stored, checkpoint: "c"), stored)
        var other = SettingOverrides()
        other.batchSize = 8
        other.seed = 4
        XCTAssertThrowsError(try other.resolve(stored: stored, checkpoint: "c")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("--batch-size 8 differs from the checkpoint's 16") && text.contains("--seed 4"), text)
            XCTAssertEqual((error as? TrainingError)?.exitStatus, .dataError)
        }
    }

    /// A GAN + cycle trainer on a tiny model: warm-up without the generator's adversarial term, every loss
    /// after it, the discriminators learning from the start; its checkpoint (discriminators and their Adam
    /// states included) continues bit-identically in a fresh trainer.
    func testGANAndCycleStepsAndTheirCheckpointContinueExactly() throws {
        let side = try syntheticSide(count: 4, size: 32)
        let s = try sampler(side, batch: 2, size: 32)
        let configuration = DeepFakesAutoencoder.Configuration(inputSize: 32, widthDivisor: 16, seed: 1)
        let settings = AdversarialSettings(ganWeight: 0.5, ganWarmup: 2, cycleWeight: 1, discriminatorWidth: 4)
        func makeTrainer() throws -> SwapTrainer {
            let trainer = SwapTrainer(model: try DeepFakesAutoencoder(configuration: configuration), learningRate: 1e-3, loss: .mae)
            try trainer.configureAdversarial(settings, seed: 9)
            return trainer
        }
        func iterate(_ trainer: SwapTrainer) throws -> (StepLoss, StepLoss) {
            let (a, b) = (s.batch(iteration: trainer.iteration), s.batch(iteration: trainer.iteration + 100))
            defer { trainer.iteration += 1 }
            return (try trainer.step(.a, a, other: b), try trainer.step(.b, b, other: a))
        }
        let trainer = try makeTrainer()
        XCTAssertTrue(trainer.usesCycle)
        XCTAssertEqual(trainer.discriminators.map(\.name), ["discriminatorA", "discriminatorB"])
        let before = trainer.discriminators.flatMap(\.parameters).map(\.value)
        let (warmA, warmB) = try iterate(trainer)
        XCTAssertNil(warmA.generator)
        XCTAssertNotNil(warmA.discriminator)
        XCTAssertNotNil(warmB.cycle)
        XCTAssertNotEqual(trainer.discriminators.flatMap(\.parameters).map(\.value), before, "the discriminators learn during the warm-up")
        _ = try iterate(trainer)
        let (a, b) = try iterate(trainer)
        for loss in [a, b] {
            XCTAssertTrue(loss.isFinite)
            XCTAssertNotNil(loss.generator)
            XCTAssertNotNil(loss.discriminator)
            XCTAssertNotNil(loss.cycle)
        }
        let folder = try makeTemporaryDirectory()
        let url = folder.appendingPathComponent("c.safetensors")
        try trainer.saveCheckpoint(to: url, metadata: [:])
        let copy = try makeTrainer()
        try copy.loadCheckpoint(from: url)
        XCTAssertEqual(copy.iteration, 3)
        for _ in 0..<2 { XCTAssertEqual(try iterate(trainer).0, try iterate(copy).0) }
        XCTAssertEqual(copy.checkpointParameters.map(\.value), trainer.checkpointParameters.map(\.value))
        XCTAssertEqual(copy.checkpointOptimizers.map(\.firstMoments), trainer.checkpointOptimizers.map(\.firstMoments))
        // A plain trainer refuses the GAN checkpoint (it would drop the discriminators), and a GAN trainer a plain one.
        let plain = SwapTrainer(model: try DeepFakesAutoencoder(configuration: configuration), learningRate: 1e-3, loss: .mae)
        XCTAssertThrowsError(try plain.loadCheckpoint(from: url))
        let plainURL = folder.appendingPathComponent("plain.safetensors")
        try plain.saveCheckpoint(to: plainURL, metadata: [:])
        XCTAssertThrowsError(try makeTrainer().loadCheckpoint(from: plainURL))

        // Model files: a GAN run takes the discriminators when the file has them, else keeps fresh ones; a plain
        // run and inference ignore them.
        let ganModel = folder.appendingPathComponent("gan-model.safetensors"), plainModel = folder.appendingPathComponent("plain-model.safetensors")
        try trainer.exportWeights(to: ganModel, metadata: [:])
        try plain.exportWeights(to: plainModel, metadata: [:])
        let fresh = try makeTrainer()
        let freshDiscriminators = fresh.discriminators.flatMap(\.parameters).map(\.value)
        XCTAssertFalse(try fresh.importWeights(from: plainModel))
        XCTAssertEqual(fresh.discriminators.flatMap(\.parameters).map(\.value), freshDiscriminators)
        XCTAssertEqual(fresh.model.allParameters.map(\.value), plain.model.allParameters.map(\.value))
        XCTAssertTrue(try fresh.importWeights(from: ganModel))
        XCTAssertEqual(fresh.checkpointParameters.map(\.value), trainer.checkpointParameters.map(\.value))
        XCTAssertFalse(try plain.importWeights(from: ganModel))
        XCTAssertEqual(plain.model.allParameters.map(\.value), trainer.model.allParameters.map(\.value))
    }

    /// During the warm-up a GAN run's generator follows plain training exactly (the discriminators train on
    /// the side, from their own seeded weights and optimizers).
    func testGeneratorDuringTheWarmUpIsExactlyPlainTraining() throws {
        let side = try syntheticSide(count: 4, size: 32)
        let s = try sampler(side, batch: 2, size: 32)
        let configuration = DeepFakesAutoencoder.Configuration(inputSize: 32, widthDivisor: 16, seed: 1)
        let plain = SwapTrainer(model: try DeepFakesAutoencoder(configuration: configuration), learningRate: 1e-3, loss: .mae)
        let gan = SwapTrainer(model: try DeepFakesAutoencoder(configuration: configuration), learningRate: 1e-3, loss: .mae)
        try gan.configureAdversarial(AdversarialSettings(ganWeight: 1, ganWarmup: 5, cycleWeight: 0, discriminatorWidth: 4), seed: 0)
        for i in 0..<3 {
            for trainer in [plain, gan] {
                trainer.iteration = i
                let p = try trainer.step(.a, s.batch(iteration: i)), q = try trainer.step(.b, s.batch(iteration: i + 50))
                XCTAssertNil(p.generator)
                XCTAssertEqual(q.discriminator == nil, trainer === plain)
            }
        }
        XCTAssertEqual(gan.model.allParameters.map(\.value), plain.model.allParameters.map(\.value))
    }

    /// The generator's GAN weight: 0 through the warm-up, then a linear rise over the ramp to the full weight;
    /// settings stored before the ramp existed read as ramp 0 (full weight at once, as those runs trained).
    func testGANWeightRisesOverTheRampAndOldSettingsKeepNoRamp() throws {
        let s = AdversarialSettings(ganWeight: 0.2, ganWarmup: 10, ganRamp: 4, cycleWeight: 0)
        for (iteration, expected) in zip(8...15, [0, 0, 0.05, 0.1, 0.15, 0.2, 0.2, 0.2] as [Double]) {
            XCTAssertEqual(s.generatorWeight(iteration: iteration), expected, accuracy: 1e-12, "iteration \(iteration)")
        }
        XCTAssertEqual(AdversarialSettings(ganWeight: 0.2, ganWarmup: 10, ganRamp: 0, cycleWeight: 0).generatorWeight(iteration: 10), 0.2)
        XCTAssertEqual(AdversarialSettings(ganWeight: 0, ganWarmup: 0, ganRamp: 0, cycleWeight: 1).generatorWeight(iteration: 50), 0)
        let old = #"{"ganWeight":0.1,"ganWarmup":1000,"cycleWeight":0,"discriminatorWidth":32,"instanceNoise":0.1,"noiseFadeIterations":10000}"#
        let decoded = try JSONDecoder().decode(AdversarialSettings.self, from: Data(old.utf8))
        XCTAssertEqual(decoded, AdversarialSettings(ganWeight: 0.1, ganWarmup: 1000, ganRamp: 0, cycleWeight: 0))
        let roundTrip = try JSONDecoder().decode(AdversarialSettings.self, from: try JSONEncoder().encode(s))
        XCTAssertEqual(roundTrip, s)
        XCTAssertThrowsError(try AdversarialSettings(ganWeight: 0.1, ganWarmup: 0, ganRamp: -1, cycleWeight: 0).validate())
        var resumed = SettingOverrides()
        resumed.ganRamp = 7
        // A resumed run keeps its ramp: a different one is refused.
        var gan = SettingOverrides()
        gan.ganWeight = 0.1
        let kept = try gan.resolve(stored: nil, checkpoint: "c")
        XCTAssertEqual(kept.adversarial?.ganRamp, AdversarialSettings.defaultRamp)
        XCTAssertThrowsError(try resumed.resolve(stored: kept, checkpoint: "c")) { error in
            XCTAssertTrue("\(error)".contains("--gan-ramp 7 differs from the checkpoint's 2000"), "\(error)")
        }
    }

    /// A new run has the default GAN weight; plain runs (`--gan-weight 0`) have no adversarial entry in their
    /// settings JSON (checkpoints written before it read the same); a resumed run keeps its GAN and cycle weights.
    func testAdversarialSettingsAreStoredOnlyWhenOnAndKeptOnResume() throws {
        XCTAssertEqual(try SettingOverrides().resolve(stored: nil, checkpoint: "c").adversarial,
                       AdversarialSettings(ganWeight: AdversarialSettings.defaultGANWeight, cycleWeight: 0))
        var plainOverrides = SettingOverrides()
        plainOverrides.ganWeight = 0
        let plain = try plainOverrides.resolve(stored: nil, checkpoint: "c")
        XCTAssertNil(plain.adversarial)
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("adversarial"))
        var gan = SettingOverrides()
        gan.ganWeight = 0.1
        let stored = try gan.resolve(stored: nil, checkpoint: "c")
        XCTAssertEqual(stored.adversarial, AdversarialSettings(ganWeight: 0.1, ganWarmup: 1000, cycleWeight: 0))
        XCTAssertEqual(try JSONDecoder().decode(TrainingSettings.self, from: try JSONEncoder().encode(stored)), stored)
        XCTAssertEqual(try SettingOverrides().resolve(stored: stored, checkpoint: "c"), stored)
        var cycle = SettingOverrides()
        cycle.cycleWeight = 2
        XCTAssertThrowsError(try cycle.resolve(stored: stored, checkpoint: "c")) { error in
            XCTAssertTrue("\(error)".contains("--cycle-weight 2.0 differs from the checkpoint's 0.0"), "\(error)")
        }
        XCTAssertThrowsError(try gan.resolve(stored: plain, checkpoint: "c")) { error in
            XCTAssertTrue("\(error)".contains("--gan-weight 0.1 differs from the checkpoint's 0.0"), "\(error)")
        }
        var bad = SettingOverrides()
        bad.ganWeight = -1
        XCTAssertThrowsError(try bad.resolve(stored: nil, checkpoint: "c").validate())
    }

    /// The loss log keeps rows written before the adversarial columns (padding them) and writes all twelve.
    func testLossLogPadsOldRowsAndLogsAdversarialLosses() throws {
        let url = try makeTemporaryDirectory().appendingPathComponent("loss.csv")
        try Data("iteration,seconds,loss_a,loss_b,mask_loss_a,mask_loss_b\n10,1.0,0.5,0.4,,\n20,2.0,0.3,0.2,,\n".utf8).write(to: url)
        let log = try LossLog(url: url, resumingAt: 10)
        log.append(iteration: 20, seconds: 2.5, lossA: 0.25, lossB: 0.2, maskA: nil, maskB: nil,
                   adversarial: AdversarialLosses(discriminatorA: 0.25, discriminatorB: 0.5, cycleA: 0.125))
        try log.flush()
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.map(String.init), [LossLog.header, "10,1.0,0.5,0.4,,,,,,,,", "20,2.5,0.250000,0.200000,,,0.250000,0.500000,,,0.125000,"])
        let resumed = try LossLog(url: url, resumingAt: 20)
        XCTAssertEqual(resumed.points.last?.adversarial, AdversarialLosses(discriminatorA: 0.25, discriminatorB: 0.5, cycleA: 0.125))
        // The curve gains a second panel for them.
        XCTAssertEqual(LossCurve.render(resumed.points).height, 700)
        XCTAssertEqual(LossCurve.render(Array(resumed.points.prefix(1))).height, 400)
    }

    func testLossCurveDrawsAnyNumberOfPoints() {
        for count in [0, 1, 2, 500] {
            let points = (0..<count).map { LossCurve.Point(iteration: ($0 + 1) * 10, lossA: 0.2 / Double($0 + 1), lossB: 0.1) }
            let image = LossCurve.render(points)
            XCTAssertEqual(image.width, 720)
            XCTAssertEqual(image.height, 400)
        }
        XCTAssertEqual(LossCurve.niceStep(0.3), 1)
        XCTAssertEqual(LossCurve.niceStep(1040), 2000)
        XCTAssertEqual(LossCurve.niceCeiling(0.142), 0.2)
    }
}
