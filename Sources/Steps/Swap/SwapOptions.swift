import FacetCore
import Foundation
import Media
import Models

/// Which decoder draws the new face: `aToB` renders faces of the model's side A with decoder B.
public enum SwapDirection: String, CaseIterable, Codable, Sendable {
    case aToB = "a-to-b"
    case bToA = "b-to-a"
}

/// Where the swapped face is blended in.
public enum SwapMaskChoice: String, CaseIterable, Codable, Sendable {
    /// The model's learned mask (models trained with a mask head only).
    case learned
    /// The convex hull of the 68 landmarks (jaw line and brows).
    case hull
    /// Both: the smaller weight of the two at every pixel (the default when the model has a mask head).
    case intersection
}

/// How the rendered face's colours are matched to the face it replaces (statistics inside the mask only,
/// smoothed along the track).
public enum SwapColorChoice: String, CaseIterable, Codable, Sendable {
    case none
    /// Shifts each RGB channel by the difference of the means.
    case average
    /// Reinhard et al. (2001): matches the mean and standard deviation of L*, a* and b*.
    case reinhard
    /// Matches each RGB channel's histogram to the original face's.
    case histogram
}

/// How the face is composited into the frame.
public enum SwapBlendChoice: String, CaseIterable, Codable, Sendable {
    /// α·new + (1 − α)·old with the feathered mask as α.
    case alpha
    /// Poisson (seamless) cloning: the new face's gradients inside the mask, the frame's pixels on its border.
    case poisson
}

/// What keeps the original pixels where something covers the face.
public enum SwapOcclusionChoice: String, CaseIterable, Codable, Sendable {
    case none
    /// Hands found by MediaPipe's palm detector and hand landmark model near the face: the hull of each hand's
    /// 21 landmarks, grown by `handMargin` × the face size, stays the original's. The models know what a hand is,
    /// so a face is never cut where nothing covers it; but the palm detector costs about three BlazeFace passes
    /// per swapped face per frame (and the landmark model as much again per hand near the face), so it is opt-in.
    case hands
    /// Where the model's own reconstruction of the input face (source encoder → source decoder) disagrees
    /// strongly with it (a hand, a microphone, glasses the model never learned), the original pixels stay.
    case reconstruction
    /// Both: hands, and what the reconstruction disagrees with.
    case both

    var usesHands: Bool { self == .hands || self == .both }
    var usesReconstruction: Bool { self == .reconstruction || self == .both }
}

/// The corner of the frame that holds the on-frame badge (`--visible-label`).
public enum SwapLabelCorner: String, CaseIterable, Codable, Sendable {
    case topLeft = "top-left", topRight = "top-right", bottomLeft = "bottom-left", bottomRight = "bottom-right"
}

/// The output encoding of videos.
public enum SwapOutputCodec: String, CaseIterable, Codable, Sendable {
    /// H.264 yuv420p in MP4, quality `crf`.
    case h264
    /// FFV1 in MKV, planar RGB: lossless, for exact checks.
    case ffv1
}

/// Everything `swap` was asked to do.
public struct SwapOptions: Sendable {
    /// The `facet.model` manifest.
    public var model: URL
    /// The enrolled identity to replace; nil = the model's source side's identity.
    public var target: String?
    public var direction: SwapDirection
    /// Identity decision, as `identify label` makes it: the rule (`calibrated`, `nearest` or `centroid`) and
    /// its threshold (nil: the rule's default; under `calibrated` a cap on every identity's own threshold).
    public var rule: String
    public var threshold: Double?
    public var minFaceSize: Double
    /// Track smoothing radius, frames (0 = none).
    public var smoothRadius: Int
    /// Faces per inference batch (faces of several frames go together).
    public var batchSize: Int
    /// nil = intersection when the model has a mask head, else hull.
    public var mask: SwapMaskChoice?
    /// Mask erosion and feather as fractions of the face size (√ of the detector box's area); a negative
    /// erosion grows the mask.
    public var erosion: Double
    public var feather: Double
    public var occlusion: SwapOcclusionChoice
    /// How far past a hand's landmark hull the original pixels stay (`hands`, `both`), a fraction of the face size.
    public var handMargin: Double
    /// Draw a small "SYNTHETIC · FACET" badge in `labelCorner` of every frame (off by default; the watermark,
    /// metadata and sidecar are always there).
    public var visibleLabel: Bool
    public var labelCorner: SwapLabelCorner
    /// How far the reconstruction may disagree (mean |Δ| over 0...1 RGB after a small blur) before a pixel
    /// counts as covered.
    public var occlusionThreshold: Double
    public var color: SwapColorChoice
    public var blend: SwapBlendChoice
    public var codec: SwapOutputCodec
    public var crf: Int
    public var preset: String
    /// Frames per segment: each is encoded on its own and the segments are joined without re-encoding.
    public var segmentFrames: Int
    public var shardIndex: Int
    public var shardCount: Int
    /// Write a side-by-side (input | output) contact sheet of this many sample frames (0 = none).
    public var previewFrames: Int
    /// Sample frames of a contact sheet asked for by its path alone.
    public static let defaultPreviewFrames = 6
    public var preview: URL?
    /// Output file (one input) or folder (several inputs); nil = `<workspace>/Swaps/`.
    public var output: URL?
    public var manifest: URL?
    public var workspace: URL
    public var models: ModelStore
    public var maxPixels: Int
    /// The command-line options that shaped the output, for the manifest and the catalog.
    public var parameters: [String: String]

