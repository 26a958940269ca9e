/// The output of `fetch-frames`: the frames it extracted, each with its source and time.
/// JSON Schema: `Manifests/frames.schema.json`.
public struct FramesManifest: ManifestDocument, Equatable {
    public static let schemaName = "facet.frames"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    /// When the manifest was written (ISO 8601, UTC).
    public var createdAt: String
    /// The videos and image folders the frames came from.
    public var inputs: [InputFile]
    /// The frames, in input order, then time order.
    public var items: [FrameItem]
    /// Damage met while reading inputs (e.g. a truncated video): what was skipped and why.
    public var damage: [DamageNote]

    public init(tool: ToolInfo, createdAt: String, inputs: [InputFile], items: [FrameItem], damage: [DamageNote]) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool
        self.createdAt = createdAt
        self.inputs = inputs
        self.items = items
        self.damage = damage
    }
}

/// One extracted frame.
public struct FrameItem: Codable, Equatable, Sendable {
    /// Image file, relative to the manifest's folder.
    public var path: String
    /// Index into the manifest's `inputs`.
    public var input: Int
    /// Frame number in the source: round(seconds x frame rate) for video, the file's position for images.
    public var frameNumber: Int
    /// Presentation time stamp in the source stream's time base (0 for images).
    public var pts: Int64
    /// Time from the start of the source, in seconds (0 for images).
    public var seconds: Double
    /// Size of the written image in pixels.
    public var width: Int
    public var height: Int
    /// SHA-256 of the written image file.
    public var sha256: String
    /// For frames imported from an image folder: the original file's name in that folder.
    public var original: String?

    public init(path: String, input: Int, frameNumber: Int, pts: Int64, seconds: Double, width: Int, height: Int, sha256: String,
                original: String? = nil) {
        self.path = path
        self.input = input
        self.frameNumber = frameNumber
        self.pts = pts
        self.seconds = seconds
        self.width = width
        self.height = height
        self.sha256 = sha256
        self.original = original
    }
}

/// A problem met in one input that did not stop the run.
public struct DamageNote: Codable, Equatable, Sendable {
    /// Index into the manifest's `inputs`.
    public var input: Int
    public var message: String

    public init(input: Int, message: String) {
        self.input = input
        self.message = message
    }
}
