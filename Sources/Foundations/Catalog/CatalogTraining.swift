import FacetCore
import Foundation
import GRDB

extension CatalogMigrations {
    /// `train`'s tables: one row per training run (a model folder), and its loss curve.
    static func registerTrainingRuns(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5-training-runs") { db in
            try db.execute(sql: """
                CREATE TABLE training_runs (
                    id INTEGER PRIMARY KEY,
                    output_path TEXT NOT NULL,
                    model TEXT NOT NULL,
                    configuration TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    identity_a TEXT NOT NULL,
                    identity_b TEXT NOT NULL,
                    dataset_a_sha256 TEXT NOT NULL,
                    dataset_b_sha256 TEXT NOT NULL,
                    faces_a INTEGER NOT NULL,
                    faces_b INTEGER NOT NULL,
                    init_from TEXT,
                    status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'complete')),
                    iterations INTEGER NOT NULL DEFAULT 0,
                    seconds REAL NOT NULL DEFAULT 0,
                    started_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    finished_at TEXT
                );
                CREATE INDEX training_runs_by_output ON training_runs(output_path);
                CREATE TABLE training_losses (
                    run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
                    iteration INTEGER NOT NULL,
                    seconds REAL NOT NULL,
                    loss_a REAL NOT NULL,
                    loss_b REAL NOT NULL,
                    mask_loss_a REAL,
                    mask_loss_b REAL,
                    PRIMARY KEY (run_id, iteration)
                ) WITHOUT ROWID;
                """)
        }
    }
}

/// One `train` run: a model folder trained from two datasets, over one or more sessions (`--resume`
/// continues the same row). Table `training_runs`.
public struct TrainingRunRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "training_runs"
    public var id: Int64?
    /// The model folder, absolute.
    public var outputPath: String
    /// `original`, `lite` or `df128`.
    public var model: String
    /// The network's configuration (JSON).
    public var configuration: String
    /// The training settings (canonical JSON).
    public var parameters: String
    public var identityA: String
    public var identityB: String
    /// Content hashes of the two datasets (SHA-256 of their sorted crop hashes).
    public var datasetASha256: String
    public var datasetBSha256: String
    public var facesA: Int
    public var facesB: Int
    /// The model manifest the run started from (`--init-from`).
    public var initFrom: String?
    /// `running` while a session trains (also left by a killed process), `stopped` after SIGINT/SIGTERM,
    /// `complete` when a session reached its iteration or time budget.
    public var status: String
    /// Iterations done and training seconds over all sessions.
    public var iterations: Int
    public var seconds: Double
    public var startedAt: String
    public var updatedAt: String
    public var finishedAt: String?

    public init(id: Int64? = nil, outputPath: String, model: String, configuration: String, parameters: String, identityA: String,
                identityB: String, datasetASha256: String, datasetBSha256: String, facesA: Int, facesB: Int, initFrom: String?,
                status: String, iterations: Int, seconds: Double, startedAt: String, updatedAt: String, finishedAt: String? = nil) {
        self.id = id; self.outputPath = outputPath; self.model = model; self.configuration = configuration; self.parameters = parameters
        self.identityA = identityA; self.identityB = identityB; self.datasetASha256 = datasetASha256; self.datasetBSha256 = datasetBSha256
        self.facesA = facesA; self.facesB = facesB; self.initFrom = initFrom; self.status = status; self.iterations = iterations
        self.seconds = seconds; self.startedAt = startedAt; self.updatedAt = updatedAt; self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, model, configuration, parameters, status, iterations, seconds
        case outputPath = "output_path", identityA = "identity_a", identityB = "identity_b"
        case datasetASha256 = "dataset_a_sha256", datasetBSha256 = "dataset_b_sha256", facesA = "faces_a", facesB = "faces_b"
        case initFrom = "init_from", startedAt = "started_at", updatedAt = "updated_at", finishedAt = "finished_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Mean losses over a logging window ending at `iteration`. Table `training_losses`.
public struct TrainingLossRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "training_losses"
    public var runId: Int64
    public var iteration: Int
    /// Training seconds of the run at that iteration.
    public var seconds: Double
    public var lossA: Double
    public var lossB: Double
    public var maskLossA: Double?
    public var maskLossB: Double?

    public init(runId: Int64, iteration: Int, seconds: Double, lossA: Double, lossB: Double, maskLossA: Double?, maskLossB: Double?) {
        self.runId = runId; self.iteration = iteration; self.seconds = seconds; self.lossA = lossA; self.lossB = lossB
        self.maskLossA = maskLossA; self.maskLossB = maskLossB
    }

    enum CodingKeys: String, CodingKey {
        case iteration, seconds
        case runId = "run_id", lossA = "loss_a", lossB = "loss_b", maskLossA = "mask_loss_a", maskLossB = "mask_loss_b"
    }
}

extension Catalog {
    /// The latest run recorded for a model folder.
    public func latestTrainingRun(outputPath: String) throws -> TrainingRunRecord? {
        try read { db in
            try TrainingRunRecord.filter(Column("output_path") == outputPath).order(Column("id").desc).fetchOne(db)
        }
    }

    /// Inserts a new run and returns it with its id.
    public func insertTrainingRun(_ record: TrainingRunRecord) throws -> TrainingRunRecord {
        try write { db in
            var row = record
            try row.insert(db)
            return row
        }
    }

    /// Updates a run's status, progress and times.
    public func updateTrainingRun(id: Int64, status: String, iterations: Int, seconds: Double, updatedAt: String, finishedAt: String?) throws {
        try write { db in
            try db.execute(sql: "UPDATE training_runs SET status = ?, iterations = ?, seconds = ?, updated_at = ?, finished_at = ? WHERE id = ?",
                           arguments: [status, iterations, seconds, updatedAt, finishedAt, id])
        }
    }

    /// Records loss rows (replacing rows of the same iteration) in one transaction.
    public func recordTrainingLosses(_ rows: [TrainingLossRecord]) throws {
        guard !rows.isEmpty else { return }
        try write { db in for row in rows { try row.save(db) } }
    }

    /// Deletes a run's loss rows after `iteration` (a resumed run redoes those iterations).
    public func deleteTrainingLosses(runId: Int64, after iteration: Int) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM training_losses WHERE run_id = ? AND iteration > ?", arguments: [runId, iteration])
        }
    }

    /// A run's loss rows in iteration order.
    public func trainingLosses(runId: Int64) throws -> [TrainingLossRecord] {
        try read { db in try TrainingLossRecord.filter(Column("run_id") == runId).order(Column("iteration")).fetchAll(db) }
    }
}
