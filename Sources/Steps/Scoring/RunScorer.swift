import Catalog
import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Models
import Recognition

/// How `score run` works: where results go, which part of the faces, how many threads.
public struct ScoreOptions: Sendable {
    public var workspace: URL
    /// Output folder for a single run (default `<workspace>/Scores/<manifest name>[-shard-K-of-N]/`).
    public var outputFolder: URL?
    /// This process scores the tracks whose shard is `shardIndex` (1-based) of `shardCount`.
    public var shardIndex: Int
    public var shardCount: Int
    /// How many worst faces the report shows as source | output strips.
    public var worst: Int
    /// Analysis threads (0: one per core).
    public var threads: Int
    /// Reuse a result whose cache key matches (same manifest, inputs, gallery, shard and scorer version).
    public var useCache: Bool
    public var models: ModelStore

    public init(workspace: URL, outputFolder: URL? = nil, shardIndex: Int = 1, shardCount: Int = 1, worst: Int = 8, threads: Int = 0,
                useCache: Bool = true, models: ModelStore = ModelStore()) {
        self.workspace = workspace; self.outputFolder = outputFolder; self.shardIndex = shardIndex; self.shardCount = shardCount
        self.worst = worst; self.threads = threads; self.useCache = useCache; self.models = models
    }

    var shardLabel: String { "\(shardIndex)/\(shardCount)" }
}

/// Scores one swap run: reads the swap manifest and the videos or images it names, measures every face, and
/// writes `score.json`, `report.html` and its PNGs to the run's folder, and the scores to the catalog.
public enum RunScorer {
    /// Bumped whenever a metric's definition changes, so cached results are not reused across definitions.
    public static let scorerVersion = "score-1"
    public static let recognizer = "dlib ResNet (dlib_face_recognition_resnet_model_v1, 128-d, nearest-reference distance) on 150 px chips from "
        + "dlib's 5 points; the same recognizer that `identify` uses to label and filter the training data, so identity scores are not "
        + "independent of the data selection. No second recognizer: no registry package ships one that Facet's TFLite runtime reads."
    public static let jitterFaceSize = 256.0

    /// The folder a run's results go to: the whole run's folder (`--output`, default `<workspace>/Scores/<manifest
    /// name>`), or for shard K of N the folder `<that folder>-shard-K-of-N` beside it.
    public static func folder(for manifest: URL, options: ScoreOptions) -> URL {
        let whole = wholeFolder(for: manifest, options: options)
        return options.shardCount > 1 ? shardFolder(whole, index: options.shardIndex, count: options.shardCount) : whole
    }

    /// The whole run's folder, where a sharded run's shards are merged.
    public static func wholeFolder(for manifest: URL, options: ScoreOptions) -> URL {
        if let folder = options.outputFolder { return folder }
        return options.workspace.appendingPathComponent("Scores").appendingPathComponent(manifest.deletingPathExtension().lastPathComponent)
    }

    /// Shard K of N's folder beside the whole run's folder `whole`.
    public static func shardFolder(_ whole: URL, index: Int, count: Int) -> URL {
        whole.deletingLastPathComponent().appendingPathComponent("\(whole.lastPathComponent)-shard-\(index)-of-\(count)")
    }

    public struct Outcome: Sendable {
        public var document: ScoreDocument
        public var folder: URL
        public var cached: Bool
        /// For a shard: the whole run, merged from every shard's result once they are all there (by this call,
        /// or cached from an earlier merge or whole run); nil while shards are missing.
        public var whole: MergedRun?
    }

    /// A sharded run's whole-run result.
    public struct MergedRun: Sendable {
        public var document: ScoreDocument
        public var folder: URL
        public var cached: Bool
    }