    public init(model: URL, target: String?, direction: SwapDirection = .aToB, rule: String = "calibrated", threshold: Double? = nil, minFaceSize: Double = 36,
                smoothRadius: Int = 2, batchSize: Int = 16, mask: SwapMaskChoice? = nil, erosion: Double = 0.02, feather: Double = 0.08,
                occlusion: SwapOcclusionChoice = .none, handMargin: Double = 0.05, visibleLabel: Bool = false,
                labelCorner: SwapLabelCorner = .bottomRight, occlusionThreshold: Double = 0.18, color: SwapColorChoice = .reinhard,
                blend: SwapBlendChoice = .alpha, codec: SwapOutputCodec = .h264, crf: Int = 18, preset: String = "veryfast",
                segmentFrames: Int = 300, shardIndex: Int = 1, shardCount: Int = 1, previewFrames: Int? = nil,
                preview: URL? = nil, output: URL? = nil, manifest: URL? = nil, workspace: URL, models: ModelStore = ModelStore(),
                maxPixels: Int = 67_108_864, parameters: [String: String] = [:]) {
        self.model = model; self.target = target; self.direction = direction; self.rule = rule; self.threshold = threshold; self.minFaceSize = minFaceSize
        self.smoothRadius = smoothRadius; self.batchSize = batchSize; self.mask = mask; self.erosion = erosion; self.feather = feather
        self.occlusion = occlusion; self.handMargin = handMargin; self.visibleLabel = visibleLabel; self.labelCorner = labelCorner
        self.occlusionThreshold = occlusionThreshold; self.color = color; self.blend = blend
        self.codec = codec; self.crf = crf; self.preset = preset; self.segmentFrames = segmentFrames; self.shardIndex = shardIndex
        self.shardCount = shardCount; self.preview = preview
        // A sheet's path alone asks for a sheet: `defaultPreviewFrames` of them unless a number is given.
        self.previewFrames = previewFrames ?? (preview == nil ? 0 : Self.defaultPreviewFrames)
        self.output = output; self.manifest = manifest; self.workspace = workspace; self.models = models; self.maxPixels = maxPixels
        self.parameters = parameters
    }

    /// Checks the numbers a user gives.
    public func validate() throws {
        if let threshold { guard threshold.isFinite, threshold > 0 else { throw SwapError.badOption("--threshold must be a positive distance") } }
        guard smoothRadius >= 0, smoothRadius <= 30 else { throw SwapError.badOption("--smooth must be 0...30 frames") }
        guard batchSize >= 1, batchSize <= 256 else { throw SwapError.badOption("--batch-size must be 1...256") }
        guard erosion.isFinite, erosion > -0.5, erosion < 0.5 else { throw SwapError.badOption("--erosion must be between -0.5 and 0.5 (a fraction of the face size)") }
        guard feather.isFinite, feather >= 0, feather < 0.5 else { throw SwapError.badOption("--feather must be 0...0.5 (a fraction of the face size)") }
        guard handMargin.isFinite, handMargin >= 0, handMargin <= 0.5 else { throw SwapError.badOption("--hand-margin must be 0...0.5 (a fraction of the face size)") }
        guard occlusionThreshold.isFinite, occlusionThreshold > 0, occlusionThreshold <= 1 else {
            throw SwapError.badOption("--occlusion-threshold must be in (0, 1]")
        }
        guard crf >= 0, crf <= 51 else { throw SwapError.badOption("--crf must be 0...51") }
        guard segmentFrames >= 1, segmentFrames <= 1_000_000 else { throw SwapError.badOption("--segment-frames must be at least 1") }
        guard shardCount >= 1, shardIndex >= 1, shardIndex <= shardCount else { throw SwapError.badOption("--shard must be K/N with 1 ≤ K ≤ N") }
        guard previewFrames >= 0, previewFrames <= 64 else { throw SwapError.badOption("--preview-frames must be 0...64") }
        guard maxPixels > 0 else { throw SwapError.badOption("--max-pixels must be positive") }
    }
}

/// Why a swap cannot go on; each names the file or the identity and says what to do.
public enum SwapError: FacetError, Equatable {
    case badOption(String)
    /// The output would overwrite an input.
    case outputIsInput(path: String)
    /// No identity of that name is enrolled.
    case unknownTarget(name: String, known: [String])
    /// No identity is enrolled at all (the target filter needs the target's references).
    case noIdentities(catalog: String)
    /// The model's framing differs from the faces given (a faces manifest from `detect` with other settings).
    case framingMismatch(path: String, reason: String)
    /// An input that is neither a video, an image, a folder of images nor a faces manifest.
    case unsupportedInput(path: String, reason: String)
    /// A faces manifest whose items cannot be used.
    case badFacesManifest(path: String, reason: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .badOption, .outputIsInput: return .usage
        case .unknownTarget, .noIdentities: return .noInput
        case .framingMismatch, .unsupportedInput, .badFacesManifest: return .dataError
        }
    }

    public var description: String {
        switch self {
        case .badOption(let m): return m
        case .outputIsInput(let p): return "\(p): the output path is one of the inputs; choose another --output (nothing was written)"
        case .unknownTarget(let n, let known):
            return "no identity named '\(n)' is enrolled (enrolled: \(known.isEmpty ? "none" : known.joined(separator: ", "))); " +
                "enrol the person with `identify enroll --name \"\(n)\" --consent ... IMAGE`"
        case .noIdentities(let c): return "\(c): no identities enrolled; swap replaces only an enrolled person: run `identify enroll` first"
        case .framingMismatch(let p, let r): return "\(p): \(r)"
        case .unsupportedInput(let p, let r): return "\(p): \(r)"
        case .badFacesManifest(let p, let r): return "\(p): \(r)"
        }
    }
}
