import FacetCore
import Foundation
import Manifest
import Media

/// Everything `fetch-frames` is asked to do.
public struct FrameExtractionOptions: Sendable {
    /// Video files, image files, or folders of images.
    public var inputs: [URL]
    /// Workspace root: frames go to `Datasets/frames/`, the manifest to `Manifests/`.
    public var workspace: URL
    /// Manifest to write (default: `<workspace>/Manifests/frames-<name>.json`).
    public var manifestURL: URL?
    /// Keep at most this many frames per second of video (first frame in each 1/fps slot).
    public var fps: Double?
    /// Keep frames whose frame number is a multiple of this.
    public var every: Int?
    /// Only frames at or after this time, in seconds.
    public var start: Double?
    /// Only frames before this time, in seconds.
    public var end: Double?
    /// At most this many frames per input.
    public var maxFrames: Int?
    /// Skip a frame whose mean absolute luma difference from the last kept frame (on a 32x32 thumbnail,
    /// 0...255 scale) is below this.
    public var minChange: Double?
    /// Output image format: `.jpeg` or `.png`.
    public var format: ImageFormat
    /// JPEG quality 1...100.
    public var quality: Int
    /// Refuse frames with more pixels than this.
    public var maxPixels: Int
    /// This process's part of the work: shard `shardIndex` (1-based) of `shardCount`.
    public var shardIndex: Int
    public var shardCount: Int
    /// Worker threads for encoding (0: one per core).
    public var threads: Int

    public init(inputs: [URL], workspace: URL, manifestURL: URL? = nil, fps: Double? = nil, every: Int? = nil,
                start: Double? = nil, end: Double? = nil, maxFrames: Int? = nil, minChange: Double? = nil,
                format: ImageFormat = .jpeg, quality: Int = 95, maxPixels: Int = 8192 * 8192,
                shardIndex: Int = 1, shardCount: Int = 1, threads: Int = 0) {
        self.inputs = inputs
        self.workspace = workspace
        self.manifestURL = manifestURL
        self.fps = fps
        self.every = every
        self.start = start
        self.end = end
        self.maxFrames = maxFrames
        self.minChange = minChange
        self.format = format
        self.quality = quality
        self.maxPixels = maxPixels
        self.shardIndex = shardIndex
        self.shardCount = shardCount
        self.threads = threads
    }

    /// The options that decide which frames come out and how they are encoded, as recorded in the
    /// manifest and hashed into each extraction's key.
    public var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = ["format": .string(format.rawValue)]
        if format == .jpeg { p["quality"] = .number(Double(quality)) }
        if let fps { p["fps"] = .number(fps) }
        if let every { p["every"] = .number(Double(every)) }
        if let start { p["start"] = .number(start) }
        if let end { p["end"] = .number(end) }
        if let maxFrames { p["max-frames"] = .number(Double(maxFrames)) }
        if let minChange { p["min-change"] = .number(minChange) }
        if shardCount > 1 { p["shard"] = .string("\(shardIndex)/\(shardCount)") }
        return p
    }

    /// `parameters` as canonical JSON (sorted keys), the form stored in the catalog.
    var canonicalParameters: String { ToolRunNaming.canonicalJSON(parameters) }
}

/// Errors about the request itself.
public enum FrameExtractionError: FacetError {
    case noInputs
    case badOption(String)
    case inputFailed(failures: [String], status: ExitStatus, report: FrameExtractionReport)

    public var exitStatus: ExitStatus {
        switch self {
        case .noInputs, .badOption: return .usage
        case .inputFailed(_, let status, _): return status
        }
    }

    public var description: String {
        switch self {
        case .noInputs: return "no input files given"
        case .badOption(let message): return message
        case .inputFailed(let failures, _, _):
            return failures.count == 1 ? failures[0] : "\(failures.count) inputs failed:\n  " + failures.joined(separator: "\n  ")
        }
    }
}
