import FacetCore
import Foundation
import Manifest

/// `dedupe-report.json` beside a dataset manifest: what the build read, kept and left out, every dropped face
/// with its reason, and the pose quotas of the selection. JSON Schema: `Manifests/dedupe-report.schema.json`.
public struct DedupeReportDocument: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.dedupe-report"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    public var createdAt: String
    public var identity: String
    public var datasetVersion: Int
    /// The dataset manifest, relative to this report.
    public var dataset: String
    /// The faces manifests read, relative to this report (the dataset's `sources`, same order).
    public var sources: [InputFile]
    public var facesRead: Int
    public var kept: Int
    /// Faces left out by reason.
    public var dropped: [String: Int]
    /// [min, max] yaw and pitch in degrees of the faces read and of those kept (empty when none).
    public var yawRead: [Double]
    public var yawKept: [Double]
    public var pitchRead: [Double]
    public var pitchKept: [Double]
    public var warnings: [String]
    /// Pose cells holding faces after dedupe, with how many the selection took from each.
    public var quotas: [CoverageSelector.CellQuota]
    /// Every face left out, in source order.
    public var drops: [Drop]

    /// One face left out.
    public struct Drop: Codable, Equatable, Sendable {
        /// Index into `sources`, and of the face in that manifest's `items`.
        public var source: Int
        public var item: Int
        public var faceId: Int64
        /// The face's crop, relative to this report.
        public var crop: String
        /// A `DropReason` raw value.
        public var reason: String
        public var detail: String
        /// For a duplicate: the kept face's id and crop (relative to this report).
        public var keptFaceId: Int64?
        public var keptCrop: String?
    }

    public init(tool: ToolInfo, createdAt: String, identity: String, datasetVersion: Int, dataset: String, sources: [InputFile],
                facesRead: Int, kept: Int, dropped: [String: Int], yawRead: [Double], yawKept: [Double], pitchRead: [Double],
                pitchKept: [Double], warnings: [String], quotas: [CoverageSelector.CellQuota], drops: [Drop]) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool; self.createdAt = createdAt; self.identity = identity; self.datasetVersion = datasetVersion
        self.dataset = dataset; self.sources = sources; self.facesRead = facesRead; self.kept = kept; self.dropped = dropped
        self.yawRead = yawRead; self.yawKept = yawKept; self.pitchRead = pitchRead; self.pitchKept = pitchKept
        self.warnings = warnings; self.quotas = quotas; self.drops = drops
    }
}

/// [min, max] of `values`, or [] when empty.
func range(_ values: [Double]) -> [Double] {
    guard let low = values.min(), let high = values.max() else { return [] }
    return [low, high]
}

/// ISO 8601 UTC time stamp: `SOURCE_DATE_EPOCH` (seconds since 1970) when set, so builds can be reproduced
/// byte for byte, else now.
func buildTimestamp() -> String {
    var date = Date()
    if let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], let seconds = Double(text), seconds.isFinite {
        date = Date(timeIntervalSince1970: seconds)
    }
    return timestamp(date)
}
