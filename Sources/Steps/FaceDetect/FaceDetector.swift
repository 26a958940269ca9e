import Catalog
import FacetCore
import Faces
import Foundation
import Manifest
import Media
import Models

/// Finds, aligns and measures the faces in videos, image folders and frames manifests, links them into
/// tracks, writes aligned crops under `<workspace>/Datasets/faces/`, records everything in the catalog, and
/// writes a faces manifest.
///
/// Idempotent and resumable: one detection (one source, one set of options, one shard) that completed
/// before, with its crops still on disk, is not redone; an interrupted one resumes after the last frame it
/// recorded (frames are recorded every ~2 s, only once their crops are on disk).
public final class FaceDetector {
    let options: DetectOptions
    let catalog: Catalog
    let progress: ProgressSink
    /// One analyzer per core (or `options.analyzers`); frames are located a group at a time.
    let analyzers: FaceAnalyzerPool
    let finisher: FaceFinisher
    var analysedThisRun = 0
    var decodeMilliseconds = 0.0
    var writeMilliseconds = 0.0

    /// Loads the models (so a missing model fails before any work) and checks the options.
    public init(options: DetectOptions, catalog: Catalog, progress: ProgressSink = SilentProgress()) throws {
        try options.validate()
        self.options = options
        self.catalog = catalog
        self.progress = progress
        let store = ModelStore(directory: options.models)
        analyzers = options.analyzers > 0
            ? try FaceAnalyzerPool(range: options.range, settings: options.analyzer, store: store, workers: options.analyzers)
            : try FaceAnalyzerPool(range: options.range, settings: options.analyzer, store: store)
        // With one analyzer the networks leave the pool's worker idle while a frame's faces are aligned: the crops use
        // it too. With one analyzer per core the cores are busy locating other frames meanwhile.
        finisher = FaceFinisher(size: options.size, centering: options.centering, writeMasks: options.writeMasks,
                                spreadOverCores: analyzers.workers == 1)
    }

    /// What one unit gave; its faces stay in the catalog (the manifest is written from there page by page).
    struct UnitResult {
        let file: InputFile
        let detectionId: Int64
        let frames: Int
        let faces: Int
        /// Frame image paths (absolute) by sequence, for frames read from files.
        let framePaths: [Int: URL]
        let damage: [String]
    }

    /// Runs the detection. Throws `DetectError.inputFailed` when an input produced nothing (after writing
    /// the manifest for the inputs that worked); its exit status is that of the first failure.
    public func run() throws -> DetectReport {
        let started = DispatchTime.now()
        let manifestURL = options.manifestURL ?? defaultManifestURL()
        var results: [UnitResult] = []
        var failures: [(String, ExitStatus)] = []
        for input in options.inputs {
            do {
                for unit in try DetectUnit.expand(input, warn: { progress.log("warning: \($0)") }) {
                    let result = try detect(unit, manifestURL: manifestURL)
                    for note in result.damage { progress.log("warning: \(note)") }
                    if result.faces == 0 {
                        failures.append((DetectError.noFaces(path: displayPath(unit)).description, .dataError))
                    }
                    results.append(result)
                }
            } catch let error as FacetError {
                failures.append((error.description, error.exitStatus))
            }
        }
        let counts = try catalog.faceAndTrackCounts(detectionIds: results.map(\.detectionId))
        if !results.isEmpty { try writeManifest(results, to: manifestURL) }
        let report = DetectReport(
            manifest: results.isEmpty ? nil : manifestURL.path, inputs: options.inputs.count, frames: results.reduce(0) { $0 + $1.frames },
            faces: counts.faces, tracks: counts.tracks, analysed: analysedThisRun,
            seconds: milliseconds(since: started) / 1000, stages: stageTimes(), damage: results.flatMap(\.damage),
            failures: failures.map(\.0))
        if !failures.isEmpty {
            throw DetectError.inputFailed(failures: failures.map(\.0), status: ExitStatus.mostSevere(failures.map(\.1)), report: report)
        }
        return report
    }

    /// Per-frame stage times over the frames this run analysed.
    func stageTimes() -> StageTimes {
        var t = analyzers.times
        t.decode += decodeMilliseconds
        t.write += writeMilliseconds
        return t.perFrame(analysedThisRun)
    }

