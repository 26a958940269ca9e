import FacetCore

/// A per-identity training dataset: the faces `dedupe` selected for one person, copied into
/// `Datasets/<identity>/`, with everything `train` needs to read them without the faces manifests they came
/// from. JSON Schema: `Manifests/dataset.schema.json`. Crop coordinates are crop pixels (x right, y down,
/// origin at the crop's top-left corner, pixel centres at +0.5).
public struct DatasetManifest: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.dataset"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    /// When the manifest was written (ISO 8601, UTC).
    public var createdAt: String
    /// The person the dataset holds (an enrolled identity name, or a name the user chose).
    public var identity: String
    /// The dataset version in the catalog (1 for the first build of this identity's dataset, then 2, ...).
    public var datasetVersion: Int
    /// Side of the square crops in pixels; every item has this size.
    public var cropSize: Int
    /// `face` or `head`: how much of the head the crops show (see `FaceCentering`).
    public var centering: String
    /// The faces manifests the dataset was built from (paths relative to this manifest).
    public var sources: [InputFile]
    /// The selected faces, in a deterministic order.
    public var items: [DatasetItem]

    public init(tool: ToolInfo, createdAt: String, identity: String, datasetVersion: Int, cropSize: Int, centering: String,
                sources: [InputFile], items: [DatasetItem]) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool
        self.createdAt = createdAt
        self.identity = identity
        self.datasetVersion = datasetVersion
        self.cropSize = cropSize
        self.centering = centering
        self.sources = sources
        self.items = items
    }
}

/// One face of a dataset.
public struct DatasetItem: Codable, Equatable, Sendable {
    /// The crop image inside the dataset folder, relative to the manifest's folder.
    public var crop: String
    /// SHA-256 of the crop file's bytes (lowercase hex): a hand-edited dataset folder is detected by it.
    public var sha256: String
    /// Mask image beside the crop (white = face), relative to the manifest's folder; absent when the source
    /// faces had none (`train` then draws the landmark hull itself).
    public var mask: String?
    /// Index into the manifest's `sources`.
    public var source: Int
    /// The face's id in the catalog (`faces.id`).
    public var faceId: Int64
    /// Track id of the face in its source (see `FaceItem.track`).
    public var track: Int64
    /// Frame number and seconds in the original video or image list (see `FaceItem`).
    public var frameNumber: Int
    public var seconds: Double
    /// The 68-point landmarks in crop pixels as x, y pairs (iBUG 300-W order, `docs/landmarks.md`).
    public var landmarks68: [Float]
    /// √(box width × box height) in frame pixels, FaceMesh's presence, head pose, expression and image measures,
    /// copied from the faces manifest.
    public var faceSize: Double
    public var presence: Double
    public var pose: PoseItem
    public var expression: ExpressionItem
    public var quality: QualityItem

    public init(crop: String, sha256: String, mask: String?, source: Int, faceId: Int64, track: Int64, frameNumber: Int,
                seconds: Double, landmarks68: [Float], faceSize: Double, presence: Double, pose: PoseItem,
                expression: ExpressionItem, quality: QualityItem) {
        self.crop = crop; self.sha256 = sha256; self.mask = mask; self.source = source; self.faceId = faceId
        self.track = track; self.frameNumber = frameNumber; self.seconds = seconds; self.landmarks68 = landmarks68
        self.faceSize = faceSize; self.presence = presence; self.pose = pose; self.expression = expression
        self.quality = quality
    }
}

extension DatasetItem {
    /// A dataset item for `face` of a faces manifest: its landmarks mapped into crop pixels through the face's
    /// frame-to-crop matrix. `crop`, `sha256` and `mask` are the dataset's own copies.
    public init(face: FaceItem, crop: String, sha256: String, mask: String?, source: Int) {
        var points = [Float](repeating: 0, count: face.landmarks68.count)
        if let m = face.affine {
            var i = 0
            while i + 1 < face.landmarks68.count {
                let p = m.apply(SIMD2(Double(face.landmarks68[i]), Double(face.landmarks68[i + 1])))
                points[i] = Float(p.x)
                points[i + 1] = Float(p.y)
                i += 2
            }
        }
        self.init(crop: crop, sha256: sha256, mask: mask, source: source, faceId: face.id, track: face.track,
                  frameNumber: face.frameNumber, seconds: face.seconds, landmarks68: points, faceSize: face.faceSize,
                  presence: face.presence, pose: face.pose, expression: face.expression, quality: face.quality)
    }
}
