import FacetCore
import Foundation

/// What one `swap` run did: for every input, its output file and, frame by frame, every face found, whether it
/// was swapped and why. Read by `score`. JSON Schema: `Manifests/swap.schema.json`. Paths are relative to the
/// manifest's folder. Pixel coordinates are in the displayed (upright) frame, origin top-left.
public struct SwapManifest: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.swap"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    /// When the manifest was written (ISO 8601, UTC).
    public var createdAt: String
    /// The catalog's `swaps` row of this run (absent when written without a catalog).
    public var swapId: Int64?
    public var model: SwapModelInfo
    public var target: SwapTarget
    /// The invisible watermark every written frame carries.
    public var watermark: SwapWatermark
    /// One entry per input file (a video, or one image), in the order given.
    public var outputs: [SwapOutput]

    public init(tool: ToolInfo, createdAt: String, swapId: Int64?, model: SwapModelInfo, target: SwapTarget, watermark: SwapWatermark,
                outputs: [SwapOutput]) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool; self.createdAt = createdAt; self.swapId = swapId; self.model = model; self.target = target
        self.watermark = watermark; self.outputs = outputs
    }
}

/// The trained model a swap used.
public struct SwapModelInfo: Codable, Equatable, Sendable {
    /// The model manifest (`model.json`), relative to the swap manifest's folder, and its SHA-256.
    public var manifest: String
    public var sha256: String
    /// SHA-256 of the weights file.
    public var weightsSha256: String
    /// `original`, `lite` or `df128`.
    public var kind: String
    /// `a-to-b` (faces of side A rendered by decoder B) or `b-to-a`.
    public var direction: String
    /// The person whose face is removed (the encoder's input side) and the person drawn in (the decoder's side).
    public var sourceIdentity: String
    public var decoderIdentity: String
    /// The model's framing: input side (px), centering, crop size, coverage.
    public var inputSize: Int
    public var centering: String
    public var cropSize: Int
    public var coverage: Double

    public init(manifest: String, sha256: String, weightsSha256: String, kind: String, direction: String, sourceIdentity: String,
                decoderIdentity: String, inputSize: Int, centering: String, cropSize: Int, coverage: Double) {
        self.manifest = manifest; self.sha256 = sha256; self.weightsSha256 = weightsSha256; self.kind = kind; self.direction = direction
        self.sourceIdentity = sourceIdentity; self.decoderIdentity = decoderIdentity; self.inputSize = inputSize
        self.centering = centering; self.cropSize = cropSize; self.coverage = coverage
    }
}

/// The only person a swap replaces.
public struct SwapTarget: Codable, Equatable, Sendable {
    /// The enrolled identity's name and catalog id (absent when the input was a faces manifest already filtered
    /// by `identify label --target` and no catalog identity was consulted).
    public var name: String
    public var identityId: Int64?
    /// The identity's consent note, copied from the catalog at swap time.
    public var consent: String?
    /// The decision rule that chose the target's tracks (e.g. `identify`'s default rule name and threshold).
    public var rule: String

    public init(name: String, identityId: Int64?, consent: String?, rule: String) {
        self.name = name; self.identityId = identityId; self.consent = consent; self.rule = rule
    }
}

/// The watermark embedded in every written frame.
public struct SwapWatermark: Codable, Equatable, Sendable {
    /// Payload bits as lowercase hex (e.g. 8 hex digits for 32 bits).
    public var payload: String
    public var bits: Int
    /// The embedding scheme's name and version (e.g. `facet-ss-dct-1`).
    public var scheme: String

    public init(payload: String, bits: Int, scheme: String) { self.payload = payload; self.bits = bits; self.scheme = scheme }
}

/// One input and what was written for it.
public struct SwapOutput: Codable, Equatable, Sendable {
    /// The input as given: a video or an image file (relative path, SHA-256, bytes, `video` or `image`).
    public var source: InputFile
    /// The written file (relative path) and its SHA-256; the provenance sidecar beside it (`<output>.provenance.json`).
    public var output: String
    public var outputSha256: String
    public var provenance: String
    /// Displayed frame size of input and output (they are equal), pixels.
    public var width: Int
    public var height: Int
    /// Video only: the stream's frame rate (frames/s), frame count, and whether audio was present and copied.
    public var frameRate: Double?
    public var hasAudio: Bool
    public var audioCopied: Bool
    /// `h264` (yuv420p, with `crf`), `ffv1` (lossless, MKV), or `png`/`jpg` for images.
    public var codec: String
    public var crf: Int?
    public var counts: SwapCounts
    /// Every frame of the input, in display order (one entry for an image).
    public var frames: [SwapFrame]
    /// The on-frame badge drawn on every frame (`--visible-label`); absent when none was.
    public var visibleLabel: SwapVisibleLabel?

    public init(source: InputFile, output: String, outputSha256: String, provenance: String, width: Int, height: Int, frameRate: Double?,
                hasAudio: Bool, audioCopied: Bool, codec: String, crf: Int?, counts: SwapCounts, frames: [SwapFrame],
                visibleLabel: SwapVisibleLabel? = nil) {
        self.visibleLabel = visibleLabel
        self.source = source; self.output = output; self.outputSha256 = outputSha256; self.provenance = provenance
        self.width = width; self.height = height; self.frameRate = frameRate; self.hasAudio = hasAudio; self.audioCopied = audioCopied
        self.codec = codec; self.crf = crf; self.counts = counts; self.frames = frames
    }
}