    /// `Manifests/faces-<name>[.shard-K-of-N].json`: `<name>` is the input's name (a frames manifest's
    /// `frames-` prefix dropped), or a hash of all input paths when there are several.
    func defaultManifestURL() -> URL {
        ToolRunNaming.defaultManifestURL(kind: "faces", inputs: options.inputs, workspace: options.workspace,
                                         shardIndex: options.shardIndex, shardCount: options.shardCount, dropPrefix: "frames-")
    }

    /// The short name progress lines use: the video's, folder's or (for a frames manifest) source file's name.
    func displayName(_ unit: DetectUnit) -> String {
        switch unit {
        case .video(let url), .images(let url, _): return url.lastPathComponent
        case .frames(_, _, let file, _): return (file.path as NSString).lastPathComponent
        }
    }

    func displayPath(_ unit: DetectUnit) -> String {
        switch unit {
        case .video(let url): return url.path
        case .images(let root, _): return root.path
        case .frames(let manifest, let input, let file, _): return "\(manifest.path) (input \(input): \(file.path))"
        }
    }

    // MARK: One unit

    /// The source row, the input entry for the output manifest, and a feed of the unit's frames.
    func open(_ unit: DetectUnit, manifestURL: URL) throws -> (SourceRecord, InputFile, FrameFeed, [Int: URL]) {
        switch unit {
        case .video(let url):
            let reader = try VideoReader(url: url, options: VideoReaderOptions(maxPixels: options.maxPixels))
            if let interlacing = reader.info.interlacingWarning { progress.log("warning: \(url.path): \(interlacing)") }
            let hash = try ContentHasher.videoHash(url, catalog: catalog)
            let source = try catalog.registerVideo(url, info: reader.info, hash: hash)
            let file = InputFile(path: ManifestIO.relativePath(of: url, fromManifest: manifestURL), sha256: hash.sha, bytes: hash.bytes, kind: "video")
            let feed = try VideoFeed(url: url, reader: reader, every: options.every, maxFrames: options.maxFrames,
                                     shardIndex: options.shardIndex, shardCount: options.shardCount)
            return (source, file, feed, [:])
        case .images(let root, let files):
            guard !files.isEmpty else { throw InputUnit.noImages(in: root) }
            let hash = try ContentHasher.imageSetHash(files)
            let source = try catalog.upsertSource(SourceRecord(sha256: hash.sha, path: root.path, kind: "images", bytes: hash.bytes,
                                                               frameCount: files.count, addedAt: timestamp()))
            let file = InputFile(path: ManifestIO.relativePath(of: root, fromManifest: manifestURL), sha256: hash.sha, bytes: hash.bytes, kind: "images")
            let entries = files.enumerated().map { FileListFeed.Entry(file: $1, frameNumber: $0, pts: 0, seconds: 0) }
            let feed = FileListFeed(entries: entries, maxFrames: options.maxFrames, maxPixels: options.maxPixels,
                                    shardIndex: options.shardIndex, shardCount: options.shardCount)
            return (source, file, feed, Dictionary(uniqueKeysWithValues: feed.entries.enumerated().map { ($0, $1.file) }))
        case .frames(let manifest, _, let input, let items):
            let located = ManifestIO.resolve(input.path, relativeToManifest: manifest)
            let source = try catalog.source(sha256: input.sha256) ?? catalog.upsertSource(SourceRecord(
                sha256: input.sha256, path: located.path, kind: input.kind, bytes: input.bytes, addedAt: timestamp()))
            let file = InputFile(path: ManifestIO.relativePath(of: located, fromManifest: manifestURL), sha256: input.sha256,
                                 bytes: input.bytes, kind: input.kind)
            let entries = items.map {
                FileListFeed.Entry(file: ManifestIO.resolve($0.path, relativeToManifest: manifest), frameNumber: $0.frameNumber,
                                   pts: $0.pts, seconds: $0.seconds)
            }
            let feed = FileListFeed(entries: entries, maxFrames: options.maxFrames, maxPixels: options.maxPixels,
                                    shardIndex: options.shardIndex, shardCount: options.shardCount)
            return (source, file, feed, Dictionary(uniqueKeysWithValues: feed.entries.enumerated().map { ($0, $1.file) }))
        }
    }