    public static func run(manifest url: URL, options: ScoreOptions, catalog: Catalog?, progress: ProgressSink = SilentProgress()) throws -> Outcome {
        let started = DispatchTime.now()
        let swap = try ManifestIO.read(SwapManifest.self, from: url)
        // Every input first, before any work.
        for output in swap.outputs {
            for (role, path) in [("source", output.source.path), ("output", output.output)] {
                let file = ManifestIO.resolve(path, relativeToManifest: url)
                if !FileManager.default.fileExists(atPath: file.path) { throw ScoringError.inputMissing(manifest: url.path, path: file.path, role: role) }
            }
        }
        let gallery = try catalog.map { try IdentityGallery(catalog: $0) } ?? IdentityGallery(entries: [])
        let keys = try CacheKeys(manifest: url, swap: swap, gallery: gallery)
        let key = keys.key(shard: options.shardLabel)
        let folder = Self.folder(for: url, options: options)
        let resultURL = folder.appendingPathComponent("score.json")
        if options.useCache, let cached = try? ManifestIO.read(ScoreDocument.self, from: resultURL), cached.cacheKey == key {
            progress.log("score: \(url.lastPathComponent): unchanged, cached result \(resultURL.path)")
            try storeIfMissing(cached, folder: folder, in: catalog)
            var outcome = Outcome(document: cached, folder: folder, cached: true)
            if options.shardCount > 1 { outcome.whole = try mergeShards(manifest: url, swap: swap, gallery: gallery, keys: keys, options: options, catalog: catalog, progress: progress) }
            return outcome
        }

        let context = FaceContext(gallery: gallery, swap: swap)
        let threads = options.threads > 0 ? options.threads : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let measurers = try loadMeasurers(threads, store: options.models, describe: !gallery.isEmpty)

        var outputs: [OutputScore] = []
        var worst: [(WorstFace, RGBImage)] = []
        var facesScored = 0
        let total = swap.outputs.enumerated().reduce(0) { sum, output in
            sum + output.element.frames.reduce(0) { $0 + $1.faces.filter { inShard(output: output.offset, track: $0.track, options: options) }.count }
        }
        progress.begin("score \(url.lastPathComponent)", total: total, unit: "faces")
        for (o, output) in swap.outputs.enumerated() {
            let scored = try scoreOutput(output, index: o, manifest: url, context: context, measurers: measurers, options: options) { done in
                progress.update(done: facesScored + done)
            }
            facesScored += scored.score.faces.count
            outputs.append(scored.score)
            worst += scored.strips
            worst = Array(worst.sorted { $0.0.badness > $1.0.badness }.prefix(options.worst))
        }
        progress.finish()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        var document = try makeDocument(manifest: url, swap: swap, key: key, shard: options.shardLabel, context: context, outputs: outputs,
                                    seconds: seconds, options: options, catalog: catalog)
        try write(&document, strips: worst.map { ($0.0, .image($0.1)) }, to: folder, catalog: catalog, progress: progress)
        var outcome = Outcome(document: document, folder: folder, cached: false)
        if options.shardCount > 1 { outcome.whole = try mergeShards(manifest: url, swap: swap, gallery: gallery, keys: keys, options: options, catalog: catalog, progress: progress) }
        return outcome
    }

    /// A run's document from its outputs: warnings (identities not enrolled, frames, duration or audio not kept, no
    /// face swapped) and aggregates filled in, worst faces not yet.
    static func makeDocument(manifest url: URL, swap: SwapManifest, key: String, shard: String, context: FaceContext, outputs: [OutputScore],
                             seconds: Double, options: ScoreOptions, catalog: Catalog?, parameters: [String: JSONValue] = [:]) throws -> ScoreDocument {
        var warnings: [String] = []
        let catalogPath = catalog?.url.path ?? "(no catalog)"
        if context.decoder == nil {
            warnings.append("\(url.path): the decoder's identity '\(swap.model.decoderIdentity)' is not enrolled in \(catalogPath): "
                + "ID retrieval and distance to it are not measured (enroll it with identify enroll)")
        }
        if context.source == nil {
            warnings.append("\(url.path): the source identity '\(swap.model.sourceIdentity)' is not enrolled in \(catalogPath): distance to it is not measured")
        }
        warnings += outputWarnings(outputs, manifest: url)
        let swappedCount = outputs.reduce(0) { $0 + $1.faces.filter(\.swapped).count }
        if swappedCount == 0 {
            warnings.append("\(url.path): no face was swapped in this run: there is nothing to score but bystanders and coverage")
        }
        var document = ScoreDocument(
            schema: ScoreDocument.schemaName, version: ScoreDocument.currentVersion,
            tool: ToolInfo(name: "score", parameters: ["shard": .string(shard), "worst": .number(Double(options.worst))].merging(parameters) { $1 }),
            createdAt: timestamp(), manifest: url.path, manifestSha256: try SHA256.hex(fileAt: url), cacheKey: key, shard: shard,
            model: swap.model, recognizer: recognizer, gallery: context.gallery.entries.map(\.name), decoderEnrolled: context.decoder != nil,
            sourceEnrolled: context.source != nil, jitterFaceSize: jitterFaceSize, outputs: outputs, aggregates: [:], warnings: warnings,
            worst: [], seconds: seconds, facesPerSecond: seconds > 0 ? Double(swappedCount) / seconds : 0)
        document.aggregates = aggregate(document)
        return document
    }

