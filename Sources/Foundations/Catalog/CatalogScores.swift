import FacetCore
import Foundation
import GRDB

extension CatalogMigrations {
    /// `score`'s tables: one row per scored swap run (`score_runs`, with the headline aggregates as columns and
    /// every aggregate as JSON) and one row per scored face (`face_scores`). Re-scoring the same run (same
    /// cache key) replaces its rows.
    static func registerScores(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-scores") { db in
            try db.execute(sql: """
                CREATE TABLE score_runs (
                    id INTEGER PRIMARY KEY,
                    cache_key TEXT NOT NULL UNIQUE,
                    manifest_path TEXT NOT NULL,
                    manifest_sha256 TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    model_kind TEXT NOT NULL,
                    source_identity TEXT NOT NULL,
                    decoder_identity TEXT NOT NULL,
                    shard TEXT NOT NULL,
                    faces INTEGER NOT NULL,
                    swapped INTEGER NOT NULL,
                    id_retrieval REAL,
                    detected REAL,
                    id_distance_decoder REAL,
                    pose_error REAL,
                    expression_error REAL,
                    flicker_ratio REAL,
                    landmark_jitter REAL,
                    seam REAL,
                    colour_de00 REAL,
                    bystander_max REAL,
                    coverage REAL,
                    aggregates TEXT NOT NULL,
                    report_path TEXT,
                    seconds REAL NOT NULL,
                    scored_at TEXT NOT NULL
                );
                CREATE INDEX score_runs_by_model ON score_runs(model_sha256);
                CREATE TABLE face_scores (
                    run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
                    output_index INTEGER NOT NULL,
                    frame INTEGER NOT NULL,
                    face_index INTEGER NOT NULL,
                    track INTEGER NOT NULL,
                    swapped INTEGER NOT NULL,
                    detected INTEGER,
                    nearest_identity TEXT,
                    retrieved INTEGER,
                    id_distance_decoder REAL,
                    id_distance_source REAL,
                    yaw_error REAL,
                    pitch_error REAL,
                    roll_error REAL,
                    pose_error REAL,
                    expression_error REAL,
                    flicker_output REAL,
                    flicker_source REAL,
                    seam REAL,
                    colour_de00 REAL,
                    bystander_change REAL,
                    PRIMARY KEY (run_id, output_index, frame, face_index)
                ) WITHOUT ROWID;
                CREATE INDEX face_scores_by_track ON face_scores(run_id, output_index, track);
                """)
        }
    }
}

