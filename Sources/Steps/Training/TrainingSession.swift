import Catalog
import FacetCore
import Foundation
import Manifest
import NN

/// How a session ended.
struct SessionOutcome {
    var startIteration: Int
    var iterationsDone: Int
    var sessionSeconds: Double
    var totalSeconds: Double
    /// `iterations`, `minutes` or `signal`.
    var stoppedBy: String
    var signal: Int32?
    /// Mean losses of A and B over the last logging window (or the iterations of this session).
    var recentLoss: (Double, Double)?
    var lastPreviewIteration: Int?
}

/// The training loop of one session: a step of A then of B per iteration, logging, periodic checkpoints and
/// previews, the progress line, and the stop conditions (iteration target, time budget, signal).
struct TrainingSession {
    let trainer: SwapTrainer
    let samplers: [BatchSampler]
    let log: LossLog
    let catalog: Catalog?
    let runId: Int64?
    let progress: ProgressSink
    let stopRequested: @Sendable () -> Int32?
    let options: TrainOptions
    let cadence: TrainingCadence
    let secondsBefore: Double

    /// The last logged mean losses of the sessions before this one (from the checkpoint), so a resumed session
    /// that has no iteration left to do still reports them.
    let recentBefore: (Double, Double)?

    /// `checkpoint` gets the run's total seconds and the last logged mean losses (A, B).
    func run(checkpoint: (Double, (Double, Double)?) throws -> Void, preview: () throws -> URL) throws -> SessionOutcome {
        let start = trainer.iteration
        let clock = ContinuousClock.now
        func elapsed() -> Double { let d = ContinuousClock.now - clock; return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        let target = options.iterations, budget = options.minutes.map { $0 * 60 }
        progress.begin("train", total: target.map { max($0 - start, 0) }, unit: "it")
        var window = LossWindow(), shown: (Double, Double)?, recent = recentBefore
        var pendingRows: [TrainingLossRecord] = []
        var stoppedBy = "iterations", signal: Int32?, lastPreview: Int?
        func flushLogs() throws {
            try log.flush()
            try catalog?.recordTrainingLosses(pendingRows)
            pendingRows.removeAll()
            if let runId {
                try catalog?.updateTrainingRun(id: runId, status: "running", iterations: trainer.iteration, seconds: secondsBefore + elapsed(),
                                               updatedAt: timestamp(), finishedAt: nil)
            }
        }
        func record() {
            guard let means = window.means() else { return }
            let seconds = secondsBefore + elapsed()
            log.append(iteration: trainer.iteration, seconds: seconds, lossA: means.a, lossB: means.b, maskA: means.maskA, maskB: means.maskB,
                       adversarial: window.adversarialMeans())
            if let runId {
                pendingRows.append(TrainingLossRecord(runId: runId, iteration: trainer.iteration, seconds: (seconds * 10).rounded() / 10,
                                                      lossA: means.a, lossB: means.b, maskLossA: means.maskA, maskLossB: means.maskB))
            }
            recent = (means.a, means.b)
            window = LossWindow()
        }

        while true {
            if let target, trainer.iteration >= target { stoppedBy = "iterations"; break }
            if let budget, elapsed() >= budget { stoppedBy = "minutes"; break }
            if let caught = stopRequested() { stoppedBy = "signal"; signal = caught; break }
            let i = trainer.iteration
            let lossA: StepLoss, lossB: StepLoss
            if trainer.usesCycle {
                // Each side's cycle term needs the other side's batch of this iteration.
                let batchA = samplers[0].batch(iteration: i), batchB = samplers[1].batch(iteration: i)
                lossA = try trainer.step(.a, batchA, other: batchB)
                lossB = try trainer.step(.b, batchB, other: batchA)
            } else {
                lossA = try trainer.step(.a, samplers[0].batch(iteration: i))
                lossB = try trainer.step(.b, samplers[1].batch(iteration: i))
            }
            guard lossA.isFinite, lossB.isFinite else {
                throw TrainingError.diverged(iteration: i, lossA: lossA.reconstruction, lossB: lossB.reconstruction)
            }
            trainer.iteration += 1
            window.add(lossA, lossB)
            let a = Double(lossA.reconstruction), b = Double(lossB.reconstruction)
            shown = shown.map { ($0.0 * 0.95 + a * 0.05, $0.1 * 0.95 + b * 0.05) } ?? (a, b)
            let done = trainer.iteration
            if done % cadence.logEvery == 0 { record() }
            if done % cadence.checkpointEvery == 0 {
                try flushLogs()
                try checkpoint(secondsBefore + elapsed(), recent)
            }
            if done % cadence.previewEvery == 0 {
                _ = try preview()
                lastPreview = done
            }
            if pendingRows.count >= 100 { try flushLogs() }
            progress.update(done: done - start, note: note(loss: shown, done: done, start: start, target: target, budget: budget, elapsed: elapsed()))
        }
        if window.count > 0 { record() }
        try flushLogs()
        progress.finish()
        let seconds = elapsed()
        return SessionOutcome(startIteration: start, iterationsDone: trainer.iteration - start, sessionSeconds: seconds,
                              totalSeconds: secondsBefore + seconds, stoppedBy: stoppedBy, signal: signal, recentLoss: recent,
                              lastPreviewIteration: lastPreview)
    }

    /// "loss A 0.0712 B 0.0655, ETA 7:48".
    func note(loss: (Double, Double)?, done: Int, start: Int, target: Int?, budget: Double?, elapsed: Double) -> String {
        var text = loss.map { String(format: "loss A %.4f B %.4f", $0.0, $0.1) } ?? ""
        let rate = Double(done - start) / max(elapsed, 1e-9)
        var remaining: [Double] = []
        if let target, rate > 0 { remaining.append(Double(max(target - done, 0)) / rate) }
        if let budget { remaining.append(max(budget - elapsed, 0)) }
        if let eta = remaining.min() { text += (text.isEmpty ? "" : ", ") + "ETA " + Self.clock(eta) }
        return text
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Sums of the losses since the last logged row.
struct LossWindow {
    var count = 0
    var a = 0.0, b = 0.0, maskA = 0.0, maskB = 0.0
    var hasMask = false
    /// Sums and counts of the optional terms, in `AdversarialLosses` order (a term may start mid-window).
    var extraSums = [Double](repeating: 0, count: 6), extraCounts = [Int](repeating: 0, count: 6)

    mutating func add(_ lossA: StepLoss, _ lossB: StepLoss) {
        count += 1
        a += Double(lossA.reconstruction); b += Double(lossB.reconstruction)
        if let ma = lossA.mask, let mb = lossB.mask { maskA += Double(ma); maskB += Double(mb); hasMask = true }
        // The cycle of A's faces (A→B→A) is the term of B's step, and the other way round.
        for (k, value) in [lossA.discriminator, lossB.discriminator, lossA.generator, lossB.generator, lossB.cycle, lossA.cycle].enumerated() {
            if let value { extraSums[k] += Double(value); extraCounts[k] += 1 }
        }
    }

    func adversarialMeans() -> AdversarialLosses {
        let m = (0..<6).map { extraCounts[$0] > 0 ? extraSums[$0] / Double(extraCounts[$0]) : nil }
        return AdversarialLosses(discriminatorA: m[0], discriminatorB: m[1], generatorA: m[2], generatorB: m[3], cycleA: m[4], cycleB: m[5])
    }

    func means() -> (a: Double, b: Double, maskA: Double?, maskB: Double?)? {
        guard count > 0 else { return nil }
        let n = Double(count)
        return (a / n, b / n, hasMask ? maskA / n : nil, hasMask ? maskB / n : nil)
    }
}

/// `--init-from`: a new run starts from a trained model's weights.
enum ModelInitialiser {
    /// Loads the weights of the `facet.model` manifest at `url` into `trainer`'s model after checking that
    /// the architecture matches and the weights file is the one the manifest lists. Returns the reference
    /// recorded in the new run (absolute manifest path, weights hash and size).
    static func initialise(_ trainer: SwapTrainer, from url: URL) throws -> (file: ModelFile, discriminators: Bool) {
        let manifest = try ManifestIO.read(ModelManifest.self, from: url)
        let ours = trainer.model.configuration, theirs = manifest.architecture
        guard theirs.name == DeepFakesAutoencoder.architecture, theirs.inputSize == ours.inputSize,
              theirs.widthDivisor == ours.widthDivisor, theirs.maskHead == ours.maskHead else {
            throw TrainingError.initMismatch(path: url.path, reason: "it is a \(manifest.model) model (\(theirs.name), \(theirs.inputSize) px, width 1/\(theirs.widthDivisor)"
                + "\(theirs.maskHead ? ", mask head" : "")); this run trains \(ours.inputSize) px, width 1/\(ours.widthDivisor)\(ours.maskHead ? ", mask head" : "")")
        }
        let weights = ManifestIO.resolve(manifest.weights.path, relativeToManifest: url)
        let hash = try SHA256.hex(fileAt: weights)
        guard hash == manifest.weights.sha256 else {
            throw TrainingError.initMismatch(path: weights.path, reason: "its SHA-256 is not the one \(url.lastPathComponent) lists (the file changed)")
        }
        let discriminators = try trainer.importWeights(from: weights)
        return (ModelFile(path: url.path, sha256: hash, bytes: manifest.weights.bytes), discriminators)
    }
}