    /// Where a worst face's strip comes from: an image made now, or a PNG a shard wrote.
    enum Strip { case image(RGBImage), file(URL) }

    /// Writes `worst/N.png`, `report.html` with its plots and `score.json` into `folder`, and the run to the catalog
    /// (replacing the runs with the keys `replacing`, i.e. the shards a merged run was made from).
    static func write(_ document: inout ScoreDocument, strips: [(WorstFace, Strip)], to folder: URL, catalog: Catalog?, replacing: [String] = [],
                      progress: ProgressSink) throws {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("worst"), withIntermediateDirectories: true)
        let encoder = try ImageEncoder(format: .png)
        var rows: [WorstFace] = []
        for (i, (row, strip)) in strips.enumerated() {
            var row = row
            row.strip = "worst/\(i + 1).png"
            let data: Data
            switch strip {
            case .image(let image): data = try encoder.encode(image)
            case .file(let url):
                guard let bytes = FileManager.default.contents(atPath: url.path) else { throw FileError.missing(path: url.path) }
                data = bytes
            }
            try AtomicFile.write(data, to: folder.appendingPathComponent(row.strip))
            rows.append(row)
        }
        document.worst = rows
        for warning in document.warnings { progress.log("score: warning: \(warning)") }
        try ScoreReport.writeRun(document, to: folder)
        // The catalog before `score.json`: the document is what marks the run done (a later run with its key is a
        // cache hit), so a run killed between the two redoes the work and replaces its catalog row.
        if let catalog { try store(document, folder: folder, in: catalog, replacing: replacing) }
        try ManifestIO.write(document, to: folder.appendingPathComponent("score.json"))
    }

    /// A cached result's catalog row, stored again when the catalog lacks it (a catalog other than the one the run
    /// was first stored in, or its rows removed); nothing when it is there.
    static func storeIfMissing(_ document: ScoreDocument, folder: URL, in catalog: Catalog?, replacing: [String] = []) throws {
        guard let catalog, try !catalog.hasScoreRun(cacheKey: document.cacheKey) else { return }
        try store(document, folder: folder, in: catalog, replacing: replacing)
    }

    /// One measurer per thread, their networks loaded in parallel.
    static func loadMeasurers(_ count: Int, store: ModelStore, describe: Bool) throws -> [FaceMeasurer] {
        final class Slots: @unchecked Sendable {
            let lock = NSLock()
            var loaded: [Result<FaceMeasurer, Error>?]
            init(_ count: Int) { loaded = Array(repeating: nil, count: count) }
        }
        let slots = Slots(count)
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let result = Result { try FaceMeasurer(store: store, describe: describe) }
            slots.lock.lock(); slots.loaded[i] = result; slots.lock.unlock()
        }
        return try slots.loaded.compactMap { try $0?.get() }
    }

    /// What a worker needs besides the job: the gallery and where the decoder's and source's persons are in it.
    struct FaceContext: Sendable {
        var gallery: IdentityGallery
        var decoder: Int?
        var source: Int?

        init(gallery: IdentityGallery, swap: SwapManifest) {
            func index(of name: String) -> Int? { gallery.entries.firstIndex { $0.name.caseInsensitiveCompare(name) == .orderedSame } }
            self.gallery = gallery
            decoder = index(of: swap.model.decoderIdentity)
            source = index(of: swap.model.sourceIdentity)
        }
    }

    /// The cache keys of a run: SHA-256 over the scorer version, the manifest's bytes, the shard, every input's
    /// and output's bytes and the gallery's references; equal keys mean an equal result. The files are hashed
    /// once, then each shard's key (and the whole run's, `1/1`) is one more hash.
    struct CacheKeys {
        let head: String
        let tail: String

        init(manifest url: URL, swap: SwapManifest, gallery: IdentityGallery) throws {
            head = "\(scorerVersion)\nmanifest \(try SHA256.hex(fileAt: url))\n"
            var text = ""
            for output in swap.outputs {
                for path in [output.source.path, output.output] {
                    text += "file \(try SHA256.hex(fileAt: ManifestIO.resolve(path, relativeToManifest: url)))\n"
                }
            }
            for entry in gallery.entries {
                text += "identity \(entry.name) \(SHA256.hex(entry.references.map(IdentityGallery.blob).reduce(Data(), +)))\n"
            }
            tail = text
        }

        /// The key of shard `K/N` (`1/1`: the whole run).
        func key(shard: String) -> String { SHA256.hex(Data((head + "shard \(shard)\n" + tail).utf8)) }
    }

    static func outputWarnings(_ outputs: [OutputScore], manifest: URL) -> [String] {
        var warnings: [String] = []
        for output in outputs {
            if !output.framesKept { warnings.append("\(output.output): \(output.outputFrames) frames, the source has \(output.sourceFrames)") }
            if !output.durationKept {
                warnings.append("\(output.output): lasts \(output.outputDuration.map { String(format: "%.3f s", $0) } ?? "?"), the source "
                    + "\(output.sourceDuration.map { String(format: "%.3f s", $0) } ?? "?")")
            }
            if !output.audioKept { warnings.append("\(output.output): the source's audio is missing") }
        }
        return warnings
    }

    /// Stores the run and its faces in the catalog (replacing an earlier result with the same key, and the runs
    /// whose keys are `replacing`).
    static func store(_ document: ScoreDocument, folder: URL, in catalog: Catalog, replacing: [String] = []) throws {
        func mean(_ name: String) -> Double? { document.aggregates[name]?.mean }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let aggregates = String(decoding: try encoder.encode(document.aggregates), as: UTF8.self)
        var run = ScoreRunRecord(
            cacheKey: document.cacheKey, manifestPath: document.manifest, manifestSha256: document.manifestSha256, modelSha256: document.model.sha256,
            modelKind: document.model.kind, sourceIdentity: document.model.sourceIdentity, decoderIdentity: document.model.decoderIdentity,
            shard: document.shard, faces: document.outputs.reduce(0) { $0 + $1.faces.count },
            swapped: document.outputs.reduce(0) { $0 + $1.faces.filter(\.swapped).count }, aggregates: aggregates,
            reportPath: folder.appendingPathComponent("report.html").path, seconds: document.seconds, scoredAt: document.createdAt)
        run.idRetrieval = mean("id_retrieval"); run.detected = mean("detected"); run.idDistanceDecoder = mean("id_distance_decoder")
        run.poseError = mean("pose_error"); run.expressionError = mean("expression_error"); run.flickerRatio = mean("flicker_ratio")
        run.landmarkJitter = mean("landmark_jitter"); run.seam = mean("seam"); run.colourDe00 = mean("colour_de00")
        run.bystanderMax = document.aggregates["bystander_change"]?.max; run.coverage = mean("coverage")
        var rows: [FaceScoreRecord] = []
        for (o, output) in document.outputs.enumerated() {
            for face in output.faces {
                var row = FaceScoreRecord(runId: 0, outputIndex: o, frame: face.frame, faceIndex: face.faceIndex, track: face.track, swapped: face.swapped)
                row.detected = face.detected; row.nearestIdentity = face.nearestIdentity; row.retrieved = face.retrieved
                row.idDistanceDecoder = face.idDistanceDecoder; row.idDistanceSource = face.idDistanceSource
                row.yawError = face.yawError; row.pitchError = face.pitchError; row.rollError = face.rollError; row.poseError = face.poseError
                row.expressionError = face.expressionError; row.flickerOutput = face.flickerOutput; row.flickerSource = face.flickerSource
                row.seam = face.seam; row.colourDe00 = face.colourDe00; row.bystanderChange = face.bystanderChange
                rows.append(row)
            }
        }
        try catalog.storeScores(run: run, faces: rows, replacing: replacing)
    }
}
