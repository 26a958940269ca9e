import Catalog
import FacetCore
import Foundation
import Manifest
import Media

/// What a `fetch-frames` run did; printed as JSON with `--json`.
public struct FrameExtractionReport: Codable, Sendable {
    /// The manifest written, absolute (nil when nothing could be extracted).
    public var manifest: String?
    public var inputs: Int
    /// Frames in the manifest.
    public var frames: Int
    /// Frames encoded and written by this run.
    public var written: Int
    /// Frames found already done (same source, options and file) and not redone.
    public var reused: Int
    /// Frames dropped by `--min-change` as too similar to the previous kept one.
    public var similarSkipped: Int
    /// Damage met in inputs that did not stop the run.
    public var damage: [String]
    /// Inputs that produced nothing, with the reason.
    public var failures: [String]
}

/// Extracts frames from videos (and imports image folders) into the workspace, recording every source
/// and frame in the catalog and the run in a frames manifest.
///
/// Idempotent and resumable: an extraction (one source, one set of options, one shard) that completed
/// before is not redone, and frames an interrupted run already wrote and recorded are not re-encoded.
public final class FrameExtractor {
    let options: FrameExtractionOptions
    let catalog: Catalog
    let progress: ProgressSink

    /// Running totals across inputs.
    struct Tally {
        var written = 0
        var reused = 0
        var similarSkipped = 0
    }

    var tally = Tally()

    public init(options: FrameExtractionOptions, catalog: Catalog, progress: ProgressSink = SilentProgress()) {
        self.options = options
        self.catalog = catalog
        self.progress = progress
    }

    /// Runs the extraction. Throws when an input produced nothing (after writing the manifest for the
    /// inputs that worked); the error's exit status is that of the first failure.
    public func run() throws -> FrameExtractionReport {
        guard !options.inputs.isEmpty else { throw FrameExtractionError.noInputs }
        try validate()
        let manifestURL = options.manifestURL ?? defaultManifestURL()
        var inputs: [InputFile] = []
        var items: [FrameItem] = []
        var damageNotes: [DamageNote] = []
        var failures: [(String, ExitStatus)] = []

        for input in options.inputs {
            do {
                let units = try InputUnit.expand([input], warn: { progress.log("warning: \($0)") })
                for unit in units {
                    let result = try extract(unit)
                    let inputIndex = inputs.count
                    inputs.append(InputFile(path: ManifestIO.relativePath(of: unit.url, fromManifest: manifestURL),
                                            sha256: result.source.sha256, bytes: result.source.bytes, kind: unit.kind))
                    for frame in result.frames {
                        let absolute = options.workspace.appendingPathComponent(frame.path)
                        items.append(FrameItem(
                            path: ManifestIO.relativePath(of: absolute, fromManifest: manifestURL), input: inputIndex,
                            frameNumber: frame.frameNumber, pts: frame.pts, seconds: frame.seconds,
                            width: frame.width, height: frame.height, sha256: frame.sha256,
                            original: result.originalNames?[frame.frameNumber]))
                    }
                    damageNotes += result.damage.map { DamageNote(input: inputIndex, message: $0) }
                    for note in result.damage { progress.log("warning: \(unit.url.path): \(note)") }
                }
            } catch let error as FacetError {
                failures.append((error.description, error.exitStatus))
            }
        }

        var report = FrameExtractionReport(
            manifest: nil, inputs: options.inputs.count, frames: items.count, written: tally.written, reused: tally.reused,
            similarSkipped: tally.similarSkipped,
            damage: damageNotes.map { "\(inputs[$0.input].path): \($0.message)" }, failures: failures.map(\.0))
        if !inputs.isEmpty {
            let tool = ToolInfo(name: "fetch-frames", parameters: options.parameters)
            let manifest = FramesManifest(tool: tool, createdAt: timestamp(), inputs: inputs, items: items, damage: damageNotes)
            try ManifestIO.write(manifest, to: manifestURL)
            report.manifest = manifestURL.path
        }
        if !failures.isEmpty {
            throw FrameExtractionError.inputFailed(failures: failures.map(\.0), status: ExitStatus.mostSevere(failures.map(\.1)), report: report)
        }
        return report
    }

