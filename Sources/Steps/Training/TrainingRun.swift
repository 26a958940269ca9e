#if canImport(Glibc)
import Glibc
#endif
import Augment
import Catalog
import FacetCore
import Foundation
import Manifest
import Media
import NN

/// What `train` was asked to do.
public struct TrainOptions: Sendable {
    /// The A and B dataset manifests (`facet.dataset` or `facet.faces`); optional when resuming.
    public var datasetA: URL?, datasetB: URL?
    /// Names that replace the manifests' identities.
    public var identityA: String?, identityB: String?
    public var workspace: URL
    /// The model folder (default `<workspace>/Models/<A>_<B>`).
    public var output: URL?
    public var overrides = SettingOverrides()
    /// Train until the run has done this many iterations in total (over all sessions).
    public var iterations: Int?
    /// Stop this session after this many minutes of wall-clock time.
    public var minutes: Double?
    /// How often checkpoints, previews and loss rows are written, and the preview's faces per side; nil: the
    /// checkpoint's values when resuming (a resumed run writes what an uninterrupted one would), else
    /// `TrainingCadence.defaults`.
    public var checkpointEvery: Int?
    public var previewEvery: Int?
    public var previewFaces: Int?
    public var logEvery: Int?
    public var resume = false
    public var force = false
    /// A `facet.model` manifest whose weights start this run.
    public var initFrom: URL?
    /// The command-line parameters, recorded in the model manifest.
    public var toolParameters: [String: JSONValue] = [:]

    public init(workspace: URL) { self.workspace = workspace }
}

/// What a `train` session did (`--json`).
public struct TrainReport: Codable, Sendable {
    public var output: String
    public var manifest: String
    public var checkpoint: String
    public var preview: String?
    public var lossCurve: String
    public var lossLog: String
    public var model: String
    public var identities: [String]
    public var faces: [Int]
    public var startIteration: Int
    public var iterations: Int
    public var seconds: Double
    public var iterationsPerSecond: Double
    public var imagesPerSecond: Double
    public var lossA: Double?
    public var lossB: Double?
    /// `iterations`, `minutes` or `signal`.
    public var stoppedBy: String
    public var signal: Int32?
    public var warnings: [String]
}

/// Runs a training session: loads both datasets, builds or resumes the model, trains until the iteration
/// target, the time budget or a stop signal, and writes checkpoints, previews, the loss log and curve, the
/// catalog rows and the exported model (see README, `train`).
public final class TrainingRun {
    let options: TrainOptions
    let catalog: Catalog?
    let progress: ProgressSink
    let stopRequested: @Sendable () -> Int32?

    public init(options: TrainOptions, catalog: Catalog?, progress: ProgressSink = SilentProgress(),
                stopRequested: @escaping @Sendable () -> Int32? = { nil }) {
        self.options = options; self.catalog = catalog; self.progress = progress; self.stopRequested = stopRequested
    }

