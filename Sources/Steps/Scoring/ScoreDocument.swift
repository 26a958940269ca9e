import FacetCore
import Foundation
import Manifest

/// What `score run` writes for one swap run (`score.json` beside `report.html`): every face's scores, per-track
/// temporal measures, per-output coverage, and the run's aggregates. JSON field names are the metric names of
/// README ("score") and of `--fail-if`.
public struct ScoreDocument: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.score"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    public var createdAt: String
    /// The swap manifest scored (absolute path) and its SHA-256; the cache key of this result.
    public var manifest: String
    public var manifestSha256: String
    public var cacheKey: String
    /// `K/N` when only shard K of N of the tracks was scored.
    public var shard: String
    public var model: SwapModelInfo
    /// Which recognizer measured identity, and what else it was used for.
    public var recognizer: String
    /// Enrolled identities the gallery held (names), and whether the decoder's and source's persons are among them.
    public var gallery: [String]
    public var decoderEnrolled: Bool
    public var sourceEnrolled: Bool
    /// Landmark jitter is given at this face size: √(box area) scaled to it, pixels.
    public var jitterFaceSize: Double
    public var outputs: [OutputScore]
    /// Per metric: count, mean, median, p95, min, max over the run (faces, tracks or outputs; see `Metric`).
    public var aggregates: [String: MetricSummary]
    /// Problems worth a look that did not stop scoring (identities not enrolled, no swapped faces, ...).
    public var warnings: [String]
    /// The worst faces (highest distance to the decoder's person, or not re-detected), worst first.
    public var worst: [WorstFace]
    /// Wall seconds the scoring took (0 when read from the cache).
    public var seconds: Double
    public var facesPerSecond: Double

    public init(schema: String = ScoreDocument.schemaName, version: ManifestVersion = ScoreDocument.currentVersion, tool: ToolInfo, createdAt: String,
                manifest: String, manifestSha256: String, cacheKey: String, shard: String, model: SwapModelInfo, recognizer: String, gallery: [String],
                decoderEnrolled: Bool, sourceEnrolled: Bool, jitterFaceSize: Double, outputs: [OutputScore], aggregates: [String: MetricSummary],
                warnings: [String], worst: [WorstFace], seconds: Double, facesPerSecond: Double) {
        self.schema = schema; self.version = version; self.tool = tool; self.createdAt = createdAt; self.manifest = manifest
        self.manifestSha256 = manifestSha256; self.cacheKey = cacheKey; self.shard = shard; self.model = model; self.recognizer = recognizer
        self.gallery = gallery; self.decoderEnrolled = decoderEnrolled; self.sourceEnrolled = sourceEnrolled; self.jitterFaceSize = jitterFaceSize
        self.outputs = outputs; self.aggregates = aggregates; self.warnings = warnings; self.worst = worst; self.seconds = seconds
        self.facesPerSecond = facesPerSecond
    }
}

/// One output of the swap: where it is, what was kept, and its faces and tracks.
public struct OutputScore: Codable, Equatable, Sendable {
    public var source: String
    public var output: String
    public var kind: String
    /// Frames decoded from the source and from the output; durations (s) as the containers report them; audio.
    public var sourceFrames: Int
    public var outputFrames: Int
    public var sourceDuration: Double?
    public var outputDuration: Double?
    public var sourceHasAudio: Bool
    public var outputHasAudio: Bool
    /// Frame count equal, duration within one frame (or both absent), audio present in the output when the source had it.
    public var framesKept: Bool
    public var durationKept: Bool
    public var audioKept: Bool
    /// Frames with a target face (swapped, or failed), frames where one was swapped, and their ratio.
    public var targetFrames: Int
    public var swappedFrames: Int
    public var coverage: Double?
    public var tracks: [TrackScore]
    public var faces: [FaceScore]
}

/// Temporal measures of one track of swapped faces.
public struct TrackScore: Codable, Equatable, Sendable {
    public var track: Int
    public var faces: Int
    /// Σ output frame-to-frame luma change in the face box / Σ the source's, over consecutive swapped frames
    /// (1.0: no added flicker). `nil` with fewer than two consecutive frames.
    public var flickerRatio: Double?
    /// Mean over consecutive frames and the 68 landmarks of |Δ output position − Δ source position|, pixels per
    /// frame at `jitterFaceSize`. `nil` without two consecutive re-detected frames.
    public var landmarkJitter: Double?
}

/// One face's scores. Swapped faces carry the identity, pose, expression, flicker and blending fields;
/// faces left alone carry `bystanderChange`.
public struct FaceScore: Codable, Equatable, Sendable {
    public var frame: Int
    public var seconds: Double
    public var faceIndex: Int
    public var track: Int
    public var swapped: Bool
    public var reason: String
    public var faceSize: Double
    /// Re-detected in the output frame (and in the source frame) near the manifest's box.
    public var detected: Bool?
    public var sourceDetected: Bool?
    public var nearestIdentity: String?
    public var retrieved: Bool?
    public var idDistanceDecoder: Double?
    public var idDistanceSource: Double?
    /// Output − source, degrees (signed); `poseError` = √(yaw² + pitch² + roll²) of these.
    public var yawError: Double?
    public var pitchError: Double?
    public var rollError: Double?
    public var poseError: Double?
    public var expressionError: Double?
    /// Mean |Δ luma| (0…255) in the box from the previous frame to this one, output and source.
    public var flickerOutput: Double?
    public var flickerSource: Double?
    /// Seam ratio of the output / that of the source along the mask outline (1.0: no seam added).
    public var seam: Double?
    /// CIEDE2000 between the mean skin colours of output and source inside the mask outline.
    public var colourDe00: Double?
    /// Not swapped: mean absolute RGB change (0…255) in the box.
    public var bystanderChange: Double?

