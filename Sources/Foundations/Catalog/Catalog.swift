import FacetCore
import Foundation
import GRDB

/// The workspace's SQLite catalog (WAL mode), shared by every tool and by concurrent shards.
///
/// Writers wait up to `busyTimeout` seconds for another process's write to finish; past that a call
/// throws `CatalogError.locked` and nothing already committed is lost.
public final class Catalog: @unchecked Sendable {
    public let url: URL
    public let busyTimeout: Double
    let pool: DatabasePool

    /// Opens (creating if needed) the catalog at `url` and brings its schema up to date.
    public init(url: URL, busyTimeout: Double = 30) throws {
        self.url = url
        self.busyTimeout = busyTimeout
        let path = url.path
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw FileError.writeFailed(path: url.deletingLastPathComponent().path, reason: error.localizedDescription)
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        // Processes opening a brand-new catalog at once would each see no `grdb_migrations` and each run
        // `CREATE TABLE`: opening (WAL setup) and migrating happen one process at a time, behind an
        // exclusive lock on `<catalog>.lock`. A folder where the lock file cannot be created (read-only)
        // opens without it; there nothing can be migrated anyway.
        let openLock: FileLock?
        do {
            openLock = try FileLock(path: path + ".lock", timeout: busyTimeout)
        } catch FileLockError.timedOut {
            throw CatalogError.locked(path: path, waitedSeconds: busyTimeout)
        } catch {
            openLock = nil
        }
        defer { openLock?.release() }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            let migrator = CatalogMigrations.migrator
            let unknown = try pool.read { db -> [String] in
                guard try db.tableExists("grdb_migrations") else { return [] }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                return applied.filter { !migrator.migrations.contains($0) }
            }
            if !unknown.isEmpty { throw CatalogError.newerSchema(path: path, unknown: unknown) }
            try migrator.migrate(pool)
        } catch {
            throw CatalogError.from(error, path: path, busyTimeout: busyTimeout)
        }
    }

    /// Runs `body` in one write transaction; errors become `CatalogError`s naming the file.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch { throw CatalogError.from(error, path: url.path, busyTimeout: busyTimeout) }
    }

    /// Runs `body` with a read-only snapshot.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw CatalogError.from(error, path: url.path, busyTimeout: busyTimeout) }
    }

    /// The names of the applied migrations, oldest first.
    public func appliedMigrations() throws -> [String] {
        try read { db in try CatalogMigrations.migrator.appliedMigrations(db) }
    }

    // MARK: Sources and frames

    /// Inserts the source, or updates the stored one with the same content hash (its path may have moved).
    public func upsertSource(_ source: SourceRecord) throws -> SourceRecord {
        try write { db in
            if var existing = try SourceRecord.filter(Column("sha256") == source.sha256).fetchOne(db) {
                var updated = source
                updated.id = existing.id
                updated.addedAt = existing.addedAt
                if updated != existing {
                    existing = updated
                    try existing.update(db)
                }
                return existing
            }
            var inserted = source
            try inserted.insert(db)
            return inserted
        }
    }

    /// All frames recorded for a source, keyed by their path.
    public func framesByPath(sourceId: Int64) throws -> [String: FrameRecord] {
        try read { db in
            let rows = try FrameRecord.filter(Column("source_id") == sourceId).fetchAll(db)
            return Dictionary(rows.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// The extraction with this key, if any.
    public func extraction(key: String) throws -> ExtractionRecord? {
        try read { db in try ExtractionRecord.filter(Column("key") == key).fetchOne(db) }
    }

    /// Starts (or restarts) the extraction with `record.key`, returning the stored row.
    public func beginExtraction(_ record: ExtractionRecord) throws -> ExtractionRecord {
        try write { db in
            if let existing = try ExtractionRecord.filter(Column("key") == record.key).fetchOne(db) { return existing }
            var inserted = record
            try inserted.insert(db)
            return inserted
        }
    }

    /// Records frames (inserting new paths, replacing re-encoded ones) and links them to the extraction,
    /// all in one transaction. Returns the stored rows with their ids.
    public func recordFrames(_ frames: [FrameRecord], extractionId: Int64) throws -> [FrameRecord] {
        try write { db in
            var stored: [FrameRecord] = []
            for frame in frames {
                var row = frame
                if let existing = try FrameRecord.filter(Column("path") == frame.path).fetchOne(db) {
                    row.id = existing.id
                    if row != existing { try row.update(db) }
                } else {
                    try row.insert(db)
                }
                try db.execute(sql: "INSERT OR IGNORE INTO extraction_frames (extraction_id, frame_id) VALUES (?, ?)",
                               arguments: [extractionId, row.id])
                stored.append(row)
            }
            try db.execute(sql: "UPDATE extractions SET frames_written = (SELECT COUNT(*) FROM extraction_frames WHERE extraction_id = ?) WHERE id = ?",
                           arguments: [extractionId, extractionId])
            return stored
        }
    }

    /// Marks an extraction complete with its damage notes.
    public func completeExtraction(id: Int64, damage: [String], finishedAt: String) throws {
        let damageJSON = Self.damageJSON(damage)
        try write { db in
            try db.execute(sql: "UPDATE extractions SET status = 'complete', damage = ?, finished_at = ? WHERE id = ?",
                           arguments: [damageJSON, finishedAt, id])
        }
    }

    /// Damage notes as the JSON array of strings the `damage` columns hold.
    static func damageJSON(_ damage: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(damage)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// The frames linked to an extraction, in time order.
    public func frames(extractionId: Int64) throws -> [FrameRecord] {
        try read { db in
            try FrameRecord.fetchAll(db, sql: """
                SELECT frames.* FROM frames JOIN extraction_frames ON extraction_frames.frame_id = frames.id
                WHERE extraction_frames.extraction_id = ? ORDER BY frames.pts, frames.frame_number
                """, arguments: [extractionId])
        }
    }

    /// The hash stored for a file at `path` whose size and modification time are unchanged, if any.
    public func cachedHash(path: String, bytes: Int64, modifiedAt: Double) throws -> String? {
        try read { db in
            try String.fetchOne(db, sql: "SELECT sha256 FROM sources WHERE path = ? AND bytes = ? AND modified_at = ? AND kind = 'video'",
                                arguments: [path, bytes, modifiedAt])
        }
    }

    /// A stored source by id.
    public func source(id: Int64) throws -> SourceRecord? {
        try read { db in try SourceRecord.fetchOne(db, key: id) }
    }
}
