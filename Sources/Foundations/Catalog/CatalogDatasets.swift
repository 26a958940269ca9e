import FacetCore
import Foundation
import GRDB

/// The tables `dedupe` adds (migration `v4-datasets`; documented in docs/catalog.md).
enum DatasetTables {
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE datasets (
                id INTEGER PRIMARY KEY,
                identity TEXT NOT NULL,
                version INTEGER NOT NULL,
                key TEXT NOT NULL UNIQUE,
                manifest_path TEXT NOT NULL,
                manifest_sha256 TEXT NOT NULL,
                parameters TEXT NOT NULL,
                faces INTEGER NOT NULL,
                candidates INTEGER NOT NULL,
                created_at TEXT NOT NULL,
                UNIQUE (identity, version)
            );
            CREATE TABLE dataset_sources (
                dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                faces_read INTEGER NOT NULL,
                faces_kept INTEGER NOT NULL,
                PRIMARY KEY (dataset_id, position)
            ) WITHOUT ROWID;
            CREATE TABLE dataset_faces (
                dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                source INTEGER NOT NULL,
                face_id INTEGER NOT NULL,
                crop_path TEXT NOT NULL,
                crop_sha256 TEXT NOT NULL,
                origin_crop_path TEXT NOT NULL,
                PRIMARY KEY (dataset_id, position)
            ) WITHOUT ROWID;
            CREATE INDEX dataset_faces_by_face ON dataset_faces(face_id);
            CREATE TABLE dataset_drops (
                dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
                source INTEGER NOT NULL,
                item INTEGER NOT NULL,
                face_id INTEGER NOT NULL,
                origin_crop_path TEXT NOT NULL,
                reason TEXT NOT NULL,
                detail TEXT NOT NULL,
                kept_face_id INTEGER,
                PRIMARY KEY (dataset_id, source, item)
            ) WITHOUT ROWID;
            CREATE INDEX dataset_drops_by_reason ON dataset_drops(dataset_id, reason);
            """)
    }
}

/// One version of one identity's dataset. Table `datasets`; `key` (inputs, options, seed) is unique, and
/// `(identity, version)` too.
public struct DatasetRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "datasets"
    public var id: Int64?
    public var identity: String
    /// 1, 2, ... per identity, in the order the versions were first built.
    public var version: Int
    /// SHA-256 of the identity, the input manifests' hashes, the reference manifests' hashes and the options.
    public var key: String
    /// The dataset manifest, relative to the workspace.
    public var manifestPath: String
    public var manifestSha256: String
    /// The options as canonical JSON.
    public var parameters: String
    /// Faces in the dataset, and faces read from the inputs.
    public var faces: Int
    public var candidates: Int
    /// When this version was first built (ISO 8601 UTC); the manifest's `createdAt`.
    public var createdAt: String

    public init(id: Int64? = nil, identity: String, version: Int, key: String, manifestPath: String, manifestSha256: String,
                parameters: String, faces: Int, candidates: Int, createdAt: String) {
        self.id = id; self.identity = identity; self.version = version; self.key = key; self.manifestPath = manifestPath
        self.manifestSha256 = manifestSha256; self.parameters = parameters; self.faces = faces; self.candidates = candidates
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, identity, version, key, parameters, faces, candidates
        case manifestPath = "manifest_path", manifestSha256 = "manifest_sha256", createdAt = "created_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A faces manifest a dataset version was built from. Table `dataset_sources`.
public struct DatasetSourceRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "dataset_sources"
    public var datasetId: Int64
    /// Index in the dataset manifest's `sources`.
    public var position: Int
    /// Absolute path of the faces manifest when the dataset was built.
    public var path: String
    public var sha256: String
    public var facesRead: Int
    public var facesKept: Int

    public init(datasetId: Int64, position: Int, path: String, sha256: String, facesRead: Int, facesKept: Int) {
        self.datasetId = datasetId; self.position = position; self.path = path; self.sha256 = sha256
        self.facesRead = facesRead; self.facesKept = facesKept
    }

    enum CodingKeys: String, CodingKey {
        case position, path, sha256
        case datasetId = "dataset_id", facesRead = "faces_read", facesKept = "faces_kept"
    }
}

/// A face in a dataset version. Table `dataset_faces`.
public struct DatasetFaceRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "dataset_faces"
    public var datasetId: Int64
    /// Index in the dataset manifest's `items`.
    public var position: Int
    /// Index in the dataset's sources.
    public var source: Int
    /// The face's id in its faces manifest: `faces.id` when that manifest was made in this workspace.
    public var faceId: Int64
    /// The copy in the dataset folder, relative to the workspace, and its hash.
    public var cropPath: String
    public var cropSha256: String
    /// The aligned crop it was copied from, relative to the workspace (absolute when outside it).
    public var originCropPath: String

    public init(datasetId: Int64, position: Int, source: Int, faceId: Int64, cropPath: String, cropSha256: String, originCropPath: String) {
        self.datasetId = datasetId; self.position = position; self.source = source; self.faceId = faceId
        self.cropPath = cropPath; self.cropSha256 = cropSha256; self.originCropPath = originCropPath
    }

    enum CodingKeys: String, CodingKey {
        case position, source
        case datasetId = "dataset_id", faceId = "face_id", cropPath = "crop_path", cropSha256 = "crop_sha256"
        case originCropPath = "origin_crop_path"
    }
}

/// A face of the inputs that a dataset version left out, and why. Table `dataset_drops`.
public struct DatasetDropRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "dataset_drops"
    public var datasetId: Int64
    public var source: Int
    /// Index of the face in its faces manifest's `items`.
    public var item: Int
    public var faceId: Int64
    public var originCropPath: String
    /// One of dedupe's drop reasons (`blurry`, `small`, `extreme-pose`, `eyes-closed`, `low-presence`,
    /// `crop-missing`, `crop-unreadable`, `duplicate`, `over-cap`).
    public var reason: String
    /// The measure and the limit, or the face it duplicates and how close it is.
    public var detail: String
    /// For a duplicate: the face id kept in its place.
    public var keptFaceId: Int64?

    public init(datasetId: Int64, source: Int, item: Int, faceId: Int64, originCropPath: String, reason: String, detail: String,
                keptFaceId: Int64?) {
        self.datasetId = datasetId; self.source = source; self.item = item; self.faceId = faceId
        self.originCropPath = originCropPath; self.reason = reason; self.detail = detail; self.keptFaceId = keptFaceId
    }

    enum CodingKeys: String, CodingKey {
        case source, item, reason, detail
        case datasetId = "dataset_id", faceId = "face_id", originCropPath = "origin_crop_path", keptFaceId = "kept_face_id"
    }
}

extension Catalog {
    /// The dataset version with this key, if any.
    public func dataset(key: String) throws -> DatasetRecord? {
        try read { db in try DatasetRecord.filter(Column("key") == key).fetchOne(db) }
    }

    /// The versions of an identity's dataset, oldest first.
    public func datasets(identity: String) throws -> [DatasetRecord] {
        try read { db in try DatasetRecord.filter(Column("identity") == identity).order(Column("version")).fetchAll(db) }
    }

    /// The version number a new build of `identity` gets: one more than the highest recorded.
    public func nextDatasetVersion(identity: String) throws -> Int {
        try read { db in
            (try Int.fetchOne(db, sql: "SELECT MAX(version) FROM datasets WHERE identity = ?", arguments: [identity]) ?? 0) + 1
        }
    }

    /// Records a dataset version with its sources, faces and drops in one transaction. A version with the
    /// same key is replaced (a rebuild of the same inputs and options), keeping its id, number and date.
    @discardableResult
    public func recordDataset(_ record: DatasetRecord, sources: [DatasetSourceRecord], faces: [DatasetFaceRecord],
                              drops: [DatasetDropRecord]) throws -> DatasetRecord {
        try write { db in
            var row = record
            if let existing = try DatasetRecord.filter(Column("key") == record.key).fetchOne(db), let id = existing.id {
                row.id = id
                row.version = existing.version
                row.createdAt = existing.createdAt
                try row.update(db)
                for table in ["dataset_sources", "dataset_faces", "dataset_drops"] {
                    try db.execute(sql: "DELETE FROM \(table) WHERE dataset_id = ?", arguments: [id])
                }
            } else {
                try row.insert(db)
            }
            guard let id = row.id else { throw CatalogError.failed(path: url.path, reason: "dataset row has no id") }
            for var source in sources { source.datasetId = id; try source.insert(db) }
            for var face in faces { face.datasetId = id; try face.insert(db) }
            for var drop in drops { drop.datasetId = id; try drop.insert(db) }
            return row
        }
    }

    /// Number of drops of a dataset version by reason.
    public func datasetDropCounts(datasetId: Int64) throws -> [String: Int] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT reason, COUNT(*) AS n FROM dataset_drops WHERE dataset_id = ? GROUP BY reason",
                                        arguments: [datasetId])
            return Dictionary(rows.map { ($0["reason"] as String, $0["n"] as Int) }, uniquingKeysWith: +)
        }
    }
}