    public init(frame: Int, seconds: Double, faceIndex: Int, track: Int, swapped: Bool, reason: String, faceSize: Double) {
        self.frame = frame; self.seconds = seconds; self.faceIndex = faceIndex; self.track = track; self.swapped = swapped
        self.reason = reason; self.faceSize = faceSize
    }
}

/// One of the worst faces, with its source | output strip (relative to `score.json`).
public struct WorstFace: Codable, Equatable, Sendable {
    public var output: Int
    public var frame: Int
    public var track: Int
    public var badness: Double
    public var why: String
    public var strip: String
}

/// Aggregate of one metric.
public struct MetricSummary: Codable, Equatable, Sendable {
    public var count: Int
    public var mean: Double
    public var median: Double
    public var p95: Double
    public var min: Double
    public var max: Double

    /// Summary of `values` (non-finite ones dropped); `nil` when none are left. p95 by linear interpolation.
    public init?(_ values: [Double]) {
        let v = values.filter { $0.isFinite }.sorted()
        guard let first = v.first, let last = v.last else { return nil }
        func quantile(_ q: Double) -> Double {
            let position = q * Double(v.count - 1)
            let i = Int(position.rounded(.down)), f = position - Double(i)
            return i + 1 < v.count ? v[i] + (v[i + 1] - v[i]) * f : v[i]
        }
        count = v.count; mean = v.reduce(0, +) / Double(v.count); median = quantile(0.5); p95 = quantile(0.95); min = first; max = last
    }

    public func value(_ statistic: String) -> Double? {
        switch statistic {
        case "mean": return mean
        case "median": return median
        case "p95": return p95
        case "min": return min
        case "max": return max
        case "count": return Double(count)
        default: return nil
        }
    }
}

/// The metrics `score` aggregates: name, unit, which direction is better, and what one value is.
public struct Metric: Sendable {
    public var name: String
    public var unit: String
    public var higherIsBetter: Bool
    public var per: String
    public var definition: String

    public static let all: [Metric] = [
        Metric(name: "id_retrieval", unit: "share", higherIsBetter: true, per: "swapped face",
               definition: "1 when the nearest enrolled identity of the output face is the decoder's person, else 0 (undetected faces count 0)"),
        Metric(name: "detected", unit: "share", higherIsBetter: true, per: "swapped face", definition: "1 when the output face is re-detected near its box"),
        Metric(name: "id_distance_decoder", unit: "descriptor", higherIsBetter: false, per: "swapped face",
               definition: "dlib descriptor distance to the decoder's person (nearest reference)"),
        Metric(name: "id_distance_source", unit: "descriptor", higherIsBetter: true, per: "swapped face",
               definition: "dlib descriptor distance to the source person (nearest reference)"),
        Metric(name: "pose_error", unit: "degrees", higherIsBetter: false, per: "swapped face", definition: "√(Δyaw² + Δpitch² + Δroll²), output vs source"),
        Metric(name: "yaw_error", unit: "degrees", higherIsBetter: false, per: "swapped face", definition: "|Δyaw|"),
        Metric(name: "pitch_error", unit: "degrees", higherIsBetter: false, per: "swapped face", definition: "|Δpitch|"),
        Metric(name: "roll_error", unit: "degrees", higherIsBetter: false, per: "swapped face", definition: "|Δroll|"),
        Metric(name: "expression_error", unit: "ratio", higherIsBetter: false, per: "swapped face",
               definition: "Euclidean distance of the 7 FaceMesh expression ratios, output vs source"),
        Metric(name: "flicker_ratio", unit: "ratio", higherIsBetter: false, per: "track",
               definition: "Σ output frame-to-frame luma change in the face box / Σ source's (1.0 = no added flicker)"),
        Metric(name: "landmark_jitter", unit: "px/frame", higherIsBetter: false, per: "track",
               definition: "mean |Δ output landmark − Δ source landmark| per frame, at a 256 px face"),
        Metric(name: "seam", unit: "ratio", higherIsBetter: false, per: "swapped face",
               definition: "output's gradient energy on the mask outline vs 3-6 px inside/outside, over the source's (1.0 = no seam added)"),
        Metric(name: "colour_de00", unit: "ΔE00", higherIsBetter: false, per: "swapped face",
               definition: "CIEDE2000 between output and source mean skin colour inside the mask outline"),
        Metric(name: "bystander_change", unit: "0-255", higherIsBetter: false, per: "face not swapped",
               definition: "mean absolute RGB change in the box of a face that was not swapped"),
        Metric(name: "coverage", unit: "share", higherIsBetter: true, per: "output", definition: "frames with the target swapped / frames with the target"),
        Metric(name: "frames_kept", unit: "share", higherIsBetter: true, per: "output", definition: "1 when the output has the source's frame count"),
        Metric(name: "duration_kept", unit: "share", higherIsBetter: true, per: "output", definition: "1 when the durations agree within one frame"),
        Metric(name: "audio_kept", unit: "share", higherIsBetter: true, per: "output", definition: "1 when the source's audio is in the output"),
    ]

    public static func named(_ name: String) -> Metric? { all.first { $0.name == name } }
}