/// One scored swap run (table `score_runs`). Metric columns are run means (`id_retrieval`, `detected` and
/// `coverage` are shares 0…1; angles in degrees; see README, "score").
public struct ScoreRunRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "score_runs"
    public var id: Int64?
    public var cacheKey: String
    public var manifestPath: String
    public var manifestSha256: String
    public var modelSha256: String
    public var modelKind: String
    public var sourceIdentity: String
    public var decoderIdentity: String
    public var shard: String
    public var faces: Int
    public var swapped: Int
    public var idRetrieval: Double?
    public var detected: Double?
    public var idDistanceDecoder: Double?
    public var poseError: Double?
    public var expressionError: Double?
    public var flickerRatio: Double?
    public var landmarkJitter: Double?
    public var seam: Double?
    public var colourDe00: Double?
    public var bystanderMax: Double?
    public var coverage: Double?
    /// Every aggregate (mean, median, p95, count per metric) as JSON.
    public var aggregates: String
    public var reportPath: String?
    public var seconds: Double
    public var scoredAt: String

    public init(cacheKey: String, manifestPath: String, manifestSha256: String, modelSha256: String, modelKind: String, sourceIdentity: String,
                decoderIdentity: String, shard: String, faces: Int, swapped: Int, aggregates: String, reportPath: String?, seconds: Double,
                scoredAt: String) {
        self.cacheKey = cacheKey; self.manifestPath = manifestPath; self.manifestSha256 = manifestSha256; self.modelSha256 = modelSha256
        self.modelKind = modelKind; self.sourceIdentity = sourceIdentity; self.decoderIdentity = decoderIdentity; self.shard = shard
        self.faces = faces; self.swapped = swapped; self.aggregates = aggregates; self.reportPath = reportPath; self.seconds = seconds
        self.scoredAt = scoredAt
    }

    enum CodingKeys: String, CodingKey {
        case id, cacheKey = "cache_key", manifestPath = "manifest_path", manifestSha256 = "manifest_sha256", modelSha256 = "model_sha256"
        case modelKind = "model_kind", sourceIdentity = "source_identity", decoderIdentity = "decoder_identity", shard, faces, swapped
        case idRetrieval = "id_retrieval", detected, idDistanceDecoder = "id_distance_decoder", poseError = "pose_error"
        case expressionError = "expression_error", flickerRatio = "flicker_ratio", landmarkJitter = "landmark_jitter", seam
        case colourDe00 = "colour_de00", bystanderMax = "bystander_max", coverage, aggregates, reportPath = "report_path", seconds
        case scoredAt = "scored_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One scored face (table `face_scores`): swapped faces carry the identity, pose, expression, temporal and
/// blending columns; faces left alone carry `bystander_change` (mean absolute RGB change in their box, 0…255).
public struct FaceScoreRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "face_scores"
    public var runId: Int64
    public var outputIndex: Int
    public var frame: Int
    public var faceIndex: Int
    public var track: Int
    public var swapped: Bool
    public var detected: Bool?
    public var nearestIdentity: String?
    public var retrieved: Bool?
    public var idDistanceDecoder: Double?
    public var idDistanceSource: Double?
    public var yawError: Double?
    public var pitchError: Double?
    public var rollError: Double?
    public var poseError: Double?
    public var expressionError: Double?
    public var flickerOutput: Double?
    public var flickerSource: Double?
    public var seam: Double?
    public var colourDe00: Double?
    public var bystanderChange: Double?

    public init(runId: Int64, outputIndex: Int, frame: Int, faceIndex: Int, track: Int, swapped: Bool) {
        self.runId = runId; self.outputIndex = outputIndex; self.frame = frame; self.faceIndex = faceIndex; self.track = track
        self.swapped = swapped
    }

    enum CodingKeys: String, CodingKey {
        case runId = "run_id", outputIndex = "output_index", frame, faceIndex = "face_index", track, swapped, detected
        case nearestIdentity = "nearest_identity", retrieved, idDistanceDecoder = "id_distance_decoder", idDistanceSource = "id_distance_source"
        case yawError = "yaw_error", pitchError = "pitch_error", rollError = "roll_error", poseError = "pose_error"
        case expressionError = "expression_error", flickerOutput = "flicker_output", flickerSource = "flicker_source", seam
        case colourDe00 = "colour_de00", bystanderChange = "bystander_change"
    }
}

extension Catalog {
    /// Stores a scored run and its faces in one transaction, replacing an earlier row with the same cache key and
    /// the runs whose keys are `replacing` (the shards a merged run was made from). Returns the run's id.
    @discardableResult
    public func storeScores(run: ScoreRunRecord, faces: [FaceScoreRecord], replacing: [String] = []) throws -> Int64 {
        try write { db in
            for key in [run.cacheKey] + replacing { try db.execute(sql: "DELETE FROM score_runs WHERE cache_key = ?", arguments: [key]) }
            var row = run
            row.id = nil
            try row.insert(db)
            guard let id = row.id else { throw CatalogError.failed(path: url.path, reason: "score run has no id") }
            for var face in faces {
                face.runId = id
                try face.insert(db)
            }
            return id
        }
    }

    /// Removes the scored runs with these cache keys and their faces.
    public func removeScoreRuns(cacheKeys: [String]) throws {
        guard !cacheKeys.isEmpty else { return }
        try write { db in
            for key in cacheKeys { try db.execute(sql: "DELETE FROM score_runs WHERE cache_key = ?", arguments: [key]) }
        }
    }

    /// Whether a scored run with this cache key is stored.
    public func hasScoreRun(cacheKey: String) throws -> Bool {
        try read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM score_runs WHERE cache_key = ?)", arguments: [cacheKey]) ?? false }
    }

    /// Every scored run, newest first.
    public func scoreRuns() throws -> [ScoreRunRecord] {
        try read { db in try ScoreRunRecord.order(Column("id").desc).fetchAll(db) }
    }
}
