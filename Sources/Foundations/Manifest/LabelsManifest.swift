/// A manifest another manifest was made from: its path (relative to the manifest that cites it) and hash.
public struct ManifestReference: Codable, Equatable, Sendable {
    public var path: String
    /// SHA-256 of the cited manifest's bytes.
    public var sha256: String
    public init(path: String, sha256: String) { self.path = path; self.sha256 = sha256 }
}

/// The output of `identify label`: who every face of a faces manifest is. JSON Schema:
/// `Manifests/labels.schema.json`. Distances are Euclidean distances between dlib's 128-d face descriptors.
public struct LabelsManifest: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.labels"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    public var createdAt: String
    /// The faces manifest that was labelled.
    public var faces: ManifestReference
    /// A face matches an identity when its distance is at most this.
    public var threshold: Double
    /// `nearest` (distance to the identity's nearest reference) or `centroid` (to the mean of its references).
    public var rule: String
    /// Whether faces of video tracks were decided by their track's vote (see `tracks`).
    public var trackVoting: Bool
    /// The enrolled identities the faces were compared with.
    public var identities: [LabelsIdentity]
    /// One entry per track of a video input (image inputs are decided face by face).
    public var tracks: [TrackLabel]
    /// One entry per face, in the faces manifest's order.
    public var items: [FaceLabel]
    /// Faces per final label (`unknown` for faces of no enrolled identity).
    public var counts: [String: Int]

    public init(tool: ToolInfo, createdAt: String, faces: ManifestReference, threshold: Double, rule: String, trackVoting: Bool,
                identities: [LabelsIdentity], tracks: [TrackLabel], items: [FaceLabel], counts: [String: Int]) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool; self.createdAt = createdAt; self.faces = faces; self.threshold = threshold; self.rule = rule
        self.trackVoting = trackVoting; self.identities = identities; self.tracks = tracks; self.items = items; self.counts = counts
    }
}

/// An identity as it was when the faces were labelled.
public struct LabelsIdentity: Codable, Equatable, Sendable {
    public var name: String
    public var references: Int
    public var consent: String
    public init(name: String, references: Int, consent: String) { self.name = name; self.references = references; self.consent = consent }
}

/// A track's vote: the identity whose median distance over the track's faces is smallest, when that median is
/// within the threshold.
public struct TrackLabel: Codable, Equatable, Sendable {
    public var track: Int64
    /// nil = unknown.
    public var identity: String?
    /// Median over the track's faces of the distance to `identity` (or to the best identity when unknown).
    public var medianDistance: Double?
    public var faces: Int
    /// Faces whose own distance to the track's identity was too far to carry its label (they are `unknown`).
    public var outliers: Int
    public init(track: Int64, identity: String?, medianDistance: Double?, faces: Int, outliers: Int) {
        self.track = track; self.identity = identity; self.medianDistance = medianDistance; self.faces = faces; self.outliers = outliers
    }
}

/// One face's label.
public struct FaceLabel: Codable, Equatable, Sendable {
    /// The face's catalog id and crop (relative to this manifest), as in the faces manifest.
    public var faceId: Int64
    public var crop: String
    public var track: Int64
    /// The final label; nil = unknown.
    public var identity: String?
    /// Distance to `identity` (nil when unknown).
    public var distance: Double?
    /// The nearest enrolled identity and its distance, whatever the decision.
    public var nearest: String?
    public var nearestDistance: Double?
    /// What this face alone would have been labelled (nil = unknown).
    public var faceDecision: String?
    /// `face` or `track`.
    public var decidedBy: String
    public init(faceId: Int64, crop: String, track: Int64, identity: String?, distance: Double?, nearest: String?, nearestDistance: Double?,
                faceDecision: String?, decidedBy: String) {
        self.faceId = faceId; self.crop = crop; self.track = track; self.identity = identity; self.distance = distance
        self.nearest = nearest; self.nearestDistance = nearestDistance; self.faceDecision = faceDecision; self.decidedBy = decidedBy
    }
}

/// The output of `identify cluster`: groups of faces of no enrolled identity, for a person to name.
/// JSON Schema: `Manifests/clusters.schema.json`.
public struct ClustersManifest: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.clusters"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    public var createdAt: String
    /// The faces manifests clustered.
    public var sources: [ManifestReference]
    /// Two faces (or tracks) are linked when their descriptors are at most this far apart.
    public var threshold: Double
    /// Faces clustered (after leaving out faces of enrolled identities).
    public var faces: Int
    /// Faces of enrolled identities that were left out.
    public var known: Int
    /// Clusters of at least the minimum size, largest first.
    public var clusters: [ClusterEntry]
    /// Faces in clusters below the minimum size.
    public var unclustered: Int

    public init(tool: ToolInfo, createdAt: String, sources: [ManifestReference], threshold: Double, faces: Int, known: Int,
                clusters: [ClusterEntry], unclustered: Int) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool; self.createdAt = createdAt; self.sources = sources; self.threshold = threshold; self.faces = faces
        self.known = known; self.clusters = clusters; self.unclustered = unclustered
    }
}

/// One cluster.
public struct ClusterEntry: Codable, Equatable, Sendable {
    /// Catalog id: `identify enroll --name NAME --cluster ID` enrolls the cluster.
    public var id: Int64
    /// 1 = largest.
    public var number: Int
    /// Contact-sheet PNG, relative to this manifest.
    public var sheet: String?
    public var members: [ClusterMember]
    public init(id: Int64, number: Int, sheet: String?, members: [ClusterMember]) {
        self.id = id; self.number = number; self.sheet = sheet; self.members = members
    }
}

/// A face in a cluster.
public struct ClusterMember: Codable, Equatable, Sendable {
    public var faceId: Int64
    /// Crop, relative to this manifest.
    public var crop: String
    /// Index into `sources`.
    public var source: Int
    public var track: Int64
    public init(faceId: Int64, crop: String, source: Int, track: Int64) {
        self.faceId = faceId; self.crop = crop; self.source = source; self.track = track
    }
}