    /// The model folder for these options.
    public static func outputFolder(_ options: TrainOptions) throws -> URL {
        if let output = options.output { return output }
        guard let a = options.datasetA, let b = options.datasetB else {
            throw TrainingError.invalidOption("give --output (the model folder) or the two dataset manifests")
        }
        func name(_ given: String?, _ url: URL) -> String {
            let raw = given ?? TrainingSide.identity(ofManifest: url) ?? url.deletingPathExtension().lastPathComponent
            return String(raw.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        }
        return options.workspace.appendingPathComponent("Models").appendingPathComponent("\(name(options.identityA, a))_\(name(options.identityB, b))")
    }

    public func run() throws -> TrainReport {
        let folder = try Self.outputFolder(options)
        let checkpointURL = folder.appendingPathComponent("checkpoint.safetensors")
        if options.resume && options.force { throw TrainingError.invalidOption("--resume continues a run and --force replaces it: give one") }
        if options.resume && options.initFrom != nil {
            throw TrainingError.invalidOption("--init-from starts a new run; it cannot be combined with --resume")
        }
        guard options.iterations != nil || options.minutes != nil else {
            throw TrainingError.invalidOption("give --iterations (the run's total) or --minutes (this session's budget), or both")
        }
        let stored = options.resume ? try TrainingState.read(checkpoint: checkpointURL) : nil
        if !options.resume && FileManager.default.fileExists(atPath: checkpointURL.path) && !options.force {
            throw TrainingError.checkpointExists(path: checkpointURL.path)
        }
        let settings = try options.overrides.resolve(stored: stored?.state.settings, checkpoint: checkpointURL.path)
        let cadence = TrainingCadence(options, stored: stored?.state.cadence)
        try settings.validate()
        guard let urlA = options.datasetA ?? stored.map({ URL(fileURLWithPath: $0.state.datasets[0].manifest) }),
              let urlB = options.datasetB ?? stored.map({ URL(fileURLWithPath: $0.state.datasets[1].manifest) }) else {
            throw TrainingError.invalidOption("give the A and B dataset manifests")
        }
        let lock = try FolderLock(folder)
        defer { lock.release() }

        // Data.
        let geometry = try AugmentGeometry(outputSize: settings.model.inputSize, coverage: settings.coverage)
        progress.log("train: reading \(urlA.lastPathComponent) and \(urlB.lastPathComponent)")
        let identityA = options.identityA ?? stored?.state.datasets[0].identity
        let identityB = options.identityB ?? stored?.state.datasets[1].identity
        let sideA = try TrainingSide.load(urlA, identity: identityA, geometry: geometry, findNeighbours: settings.augmentation.warpToLandmarks)
        let sideB = try TrainingSide.load(urlB, identity: identityB, geometry: geometry, findNeighbours: settings.augmentation.warpToLandmarks)
        guard sideA.cropSize == sideB.cropSize, sideA.centering == sideB.centering else {
            throw TrainingError.framingMismatch(pathA: urlA.path, framingA: sideA.framing, pathB: urlB.path, framingB: sideB.framing)
        }
        if let stored {
            var problems: [String] = []
            for (label, side, record) in [("A", sideA, stored.state.datasets[0]), ("B", sideB, stored.state.datasets[1])]
                where side.contentSHA256 != record.contentSHA256 {
                problems.append("dataset \(label) (\(side.manifestURL.path)) holds other faces than the \(record.faces) the run was trained on")
            }
            if !problems.isEmpty { throw TrainingError.resumeMismatch(path: checkpointURL.path, problems: problems) }
        }
        var warnings: [String] = []
        for side in [sideA, sideB] where side.faces.count < TrainingSide.recommendedFaces {
            warnings.append("\(side.manifestURL.path): only \(side.faces.count) faces of \(side.identity); 300–2000 per identity train a usable model")
        }
        warnings.forEach { progress.log("train: warning: \($0)") }

        // Model.
        let model = try DeepFakesAutoencoder(configuration: settings.model.configuration(seed: settings.seed, maskHead: settings.maskHead))
        let trainer = SwapTrainer(model: model, learningRate: Float(settings.learningRate), loss: settings.loss)
        try trainer.configureAdversarial(settings.adversarial, seed: settings.seed)
        var initFrom = stored?.state.initFrom
        if stored != nil {
            try trainer.loadCheckpoint(from: checkpointURL)
            progress.log("train: resuming at iteration \(trainer.iteration)")
        } else if let url = options.initFrom {
            let (file, discriminators) = try ModelInitialiser.initialise(trainer, from: url)
            initFrom = file
            let note = trainer.discriminators.isEmpty ? "" : discriminators ? " (discriminators too)" : " (it has no discriminators: fresh ones)"
            progress.log("train: weights from \(url.path)\(note)")
        }
        if let a = settings.adversarial {
            let d = trainer.discriminators.first
            progress.log(String(format: "train: GAN weight %g (warm-up %d iterations, then rising over %d), cycle weight %g", a.ganWeight, a.ganWarmup, a.ganRamp, a.cycleWeight)
                + (d.map { String(format: "; 2 discriminators of %.3f M parameters, %.1f M multiply-adds per face", Double($0.parameterCount) / 1e6,
                                  Double($0.forwardMultiplyAdds) / 1e6) } ?? ""))
        }
        let mac = Double(model.forwardMultiplyAdds) / 1e9
        progress.log(String(format: "train: %@ model (%d px, encoder %.2f M + 2 × %.2f M decoder parameters, %.2f G multiply-adds per image), "
                            + "A: %@ (%d faces), B: %@ (%d faces), batch %d, %@, learning rate %g",
                            settings.model.rawValue, geometry.outputSize, Double(model.encoder.parameterCount) / 1e6,
                            Double(model.decoderA.parameterCount) / 1e6, mac, sideA.identity, sideA.faces.count, sideB.identity,
                            sideB.faces.count, settings.batchSize, settings.loss.rawValue, settings.learningRate))

        // Outputs.
        try? FileManager.default.createDirectory(at: folder.appendingPathComponent("previews"), withIntermediateDirectories: true)
        removeStaleTemporaryFiles(in: folder)
        let log = try LossLog(url: folder.appendingPathComponent("loss.csv"), resumingAt: stored.map { _ in trainer.iteration })
        let augmenter = try FaceAugmenter(settings: settings.augmentation, geometry: geometry)
        let samplers = [(sideA, UInt64(0)), (sideB, UInt64(1))].map { side, index in
            BatchSampler(side: side, sideIndex: index, augmenter: augmenter, seed: settings.seed, batchSize: settings.batchSize,
                         weighting: settings.weighting, wantsMasks: settings.maskHead)
        }
        let previews = try PreviewRenderer(samplerA: samplers[0], samplerB: samplers[1], count: max(1, cadence.previewFaces))
        let datasets = [DatasetRecord(sideA), DatasetRecord(sideB)]
        var runRecord = try catalogRun(folder: folder, settings: settings, model: model, sides: [sideA, sideB], initFrom: initFrom,
                                       resumeAt: stored.map { _ in trainer.iteration })

        // Training.
        let session = TrainingSession(trainer: trainer, samplers: samplers, log: log, catalog: catalog, runId: runRecord?.id,
                                      progress: progress, stopRequested: stopRequested, options: options, cadence: cadence,
                                      secondsBefore: stored?.state.seconds ?? 0,
                                      recentBefore: stored?.state.recentLoss.flatMap { $0.count == 2 ? ($0[0], $0[1]) : nil })
        let checkpoint = { (seconds: Double, recent: (Double, Double)?) throws in
            let state = TrainingState(settings: settings, datasets: datasets, seconds: seconds, initFrom: initFrom, cadence: cadence,
                                      recentLoss: recent.map { [$0.0, $0.1] })
            try trainer.saveCheckpoint(to: checkpointURL, metadata: try state.metadata())
        }
        let curveURL = folder.appendingPathComponent("loss.png")
        let preview = { () throws -> URL in
            try AtomicFile.write(try ImageEncoder(format: .png).encode(LossCurve.render(log.points)), to: curveURL, durable: false)
            let data = try ImageEncoder(format: .png).encode(try previews.render(model))
            let latest = folder.appendingPathComponent("preview.png")
            try AtomicFile.write(data, to: latest, durable: false)
            try AtomicFile.write(data, to: folder.appendingPathComponent("previews").appendingPathComponent(String(format: "%07d.png", trainer.iteration)),
                                 durable: false)
            return latest
        }
        let outcome = try session.run(checkpoint: checkpoint, preview: preview)

        // Finish: checkpoint, model, curve, catalog.
        if outcome.iterationsDone > 0 || !FileManager.default.fileExists(atPath: checkpointURL.path) { try checkpoint(outcome.totalSeconds, outcome.recentLoss) }
        let previewURL = outcome.lastPreviewIteration == trainer.iteration && outcome.iterationsDone > 0
            ? folder.appendingPathComponent("preview.png") : try preview()
        let manifestURL = try ModelExporter.export(trainer: trainer, settings: settings, sides: [sideA, sideB], folder: folder,
                                                   seconds: outcome.totalSeconds, finalLoss: outcome.recentLoss, initFrom: initFrom,
                                                   toolParameters: options.toolParameters)
        try AtomicFile.write(try ImageEncoder(format: .png).encode(LossCurve.render(log.points)), to: curveURL, durable: false)
        if let id = runRecord?.id {
            let status = outcome.stoppedBy == "signal" ? "stopped" : "complete"
            try catalog?.updateTrainingRun(id: id, status: status, iterations: trainer.iteration, seconds: outcome.totalSeconds,
                                           updatedAt: timestamp(), finishedAt: timestamp())
            runRecord?.status = status
        }
        let rate = outcome.sessionSeconds > 0 ? Double(outcome.iterationsDone) / outcome.sessionSeconds : 0
        return TrainReport(output: folder.path, manifest: manifestURL.path, checkpoint: checkpointURL.path, preview: previewURL.path,
                           lossCurve: curveURL.path, lossLog: log.url.path, model: settings.model.rawValue,
                           identities: [sideA.identity, sideB.identity], faces: [sideA.faces.count, sideB.faces.count],
                           startIteration: outcome.startIteration, iterations: trainer.iteration,
                           seconds: (outcome.sessionSeconds * 100).rounded() / 100, iterationsPerSecond: (rate * 1000).rounded() / 1000,
                           imagesPerSecond: (rate * Double(2 * settings.batchSize) * 100).rounded() / 100,
                           lossA: outcome.recentLoss?.0, lossB: outcome.recentLoss?.1, stoppedBy: outcome.stoppedBy,
                           signal: outcome.signal, warnings: warnings)
    }

    /// The catalog row of this run: the folder's latest row when resuming, else a new one.
    private func catalogRun(folder: URL, settings: TrainingSettings, model: DeepFakesAutoencoder, sides: [TrainingSide], initFrom: ModelFile?,
                            resumeAt: Int?) throws -> TrainingRunRecord? {
        guard let catalog else { return nil }
        let now = timestamp()
        if let resumeAt, var row = try catalog.latestTrainingRun(outputPath: folder.path), let id = row.id {
            try catalog.deleteTrainingLosses(runId: id, after: resumeAt)
            try catalog.updateTrainingRun(id: id, status: "running", iterations: resumeAt, seconds: row.seconds, updatedAt: now, finishedAt: nil)
            row.status = "running"
            return row
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let configuration = String(decoding: try encoder.encode(model.configuration), as: UTF8.self)
        return try catalog.insertTrainingRun(TrainingRunRecord(
            outputPath: folder.path, model: settings.model.rawValue, configuration: configuration,
            parameters: ToolRunNaming.canonicalJSON(settings.jsonObject), identityA: sides[0].identity, identityB: sides[1].identity,
            datasetASha256: sides[0].contentSHA256, datasetBSha256: sides[1].contentSHA256, facesA: sides[0].faces.count,
            facesB: sides[1].faces.count, initFrom: initFrom?.path, status: "running", iterations: resumeAt ?? 0, seconds: 0,
            startedAt: now, updatedAt: now))
    }

    /// Temporary files an interrupted atomic write left (`.checkpoint.safetensors.<pid>.<n>.tmp`, ...).
    private func removeStaleTemporaryFiles(in folder: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp")
            && ["checkpoint.safetensors", "model.safetensors", "model.json", "loss.csv", "loss.png", "preview.png"].contains(where: { name.hasPrefix(".\($0).") }) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }
}

/// An exclusive lock on a model folder (`.train.lock`), so two `train` processes never write one run.
final class FolderLock {
    private let fd: Int32

    init(_ folder: URL) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw FileError.writeFailed(path: folder.path, reason: "cannot create folder: \(error.localizedDescription)")
        }
        let path = folder.appendingPathComponent(".train.lock").path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw FileError.writeFailed(path: folder.path, reason: "another train process is using this model folder")
        }
    }

    func release() { close(fd) }
}
