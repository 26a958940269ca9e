#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Augment
import Catalog
import FacetCore
import Foundation
import Manifest
import NN
import ToolSupport
import Training

/// `train`: two datasets in; a trained swap model (weights + model manifest), checkpoints, previews, loss
/// log and curve, catalog rows out.
@main
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a face-swap autoencoder (shared encoder, decoders A and B) on two identities' faces.",
        discussion: """
            Datasets are facet.dataset manifests (dedupe) or facet.faces manifests (detect), A then B. Everything \
            goes to the model folder (--output, default <workspace>/Models/<A>_<B>/): checkpoint.safetensors, \
            model.safetensors + model.json (what swap reads), preview.png and previews/, loss.csv, loss.png. \
            SIGINT or SIGTERM stops after the current iteration with a checkpoint and the model written (a second \
            one stops at once; the previous checkpoint survives). --resume continues a run exactly as if it had \
            not stopped (same thread count).

            Exit codes: 0 ok, 1 failure (I/O, full disk, diverged training), 64 usage (bad option, a checkpoint \
            in the way), 65 bad data (empty dataset, mismatched crops, damaged or unfitting checkpoint or model, \
            a manifest of a newer version), 66 missing input; 130/143 stopped by SIGINT/SIGTERM (checkpoint and \
            model written).
            """)

    /// Starts with the OpenBLAS kernel family setup measured as fastest, and freed tensors kept for reuse.
    static func main() {
        OpenBLASCoreChoice.applyRecordedChoice()
        TrainingMemory.retainFreedMemory()
        Self.main(nil)
    }

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("Dataset manifests of identity A and identity B (optional with --resume).", valueName: "dataset"))
    var datasets: [String] = []

    @Option(help: "Model: original (DeepFakes 64 px), lite (64 px, 1/4 width, for CPUs), df128 (128 px, 1/2 width).")
    var model: String?

    @Flag(inversion: .prefixedNo, help: "Add a mask head (4th output channel) trained on the landmark-hull mask, which also weights the loss.")
    var maskHead: Bool?

    @Option(help: ArgumentHelp("Faces per side per iteration (default 16).", valueName: "N"))
    var batchSize: Int?

    @Option(help: ArgumentHelp("Train until the run has done N iterations in all (a step of A and a step of B each).", valueName: "N"))
    var iterations: Int?

    @Option(help: ArgumentHelp("Stop this session after M minutes of wall-clock time.", valueName: "M"))
    var minutes: Double?

    @Option(help: ArgumentHelp("Adam's learning rate (default 5e-5; lite 3e-4).", valueName: "rate"))
    var learningRate: Double?

    @Option(help: "Loss: mae, mse, ssim (DSSIM) or mixed ((DSSIM + MAE) / 2). Default mae.")
    var loss: String?

    @Option(help: "Seed of the weights, the face order and the augmentation (default 0).")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Compute threads (0: one per core). Runs are bit-identical for one thread count.", valueName: "N"))
    var threads: Int = 0

    @Option(help: ArgumentHelp("Loss weight multiplier inside the eye hulls (default 3).", valueName: "x"))
    var eyeMultiplier: Double?

    @Option(help: ArgumentHelp("Loss weight multiplier inside the mouth hull (default 2).", valueName: "x"))
    var mouthMultiplier: Double?

    @Option(help: ArgumentHelp("Loss weight of pixels outside the face mask, 0-1 (default 0.25 with --mask-head, else 1: unweighted).", valueName: "w"))
    var backgroundWeight: Double?

    @Option(help: ArgumentHelp("Fraction of the crop side the model sees (default 0.75).", valueName: "f"))
    var coverage: Double?

    @Option(help: ArgumentHelp("Weight of the adversarial loss: a PatchGAN discriminator per side (0.17 M parameters, 18 M multiply-adds per "
                               + "64 px face) judges each decoder's faces, least-squares loss with fading instance noise (default 0.1; 0 trains on the pixel losses only).",
                               valueName: "W"))
    var ganWeight: Double?

    @Option(help: ArgumentHelp("Iterations at the start in which the generator learns from the pixel losses only (the discriminators "
                               + "train from the start; default 1000).", valueName: "N"))
    var ganWarmup: Int?

    @Option(help: ArgumentHelp("Iterations after the warm-up over which the adversarial weight rises linearly from 0 to --gan-weight "
                               + "(default 2000; 0 switches it on at full weight).", valueName: "N"))
    var ganRamp: Int?

    @Option(help: ArgumentHelp("Weight of the cycle loss: A through decoder B, back through the encoder and decoder A, against A "
                               + "(and the mirror for B) (default 0: off).", valueName: "W"))
    var cycleWeight: Double?

    @OptionGroup(title: "Augmentation") var augmentation: AugmentOptions

    @Option(help: ArgumentHelp("Write a checkpoint every N iterations (default 500; resuming: the run's).", valueName: "N"))
    var checkpointEvery: Int?

    @Option(help: ArgumentHelp("Write a preview every N iterations (default 500; resuming: the run's).", valueName: "N"))
    var previewEvery: Int?

    @Option(help: ArgumentHelp("Faces per side in the preview (default 8; resuming: the run's).", valueName: "N"))
    var previewFaces: Int?

    @Option(help: ArgumentHelp("Log mean losses every N iterations (loss.csv and the catalog; default 10; resuming: the run's).", valueName: "N"))
    var logEvery: Int?

    @Flag(help: "Continue the run in the model folder from its checkpoint.")
    var resume = false

    @Flag(help: "Start a new run even though the model folder holds a checkpoint (it is overwritten).")
    var force = false

    @Option(help: ArgumentHelp("Start from the weights of a trained model (its model.json). A GAN run takes the model's "
                               + "discriminators when it has them, else starts them fresh; optimizer states always start fresh.",
                               valueName: "model.json"))
    var initFrom: String?

    @Option(help: ArgumentHelp("Model folder (default: <workspace>/Models/<A>_<B>).", valueName: "dir"))
    var output: String?

    @Option(help: ArgumentHelp("Name of identity A (default: the dataset's identity, or the faces manifest's name).", valueName: "name"))
    var nameA: String?

    @Option(help: ArgumentHelp("Name of identity B.", valueName: "name"))
    var nameB: String?

    func validate() throws {
        guard datasets.count == 2 || (datasets.isEmpty && resume) else {
            throw ValidationError("give two dataset manifests, A then B (they may be left out with --resume)")
        }
        if let model, SwapModelKind(rawValue: model) == nil { throw ValidationError("--model must be original, lite or df128") }
        if let loss, ReconstructionLoss(rawValue: loss) == nil { throw ValidationError("--loss must be mae, mse, ssim or mixed") }
        if let iterations, iterations < 0 { throw ValidationError("--iterations must be 0 or more") }
        if let minutes, !(minutes > 0 && minutes.isFinite) { throw ValidationError("--minutes must be positive") }
        for (name, value) in [("--gan-weight", ganWeight), ("--cycle-weight", cycleWeight)] {
            if let value, !(value.isFinite && (0...100).contains(value)) { throw ValidationError("\(name) must be 0...100") }
        }
        if let ganWarmup, ganWarmup < 0 { throw ValidationError("--gan-warmup must be 0 or more") }
        if let ganRamp, ganRamp < 0 { throw ValidationError("--gan-ramp must be 0 or more") }
        guard threads >= 0 else { throw ValidationError("--threads must be 0 or more") }
        for (name, value) in [("--checkpoint-every", checkpointEvery), ("--preview-every", previewEvery), ("--preview-faces", previewFaces),
                              ("--log-every", logEvery)] where (value ?? 1) < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
    }

    func run() throws {
        if threads > 0 { setenv("FACET_THREADS", String(threads), 1) }   // read once, when the first layer runs
        try ToolRunner.run(tool: "train") {
            let progress = ProgressReporter(quiet: common.quiet)
            let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
            var options = TrainOptions(workspace: common.workspaceURL)
            if datasets.count == 2 {
                options.datasetA = URL(fileURLWithPath: datasets[0]).standardizedFileURL
                options.datasetB = URL(fileURLWithPath: datasets[1]).standardizedFileURL
            }
            options.identityA = nameA
            options.identityB = nameB
            options.output = output.map { URL(fileURLWithPath: $0).standardizedFileURL }
            options.overrides.model = model.flatMap(SwapModelKind.init(rawValue:))
            options.overrides.maskHead = maskHead
            options.overrides.batchSize = batchSize
            options.overrides.loss = loss.flatMap(ReconstructionLoss.init(rawValue:))
            options.overrides.learningRate = learningRate
            options.overrides.seed = seed
            options.overrides.eyeMultiplier = eyeMultiplier
            options.overrides.mouthMultiplier = mouthMultiplier
            options.overrides.backgroundWeight = backgroundWeight
            options.overrides.coverage = coverage
            options.overrides.augmentation = augmentation.overrides
            options.overrides.ganWeight = ganWeight
            options.overrides.ganWarmup = ganWarmup
            options.overrides.ganRamp = ganRamp
            options.overrides.cycleWeight = cycleWeight
            options.iterations = iterations
            options.minutes = minutes
            options.checkpointEvery = checkpointEvery
            options.previewEvery = previewEvery
            options.previewFaces = previewFaces
            options.logEvery = logEvery
            options.resume = resume
            options.force = force
            options.initFrom = initFrom.map { URL(fileURLWithPath: $0).standardizedFileURL }
            options.toolParameters = toolParameters
            StopSignal.install()
            let report = try TrainingRun(options: options, catalog: catalog, progress: progress, stopRequested: { StopSignal.pending }).run()
            if common.json { try ToolRunner.printJSON(report) }
            let losses = report.lossA.map { a in report.lossB.map { String(format: ", loss A %.4f B %.4f", a, $0) } ?? "" } ?? ""
            progress.log("train: iteration \(report.iterations) (\(report.iterations - report.startIteration) this session, "
                + String(format: "%.2f it/s", report.iterationsPerSecond) + "\(losses)), stopped by \(report.stoppedBy) -> \(report.manifest)")
            if let signal = report.signal { throw ExitCode(128 + signal) }
            return .ok
        }
    }

    /// The options that shape the model, by command-line name (recorded in model.json).
    var toolParameters: [String: JSONValue] {
        var p: [String: JSONValue] = [:]
        if let model { p["model"] = .string(model) }
        if let maskHead { p["mask-head"] = .bool(maskHead) }
        if let batchSize { p["batch-size"] = .number(Double(batchSize)) }
        if let iterations { p["iterations"] = .number(Double(iterations)) }
        if let minutes { p["minutes"] = .number(minutes) }
        if let learningRate { p["learning-rate"] = .number(learningRate) }
        if let loss { p["loss"] = .string(loss) }
        if let seed { p["seed"] = .number(Double(seed)) }
        if let coverage { p["coverage"] = .number(coverage) }
        if let ganWeight { p["gan-weight"] = .number(ganWeight) }
        if let ganWarmup { p["gan-warmup"] = .number(Double(ganWarmup)) }
        if let ganRamp { p["gan-ramp"] = .number(Double(ganRamp)) }
        if let cycleWeight { p["cycle-weight"] = .number(cycleWeight) }
        if let initFrom { p["init-from"] = .string(initFrom) }
        if resume { p["resume"] = .bool(true) }
        return p
    }
}