    /// The catalog key of one detection: source content, output-shaping options, tiles and shard.
    func detectionKey(sourceSHA: String, tiles: Int) -> String {
        SHA256.hex(Data("\(sourceSHA)\n\(options.canonicalParameters)\ntiles=\(tiles)\n\(options.shardIndex)/\(options.shardCount)".utf8))
    }

    /// Folder (relative to the workspace) for a source's crops under these options; shared by all shards.
    func cropFolder(stem: String, sourceSHA: String, tiles: Int) -> String {
        let optionsHash = SHA256.hex(Data("\(options.canonicalParameters)\ntiles=\(tiles)".utf8)).prefix(8)
        return "Datasets/faces/\(stem)-\(sourceSHA.prefix(8))-\(optionsHash)"
    }

    /// True when every crop (and mask) a detection recorded is still on disk.
    func filesPresent(detectionId: Int64) throws -> Bool {
        try catalog.outputPaths(detectionId: detectionId).allSatisfy {
            FileManager.default.fileExists(atPath: options.workspace.appendingPathComponent($0).path)
        }
    }

    func detect(_ unit: DetectUnit, manifestURL: URL) throws -> UnitResult {
        var (source, file, feed, framePaths) = try open(unit, manifestURL: manifestURL)
        guard let sourceId = source.id else { throw CatalogError.failed(path: catalog.url.path, reason: "source has no id") }
        let tiles = options.tiles ?? (unit.isStills ? 2 : 1)
        var detection = try catalog.beginDetection(DetectionRecord(
            key: detectionKey(sourceSHA: source.sha256, tiles: tiles), sourceId: sourceId, parameters: options.canonicalParameters,
            shard: "\(options.shardIndex)/\(options.shardCount)", startedAt: timestamp()))
        guard let detectionId = detection.id else { throw CatalogError.failed(path: catalog.url.path, reason: "detection has no id") }
        if detection.status == "complete" {
            if try filesPresent(detectionId: detectionId) {
                let faces = try catalog.faceAndTrackCounts(detectionIds: [detectionId]).faces
                progress.log("\(displayPath(unit)): already done (\(faces) faces), nothing to do")
                let damage = (try? JSONDecoder().decode([String].self, from: Data(detection.damage.utf8))) ?? []
                return UnitResult(file: file, detectionId: detectionId, frames: try catalog.detectionFrameCount(detectionId: detectionId),
                                  faces: faces, framePaths: framePaths, damage: damage)
            }
            progress.log("\(displayPath(unit)): crops of an earlier run are missing; detecting again")
            try catalog.resetDetection(id: detectionId)
            detection.status = "running"
        }
        let run = UnitRun(detector: self, detectionId: detectionId, sourceId: sourceId,
                          folder: cropFolder(stem: unit.stem, sourceSHA: source.sha256, tiles: tiles), tiles: tiles,
                          frameIds: try frameIds(framePaths))
        try run.process(&feed, name: displayName(unit))
        decodeMilliseconds += feed.decodeMilliseconds
        let damage = feed.damage + run.damage
        let frames = try catalog.detectionFrameCount(detectionId: detectionId)
        if frames == 0 && run.framesSeen > 0 {
            throw MediaError.undecodable(path: displayPath(unit), reason: damage.isEmpty ? "no frame could be read" : damage.joined(separator: "; "))
        }
        try catalog.completeDetection(id: detectionId, damage: damage, finishedAt: timestamp())
        return UnitResult(file: file, detectionId: detectionId, frames: frames,
                          faces: try catalog.faceAndTrackCounts(detectionIds: [detectionId]).faces, framePaths: framePaths, damage: damage)
    }

    /// Catalog frame ids of frame files that `fetch-frames` recorded in this workspace, by sequence.
    func frameIds(_ paths: [Int: URL]) throws -> [Int: Int64] {
        let root = options.workspace.standardizedFileURL.path + "/"
        var ids: [Int: Int64] = [:]
        for (sequence, url) in paths where url.path.hasPrefix(root) {
            if let id = try catalog.frameId(path: String(url.path.dropFirst(root.count))) { ids[sequence] = id }
        }
        return ids
    }
}
