import Foundation
import GRDB

/// An enrolled person (table `identities`). Names are unique regardless of case.
public struct IdentityRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "identities"
    public var id: Int64?
    public var name: String
    /// Free text: who agreed to what (e.g. "signed release 2026-03-01, training only").
    public var consent: String
    /// Mean of the references' 128-d descriptors (little-endian float32).
    public var centroid: Data
    public var referenceCount: Int
    public var createdAt: String
    public var updatedAt: String

    public init(id: Int64? = nil, name: String, consent: String, centroid: Data, referenceCount: Int, createdAt: String, updatedAt: String) {
        self.id = id; self.name = name; self.consent = consent; self.centroid = centroid
        self.referenceCount = referenceCount; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, consent, centroid
        case referenceCount = "reference_count", createdAt = "created_at", updatedAt = "updated_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One reference face of an identity (table `identity_references`): where it came from and its descriptor.
public struct IdentityReferenceRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "identity_references"
    public var id: Int64?
    public var identityId: Int64
    /// `image` (an image file), `faces` (a face of a faces manifest) or `cluster` (a member of a cluster).
    public var origin: String
    /// The image or crop file, as given (absolute).
    public var path: String
    /// SHA-256 of the image or crop file: the same file is never added twice to one identity.
    public var sha256: String
    /// The face's catalog id for `faces` and `cluster` references.
    public var faceId: Int64?
    /// The 128-d descriptor (little-endian float32).
    public var embedding: Data
    public var addedAt: String

    public init(id: Int64? = nil, identityId: Int64, origin: String, path: String, sha256: String, faceId: Int64?, embedding: Data, addedAt: String) {
        self.id = id; self.identityId = identityId; self.origin = origin; self.path = path; self.sha256 = sha256
        self.faceId = faceId; self.embedding = embedding; self.addedAt = addedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, origin, path, sha256, embedding
        case identityId = "identity_id", faceId = "face_id", addedAt = "added_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One face's decision in a labelling run (table `face_labels`).
public struct FaceLabelRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "face_labels"
    public var labelingId: Int64
    public var faceId: Int64
    public var track: Int64
    public var cropSha256: String
    /// The final label; nil = unknown.
    public var identityId: Int64?
    public var identityName: String?
    /// Distance from this face to the label's identity (nil when unknown).
    public var distance: Double?
    /// The nearest enrolled identity and its distance, whatever the decision.
    public var nearestName: String?
    public var nearestDistance: Double?
    /// What this face alone would have been labelled (nil = unknown).
    public var faceDecision: String?
    /// `face` (decided alone) or `track` (decided by its track's vote).
    public var decidedBy: String

    public init(labelingId: Int64, faceId: Int64, track: Int64, cropSha256: String, identityId: Int64?, identityName: String?, distance: Double?,
                nearestName: String?, nearestDistance: Double?, faceDecision: String?, decidedBy: String) {
        self.labelingId = labelingId; self.faceId = faceId; self.track = track; self.cropSha256 = cropSha256
        self.identityId = identityId; self.identityName = identityName; self.distance = distance; self.nearestName = nearestName
        self.nearestDistance = nearestDistance; self.faceDecision = faceDecision; self.decidedBy = decidedBy
    }

    enum CodingKeys: String, CodingKey {
        case track, distance
        case labelingId = "labeling_id", faceId = "face_id", cropSha256 = "crop_sha256", identityId = "identity_id"
        case identityName = "identity_name", nearestName = "nearest_name", nearestDistance = "nearest_distance"
        case faceDecision = "face_decision", decidedBy = "decided_by"
    }
}

/// One labelling run (table `labelings`).
public struct LabelingRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "labelings"
    public var id: Int64?
    public var manifestPath: String
    public var manifestSha256: String
    public var outputPath: String?
    public var threshold: Double
    /// `nearest` or `centroid`.
    public var rule: String
    /// JSON object: identity name → reference count at the time of the run.
    public var identities: String
    public var faces: Int
    public var unknown: Int
    public var createdAt: String

    public init(id: Int64? = nil, manifestPath: String, manifestSha256: String, outputPath: String?, threshold: Double, rule: String,
                identities: String, faces: Int, unknown: Int, createdAt: String) {
        self.id = id; self.manifestPath = manifestPath; self.manifestSha256 = manifestSha256; self.outputPath = outputPath
        self.threshold = threshold; self.rule = rule; self.identities = identities; self.faces = faces; self.unknown = unknown
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, threshold, rule, identities, faces, unknown
        case manifestPath = "manifest_path", manifestSha256 = "manifest_sha256", outputPath = "output_path", createdAt = "created_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A face that belongs to a cluster (table `cluster_members`).
public struct ClusterMemberRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "cluster_members"
    public var clusterId: Int64
    public var faceId: Int64
    public var cropPath: String
    public var cropSha256: String

    public init(clusterId: Int64, faceId: Int64, cropPath: String, cropSha256: String) {
        self.clusterId = clusterId; self.faceId = faceId; self.cropPath = cropPath; self.cropSha256 = cropSha256
    }

    enum CodingKeys: String, CodingKey {
        case clusterId = "cluster_id", faceId = "face_id", cropPath = "crop_path", cropSha256 = "crop_sha256"
    }
}

/// A group of unknown faces found by `identify cluster` (table `clusters`).
public struct ClusterRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "clusters"
    public var id: Int64?
    public var clusteringId: Int64
    /// 1 = the largest cluster of the run.
    public var number: Int
    public var size: Int
    public var sheetPath: String?
    /// Set when the cluster was enrolled under a name.
    public var identityId: Int64?

    public init(id: Int64? = nil, clusteringId: Int64, number: Int, size: Int, sheetPath: String?, identityId: Int64? = nil) {
        self.id = id; self.clusteringId = clusteringId; self.number = number; self.size = size; self.sheetPath = sheetPath
        self.identityId = identityId
    }

    enum CodingKeys: String, CodingKey {
        case id, number, size
        case clusteringId = "clustering_id", sheetPath = "sheet_path", identityId = "identity_id"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Catalog {
    // MARK: Identities

    /// Every identity, by name.
    public func identities() throws -> [IdentityRecord] {
        try read { db in try IdentityRecord.order(Column("name").collating(.nocase)).fetchAll(db) }
    }

    /// The identity called `name` (any case), if enrolled.
    public func identity(named name: String) throws -> IdentityRecord? {
        try read { db in try IdentityRecord.filter(sql: "name = ? COLLATE NOCASE", arguments: [name]).fetchOne(db) }
    }

    /// An identity's references, oldest first.
    public func references(identityId: Int64) throws -> [IdentityReferenceRecord] {
        try read { db in try IdentityReferenceRecord.filter(Column("identity_id") == identityId).order(Column("id")).fetchAll(db) }
    }

    /// Creates the identity or adds references to it in one transaction: references whose file hash the
    /// identity already has are skipped. `centroid` computes the new centroid from all references' descriptors.
    /// Returns the stored identity and how many references were new.
    public func enroll(name: String, consent: String?, references: [IdentityReferenceRecord], at time: String,
                       centroid: ([Data]) -> Data) throws -> (identity: IdentityRecord, added: Int) {
        try write { db in
            var identity: IdentityRecord
            if let existing = try IdentityRecord.filter(sql: "name = ? COLLATE NOCASE", arguments: [name]).fetchOne(db) {
                identity = existing
            } else {
                identity = IdentityRecord(name: name, consent: consent ?? "", centroid: Data(), referenceCount: 0, createdAt: time, updatedAt: time)
                try identity.insert(db)
            }
            guard let identityId = identity.id else { throw CatalogError.failed(path: url.path, reason: "identity has no id") }
            var added = 0
            for reference in references {
                var row = reference
                row.identityId = identityId
                let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM identity_references WHERE identity_id = ? AND sha256 = ?",
                                              arguments: [identityId, row.sha256]) ?? false
                if known { continue }
                try row.insert(db)
                added += 1
            }
            let all = try Data.fetchAll(db, sql: "SELECT embedding FROM identity_references WHERE identity_id = ? ORDER BY id", arguments: [identityId])
            identity.centroid = centroid(all)
            identity.referenceCount = all.count
            if let consent { identity.consent = consent }
            identity.updatedAt = time
            try identity.update(db)
            return (identity, added)
        }
    }

    /// Removes an identity and its references; labels that named it keep the name but lose the link.
    /// Returns false when no identity has that name.
    public func removeIdentity(named name: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM identities WHERE name = ? COLLATE NOCASE", arguments: [name])
            return db.changesCount > 0
        }
    }

    // MARK: Face descriptors

    /// Stored descriptors for the given crop hashes.
    public func faceEmbeddings(cropHashes: [String]) throws -> [String: Data] {
        try read { db in
            var found: [String: Data] = [:]
            var start = 0
            while start < cropHashes.count {
                let chunk = Array(cropHashes[start..<min(cropHashes.count, start + 500)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(db, sql: "SELECT crop_sha256, embedding FROM face_embeddings WHERE crop_sha256 IN (\(marks))",
                                            arguments: StatementArguments(chunk))
                for row in rows { found[row["crop_sha256"]] = row["embedding"] }
                start += chunk.count
            }
            return found
        }
    }

    /// Stores descriptors by crop hash (one transaction per call, so an interrupted run keeps what it finished).
    public func storeFaceEmbeddings(_ embeddings: [(cropSha256: String, embedding: Data)], at time: String) throws {
        try write { db in
            for e in embeddings {
                try db.execute(sql: "INSERT OR REPLACE INTO face_embeddings (crop_sha256, embedding, created_at) VALUES (?, ?, ?)",
                               arguments: [e.cropSha256, e.embedding, time])
            }
        }
    }

    // MARK: Labelling runs

    /// Records one labelling run and all its decisions in one transaction; returns the run's id.
    public func recordLabeling(_ run: LabelingRecord, labels: [FaceLabelRecord]) throws -> Int64 {
        try write { db in
            var row = run
            try row.insert(db)
            guard let id = row.id else { throw CatalogError.failed(path: url.path, reason: "labelling has no id") }
            for var label in labels {
                label.labelingId = id
                try label.insert(db)
            }
            return id
        }
    }

    /// The decisions of one labelling run.
    public func faceLabels(labelingId: Int64) throws -> [FaceLabelRecord] {
        try read { db in try FaceLabelRecord.filter(Column("labeling_id") == labelingId).order(Column("face_id")).fetchAll(db) }
    }

    // MARK: Clusters

    /// Records a clustering run with its clusters and members; returns the clusters' stored rows, in number order.
    public func recordClustering(parameters: String, manifests: String, faces: Int, at time: String,
                                 clusters: [(number: Int, sheetPath: String?, members: [ClusterMemberRecord])]) throws -> [ClusterRecord] {
        try write { db in
            try db.execute(sql: "INSERT INTO clusterings (parameters, manifests, faces, clusters, created_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [parameters, manifests, faces, clusters.count, time])
            let clusteringId = db.lastInsertedRowID
            var stored: [ClusterRecord] = []
            for cluster in clusters {
                var row = ClusterRecord(clusteringId: clusteringId, number: cluster.number, size: cluster.members.count, sheetPath: cluster.sheetPath)
                try row.insert(db)
                guard let id = row.id else { throw CatalogError.failed(path: url.path, reason: "cluster has no id") }
                for var member in cluster.members {
                    member.clusterId = id
                    try member.insert(db)
                }
                stored.append(row)
            }
            return stored
        }
    }

    /// A stored cluster by its catalog id.
    public func cluster(id: Int64) throws -> ClusterRecord? {
        try read { db in try ClusterRecord.fetchOne(db, key: id) }
    }

    /// A cluster's members with their stored descriptors (nil when the descriptor is gone).
    public func clusterMembers(clusterId: Int64) throws -> [(member: ClusterMemberRecord, embedding: Data?)] {
        try read { db in
            let members = try ClusterMemberRecord.filter(Column("cluster_id") == clusterId).order(Column("face_id")).fetchAll(db)
            return try members.map { m in
                (m, try Data.fetchOne(db, sql: "SELECT embedding FROM face_embeddings WHERE crop_sha256 = ?", arguments: [m.cropSha256]))
            }
        }
    }

    /// Links a cluster to the identity it was enrolled as.
    public func markCluster(id: Int64, identityId: Int64) throws {
        try write { db in try db.execute(sql: "UPDATE clusters SET identity_id = ? WHERE id = ?", arguments: [identityId, id]) }
    }
}
