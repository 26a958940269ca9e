import FacetCore
import Faces
import Foundation
import Manifest
import Media
import Models

/// Everything a `detect` run is asked to do.
public struct DetectOptions: Sendable {
    /// Frames manifests (`.json`), videos, image files or folders of images.
    public var inputs: [URL]
    public var workspace: URL
    /// The faces manifest to write; default `<workspace>/Manifests/faces-<name>.json`.
    public var manifestURL: URL?
    /// Where the models are (nil: `$FACET_MODELS`, then `~/.cache/facet/models`).
    public var models: URL?
    /// BlazeFace full range (general video) or short range (close-up selfies).
    public var range: BlazeFace.Range
    public var analyzer: FaceAnalyzer.Settings
    /// Detector tiles per side; nil: 2 for still images (small faces in group photos), 1 for video frames.
    public var tiles: Int?
    /// Aligned crop side in pixels.
    public var size: Int
    public var centering: FaceCentering
    /// Crop format (PNG or JPEG) and JPEG quality.
    public var format: ImageFormat
    public var quality: Int
    /// Write a hull mask beside each crop.
    public var writeMasks: Bool
    /// Landmark smoothing radius in analysed frames within a track (0: off).
    public var smoothRadius: Int
    /// Video decoded on the fly: analyse only frames whose number is a multiple of this.
    public var every: Int?
    /// At most this many frames analysed per input.
    public var maxFrames: Int?
    public var maxPixels: Int
    public var shardIndex: Int
    public var shardCount: Int
    /// Background crop-encoding threads (0: one per core).
    public var threads: Int
    /// Face analyzers locating frames side by side, each on its own frames with its networks on one thread (0: one per
    /// core). 1 analyses one frame at a time with each network spread over the cores: less throughput, less time per
    /// frame. The faces found are the same either way.
    public var analyzers: Int

    public init(inputs: [URL], workspace: URL, manifestURL: URL? = nil, models: URL? = nil, range: BlazeFace.Range = .full,
                analyzer: FaceAnalyzer.Settings = FaceAnalyzer.Settings(), tiles: Int? = nil, size: Int = 256,
                centering: FaceCentering = .face, format: ImageFormat = .png, quality: Int = 95, writeMasks: Bool = false,
                smoothRadius: Int = 0, every: Int? = nil, maxFrames: Int? = nil, maxPixels: Int = 8192 * 8192,
                shardIndex: Int = 1, shardCount: Int = 1, threads: Int = 0, analyzers: Int = 0) {
        self.inputs = inputs; self.workspace = workspace; self.manifestURL = manifestURL; self.models = models
        self.range = range; self.analyzer = analyzer; self.tiles = tiles; self.size = size; self.centering = centering
        self.format = format; self.quality = quality; self.writeMasks = writeMasks; self.smoothRadius = smoothRadius
        self.every = every; self.maxFrames = maxFrames; self.maxPixels = maxPixels
        self.shardIndex = shardIndex; self.shardCount = shardCount; self.threads = threads; self.analyzers = analyzers
    }

    /// The options that shape the output (not the shard), by command-line name: recorded in the manifest
    /// and hashed into each detection's key and crop folder.
    public var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = [
            "detector": .string(range.rawValue), "min-score": .number(analyzer.minScore), "min-size": .number(analyzer.minSize),
            "max-faces": .number(Double(analyzer.maxFaces)), "min-presence": .number(analyzer.minPresence),
            "rotations": .bool(analyzer.tryRotations), "mesh-passes": .number(Double(analyzer.meshPasses)), "size": .number(Double(size)), "centering": .string(centering.rawValue),
            "format": .string(format.rawValue), "mask": .bool(writeMasks), "smooth": .number(Double(smoothRadius)),
        ]
        if format == .jpeg { p["quality"] = .number(Double(quality)) }
        if let tiles { p["tiles"] = .number(Double(tiles)) }
        if let every { p["every"] = .number(Double(every)) }
        if let maxFrames { p["max-frames"] = .number(Double(maxFrames)) }
        return p
    }

    /// `parameters` as canonical JSON (sorted keys).
    public var canonicalParameters: String { ToolRunNaming.canonicalJSON(parameters) }

    /// Checks the values a caller could get wrong.
    func validate() throws {
        func bad(_ message: String) -> DetectError { .badOption(message) }
        guard !inputs.isEmpty else { throw DetectError.noInputs }
        guard (16...2048).contains(size) else { throw bad("--size must be 16...2048 pixels") }
        guard (0...1).contains(analyzer.minScore) else { throw bad("--min-score must be 0...1") }
        guard (0...1).contains(analyzer.minPresence) else { throw bad("--min-presence must be 0...1") }
        guard analyzer.minSize >= 0 else { throw bad("--min-size must be 0 or more pixels") }
        guard (0...256).contains(analyzers) else { throw bad("--analyzers must be 0...256") }
        guard analyzer.maxFaces >= 1 else { throw bad("--max-faces must be 1 or more") }
        guard (1...2).contains(analyzer.meshPasses) else { throw bad("--mesh-passes must be 1 or 2") }
        if let tiles, !(1...4).contains(tiles) { throw bad("--tiles must be 1...4") }
        guard format == .png || format == .jpeg else { throw bad("--format must be png or jpg") }
        guard (1...100).contains(quality) else { throw bad("--quality must be 1...100") }
        guard (0...30).contains(smoothRadius) else { throw bad("--smooth must be 0...30 frames") }
        if let every, every < 1 { throw bad("--every must be 1 or more") }
        if let maxFrames, maxFrames < 1 { throw bad("--max-frames must be 1 or more") }
        guard shardIndex >= 1, shardIndex <= shardCount else { throw bad("--shard must be K/N with 1 <= K <= N") }
    }
}

/// Errors about the request, and the summary error of a run in which some inputs failed.
public enum DetectError: FacetError {
    case noInputs
    case badOption(String)
    case noFaces(path: String)
    case inputFailed(failures: [String], status: ExitStatus, report: DetectReport)

    public var exitStatus: ExitStatus {
        switch self {
        case .noInputs, .badOption: return .usage
        case .noFaces: return .dataError
        case .inputFailed(_, let status, _): return status
        }
    }

    public var description: String {
        switch self {
        case .noInputs: return "no input files given"
        case .badOption(let message): return message
        case .noFaces(let path): return "\(path): no face found"
        case .inputFailed(let failures, _, _):
            return failures.count == 1 ? failures[0] : "\(failures.count) inputs failed:\n  " + failures.joined(separator: "\n  ")
        }
    }
}

/// What a `detect` run did; printed as JSON with `--json`.
public struct DetectReport: Codable, Sendable {
    /// The manifest written, absolute (nil when no input could be read).
    public var manifest: String?
    public var inputs: Int
    /// Frames analysed (including frames already analysed by an earlier run and reused).
    public var frames: Int
    /// Faces in the manifest.
    public var faces: Int
    /// Tracks in the manifest.
    public var tracks: Int
    /// Frames analysed by this run (the rest were done before).
    public var analysed: Int
    /// Wall-clock seconds of this run.
    public var seconds: Double
    /// Per-frame milliseconds of each stage over the frames this run analysed.
    public var stages: StageTimes
    /// Damage met in inputs that did not stop the run.
    public var damage: [String]
    /// Inputs that produced nothing, with the reason.
    public var failures: [String]
}