    private func validate() throws {
        if let fps = options.fps, !(fps > 0) { throw FrameExtractionError.badOption("--fps must be greater than 0") }
        if let every = options.every, every < 1 { throw FrameExtractionError.badOption("--every must be 1 or more") }
        if let maxFrames = options.maxFrames, maxFrames < 1 { throw FrameExtractionError.badOption("--max-frames must be 1 or more") }
        if let start = options.start, start < 0 { throw FrameExtractionError.badOption("--start must be 0 or more seconds") }
        if let start = options.start, let end = options.end, end <= start { throw FrameExtractionError.badOption("--end must be after --start") }
        if options.format != .jpeg && options.format != .png { throw FrameExtractionError.badOption("--format must be jpg or png") }
        if !(1...100).contains(options.quality) { throw FrameExtractionError.badOption("--quality must be 1...100") }
        if options.shardIndex < 1 || options.shardIndex > options.shardCount { throw FrameExtractionError.badOption("--shard must be K/N with 1 <= K <= N") }
    }

    /// `Manifests/frames-<name>[.shard-K-of-N].json` in the workspace (see `ToolRunNaming`).
    func defaultManifestURL() -> URL {
        ToolRunNaming.defaultManifestURL(kind: "frames", inputs: options.inputs, workspace: options.workspace,
                                         shardIndex: options.shardIndex, shardCount: options.shardCount)
    }

    /// Folder (relative to the workspace) that a source's frames go to.
    func frameFolder(stem: String, sha: String) -> String {
        "Datasets/frames/\(stem)-\(sha.prefix(8))"
    }

    /// The catalog key of one extraction: source content, output-shaping options and shard.
    func extractionKey(sourceSHA: String) -> String {
        SHA256.hex(Data("\(sourceSHA)\n\(options.canonicalParameters)\n\(options.shardIndex)/\(options.shardCount)".utf8))
    }

    /// What one input unit gave.
    struct UnitResult {
        let source: SourceRecord
        let frames: [FrameRecord]
        let damage: [String]
        /// For image sets: original file names by frame number.
        let originalNames: [Int: String]?
    }

    func extract(_ unit: InputUnit) throws -> UnitResult {
        switch unit {
        case .video(let url): return try extractVideo(url, stem: unit.stem)
        case .images(let root, let files): return try importImages(root: root, files: files, stem: unit.stem)
        }
    }

    /// A complete earlier extraction whose files are all still there, if any.
    func completedExtraction(key: String) throws -> (ExtractionRecord, [FrameRecord])? {
        guard let done = try catalog.extraction(key: key), done.status == "complete", let id = done.id else { return nil }
        let frames = try catalog.frames(extractionId: id)
        let allPresent = frames.allSatisfy { frame in
            let url = options.workspace.appendingPathComponent(frame.path)
            return (try? ContentHasher.fileFacts(url).bytes) == frame.bytes
        }
        return allPresent ? (done, frames) : nil
    }

    /// True when a frame recorded at `path` can stand for this run's frame (same encoding, file intact).
    func isReusable(_ record: FrameRecord?) -> Bool {
        guard let record else { return false }
        guard record.format == options.format.rawValue, record.quality == (options.format == .jpeg ? options.quality : 0) else { return false }
        let url = options.workspace.appendingPathComponent(record.path)
        return (try? ContentHasher.fileFacts(url).bytes) == record.bytes
    }

    /// Waits for the last encodes, records them and the frames reused from earlier runs, and closes the
    /// progress bar: the end of every extraction, whatever its input.
    func finishWriting(_ pipeline: EncodePipeline, reused: [FrameRecord], sourceId: Int64, extractionId: Int64) throws {
        try pipeline.waitAll()
        let finished = pipeline.takeCompleted()
        try record(finished, sourceId: sourceId, extractionId: extractionId)
        tally.written += finished.count
        if !reused.isEmpty {
            _ = try catalog.recordFrames(reused, extractionId: extractionId)
            tally.reused += reused.count
        }
        progress.finish()
    }

    /// Converts finished encodes to catalog rows and records them, linked to the extraction.
    func record(_ encoded: [EncodedFrame], sourceId: Int64, extractionId: Int64) throws {
        guard !encoded.isEmpty else { return }
        let now = timestamp()
        let rows = encoded.map {
            FrameRecord(sourceId: sourceId, frameNumber: $0.frameNumber, pts: $0.pts, seconds: $0.seconds, path: $0.relativePath,
                        format: options.format.rawValue, quality: options.format == .jpeg ? options.quality : 0,
                        width: $0.width, height: $0.height, bytes: $0.bytes, sha256: $0.sha256, createdAt: now)
        }
        _ = try catalog.recordFrames(rows, extractionId: extractionId)
    }
}
