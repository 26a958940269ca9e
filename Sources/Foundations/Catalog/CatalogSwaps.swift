import FacetCore
import Foundation
import GRDB

extension CatalogMigrations {
    /// `swap`'s table: one row per written output (a swapped video or image), naming the model, the person
    /// replaced and the consent note on record for them.
    static func registerSwaps(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-swaps") { db in
            try db.execute(sql: """
                CREATE TABLE swaps (
                    id INTEGER PRIMARY KEY,
                    output_path TEXT NOT NULL,
                    output_sha256 TEXT,
                    source_path TEXT NOT NULL,
                    source_sha256 TEXT NOT NULL,
                    model_path TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    weights_sha256 TEXT NOT NULL,
                    direction TEXT NOT NULL,
                    decoder_identity TEXT NOT NULL,
                    target_name TEXT NOT NULL,
                    target_identity_id INTEGER REFERENCES identities(id) ON DELETE SET NULL,
                    consent TEXT,
                    parameters TEXT NOT NULL,
                    watermark_payload TEXT NOT NULL,
                    manifest_path TEXT,
                    frames INTEGER NOT NULL DEFAULT 0,
                    faces_swapped INTEGER NOT NULL DEFAULT 0,
                    status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
                    started_at TEXT NOT NULL,
                    finished_at TEXT
                );
                CREATE INDEX swaps_by_output ON swaps(output_path);
                CREATE INDEX swaps_by_model ON swaps(model_sha256);
                """)
        }
    }
}

/// One swapped output. Table `swaps`. Every file `swap` writes has a row, with the consent note the target's
/// identity carried when it was swapped.
public struct SwapRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "swaps"
    public var id: Int64?
    /// The written file and the input it came from, absolute, with content hashes (the output's once finished).
    public var outputPath: String
    public var outputSha256: String?
    public var sourcePath: String
    public var sourceSha256: String
    /// The model manifest, its SHA-256 and its weights' SHA-256.
    public var modelPath: String
    public var modelSha256: String
    public var weightsSha256: String
    /// `a-to-b` or `b-to-a`, and the person the decoder draws.
    public var direction: String
    public var decoderIdentity: String
    /// The person replaced: name, catalog identity (nil when given as a pre-filtered faces manifest), consent note.
    public var targetName: String
    public var targetIdentityId: Int64?
    public var consent: String?
    /// The options that shaped the output (canonical JSON).
    public var parameters: String
    /// The invisible watermark's payload (hex) in every frame.
    public var watermarkPayload: String
    /// The swap manifest describing this output.
    public var manifestPath: String?
    public var frames: Int
    public var facesSwapped: Int
    /// `running`, `complete` or `failed`.
    public var status: String
    public var startedAt: String
    public var finishedAt: String?

    public init(outputPath: String, sourcePath: String, sourceSha256: String, modelPath: String, modelSha256: String, weightsSha256: String,
                direction: String, decoderIdentity: String, targetName: String, targetIdentityId: Int64?, consent: String?, parameters: String,
                watermarkPayload: String, startedAt: String) {
        self.outputPath = outputPath; self.sourcePath = sourcePath; self.sourceSha256 = sourceSha256; self.modelPath = modelPath
        self.modelSha256 = modelSha256; self.weightsSha256 = weightsSha256; self.direction = direction; self.decoderIdentity = decoderIdentity
        self.targetName = targetName; self.targetIdentityId = targetIdentityId; self.consent = consent; self.parameters = parameters
        self.watermarkPayload = watermarkPayload; self.frames = 0; self.facesSwapped = 0; self.status = "running"; self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, direction, consent, parameters, frames, status
        case outputPath = "output_path", outputSha256 = "output_sha256", sourcePath = "source_path", sourceSha256 = "source_sha256"
        case modelPath = "model_path", modelSha256 = "model_sha256", weightsSha256 = "weights_sha256", decoderIdentity = "decoder_identity"
        case targetName = "target_name", targetIdentityId = "target_identity_id", watermarkPayload = "watermark_payload"
        case manifestPath = "manifest_path", facesSwapped = "faces_swapped", startedAt = "started_at", finishedAt = "finished_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Catalog {
    /// Inserts a swap row (status `running`) and returns it with its id. A row of the same job (output, source,
    /// model, weights, direction, parameters) is taken over instead, whatever its status: one a killed run left
    /// `running`, or a finished one whose process was killed before it could exit. The same job writes the same
    /// file (the output is deterministic), so it keeps one row and one id (the manifest's `swapId`), and a resumed
    /// or repeated swap leaves no orphan row behind.
    public func insertSwap(_ record: SwapRecord) throws -> SwapRecord {
        try write { db in
            var row = record
            if let orphan = try SwapRecord.filter(sql: """
                output_path = ? AND source_sha256 = ? AND model_sha256 = ? AND weights_sha256 = ? AND direction = ?
                AND parameters = ?
                """, arguments: [record.outputPath, record.sourceSha256, record.modelSha256, record.weightsSha256, record.direction,
                                 record.parameters]).order(Column("id").desc).fetchOne(db) {
                row.id = orphan.id
                row.startedAt = orphan.startedAt
                try row.update(db)
                return row
            }
            try row.insert(db)
            return row
        }
    }

    /// Marks a swap finished (or failed) with its counts, output hash and manifest.
    public func finishSwap(id: Int64, status: String, outputSha256: String?, manifestPath: String?, frames: Int, facesSwapped: Int,
                           finishedAt: String) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE swaps SET status = ?, output_sha256 = ?, manifest_path = ?, frames = ?, faces_swapped = ?, finished_at = ? WHERE id = ?
                """, arguments: [status, outputSha256, manifestPath, frames, facesSwapped, finishedAt, id])
        }
    }

    /// Every swap, newest first.
    public func swaps() throws -> [SwapRecord] {
        try read { db in try SwapRecord.order(Column("id").desc).fetchAll(db) }
    }
}