/// Totals over one output.
public struct SwapCounts: Codable, Equatable, Sendable {
    /// Frames written (equal to the input's decoded frames).
    public var frames: Int
    /// Faces found, faces swapped, and frames in which the target was swapped.
    public var faces: Int
    public var swapped: Int
    public var framesSwapped: Int
    /// Target faces that failed (alignment, inference or blending) and were left unchanged; damaged input frames
    /// copied through unchanged.
    public var failed: Int
    public var damagedFrames: Int

    public init(frames: Int, faces: Int, swapped: Int, framesSwapped: Int, failed: Int, damagedFrames: Int) {
        self.frames = frames; self.faces = faces; self.swapped = swapped; self.framesSwapped = framesSwapped
        self.failed = failed; self.damagedFrames = damagedFrames
    }
}

/// One frame of an input.
public struct SwapFrame: Codable, Equatable, Sendable {
    /// 0-based position in display order (the same in the output), PTS in the stream's time base, seconds.
    public var index: Int
    public var pts: Int64
    public var seconds: Double
    /// The decoder flagged this frame as damaged; it was copied through unchanged.
    public var damaged: Bool
    public var faces: [SwapFace]

    public init(index: Int, pts: Int64, seconds: Double, damaged: Bool, faces: [SwapFace]) {
        self.index = index; self.pts = pts; self.seconds = seconds; self.damaged = damaged; self.faces = faces
    }
}

/// One face in one frame.
public struct SwapFace: Codable, Equatable, Sendable {
    /// Track id, unique within this output (the same face followed across frames; a new track after a cut).
    public var track: Int
    /// Detector box in frame pixels.
    public var box: BoxItem
    /// √(box width × box height), frame pixels.
    public var faceSize: Double
    /// The identity its track was decided as (nil: unknown), and the track's distance to it (descriptor units).
    public var identity: String?
    public var distance: Double?
    /// Whether this face was replaced, and why (`target`; or why not: `not-target`, `unknown`, `small`,
    /// `failed: …`, `damaged-frame`).
    public var swapped: Bool
    public var reason: String
    /// Swapped faces only: the (track-smoothed) alignment used, frame → aligned crop of `cropSize` px
    /// (`[a, b, tx, c, d, ty]`), the share of the crop the blend mask covers (0...1), and the blend mask's
    /// bounding box in frame pixels (everything outside it is the input's pixels).
    public var matrix: [Double]?
    public var maskCoverage: Double?
    public var maskBox: BoxItem?
    /// Swapped faces only: the blend mask's outline before feathering (the landmark hull it was built from),
    /// as x, y pairs in frame pixels.
    public var maskHull: [Float]?
    /// Swapped faces only, when hands were in front of the face (`--occlusion hands|both`): each hand's landmark
    /// hull as x, y pairs in frame pixels. The blend mask is 0 within the hand margin of each, so the original's
    /// pixels stay there.
    public var occluders: [[Float]]?

    public init(track: Int, box: BoxItem, faceSize: Double, identity: String?, distance: Double?, swapped: Bool, reason: String,
                matrix: [Double]? = nil, maskCoverage: Double? = nil, maskBox: BoxItem? = nil, maskHull: [Float]? = nil,
                occluders: [[Float]]? = nil) {
        self.track = track; self.box = box; self.faceSize = faceSize; self.identity = identity; self.distance = distance
        self.swapped = swapped; self.reason = reason; self.matrix = matrix; self.maskCoverage = maskCoverage; self.maskBox = maskBox
        self.maskHull = maskHull; self.occluders = occluders
    }
}

/// `<output>.provenance.json`: written beside every file `swap` writes, saying it is synthetic, what made it
/// and from what. JSON Schema: `Manifests/provenance.schema.json`. Paths are relative to the sidecar's folder.
public struct ProvenanceSidecar: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.provenance"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    /// Always true: the file is a face swap.
    public var synthetic: Bool
    /// A sentence for people: what this file is.
    public var statement: String
    public var tool: ToolInfo
    public var createdAt: String
    /// The file this sidecar describes, and its SHA-256.
    public var output: String
    public var outputSha256: String
    /// The input the output was made from.
    public var source: InputFile
    public var model: SwapModelInfo
    public var target: SwapTarget
    public var watermark: SwapWatermark
    /// The catalog's `swaps` row, when recorded.
    public var swapId: Int64?
    /// Faces replaced and frames written.
    public var facesSwapped: Int
    public var frames: Int
    /// The on-frame badge every frame carries (`--visible-label`); absent when none was drawn.
    public var visibleLabel: SwapVisibleLabel?

    public init(statement: String, tool: ToolInfo, createdAt: String, output: String, outputSha256: String, source: InputFile,
                model: SwapModelInfo, target: SwapTarget, watermark: SwapWatermark, swapId: Int64?, facesSwapped: Int, frames: Int,
                visibleLabel: SwapVisibleLabel? = nil) {
        self.visibleLabel = visibleLabel
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.synthetic = true
        self.statement = statement; self.tool = tool; self.createdAt = createdAt; self.output = output; self.outputSha256 = outputSha256
        self.source = source; self.model = model; self.target = target; self.watermark = watermark; self.swapId = swapId
        self.facesSwapped = facesSwapped; self.frames = frames
    }
}

/// The visible badge `swap --visible-label` draws on every frame: its text, the corner, and the box it covers
/// (frame pixels; nothing outside the box is touched by it).
public struct SwapVisibleLabel: Codable, Equatable, Sendable {
    public var text: String
    /// top-left, top-right, bottom-left or bottom-right.
    public var corner: String
    public var box: BoxItem

    public init(text: String, corner: String, box: BoxItem) {
        self.text = text; self.corner = corner; self.box = box
    }
}
