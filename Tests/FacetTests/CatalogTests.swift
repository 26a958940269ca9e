import Catalog
import FacetCore
import Foundation
import GRDB
import XCTest

/// `Float32Blob`: the catalog's packed float columns (mesh, keypoints, points).
final class Float32BlobTests: XCTestCase {
    func testPacksLittleEndianFloatsAndUnpacksThem() {
        XCTAssertEqual([UInt8](Float32Blob.pack([1, -2.5])), [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0])
        XCTAssertEqual(Float32Blob.pack([]).count, 0)
        var rng = SeededRandom(seed: 11)
        let values = (0..<1404).map { _ in Double(Float(Double.random(in: -1000...1000, using: &rng))) }
        XCTAssertEqual(Float32Blob.unpack(Float32Blob.pack(values)), values)
    }
}

final class CatalogTests: XCTestCase {
    static func source(sha: String = String(repeating: "a1", count: 32), path: String = "/videos/clip.mp4") -> SourceRecord {
        SourceRecord(sha256: sha, path: path, kind: "video", bytes: 187_263, modifiedAt: 1_700_000_000.5, container: "mov,mp4,m4a,3gp,3g2,mj2",
                     codec: "h264", width: 480, height: 480, rotation: 0, frameRate: 30, durationSeconds: 7.2, frameCount: 216,
                     hasAudio: true, addedAt: "2024-05-01T12:00:00Z")
    }

    static func frames(sourceId: Int64, count: Int, folder: String = "Datasets/frames/clip-a1a1a1a1") -> [FrameRecord] {
        (0..<count).map { (i: Int) -> FrameRecord in
            let number: Int = i * 10
            let path: String = folder + "/" + String(format: "%06d", number) + ".jpg"
            let sha: String = String(repeating: String(format: "%02x", i), count: 32)
            let pts: Int64 = Int64(i) * 5120
            let seconds: Double = Double(i) / 3
            let bytes: Int64 = 20_000 + Int64(i)
            return FrameRecord(sourceId: sourceId, frameNumber: number, pts: pts, seconds: seconds, path: path, format: "jpeg", quality: 95,
                               width: 480, height: 480, bytes: bytes, sha256: sha, createdAt: "2024-05-01T12:00:01Z")
        }
    }

    /// A catalog with one source, one extraction and `count` frames; returns the catalog and the extraction id.
    private func populatedCatalog(at url: URL, frames count: Int) throws -> (Catalog, Int64) {
        let catalog = try Catalog(url: url)
        let source = try catalog.upsertSource(Self.source())
        let sourceId = try XCTUnwrap(source.id)
        let extraction = try catalog.beginExtraction(ExtractionRecord(key: "key-1", sourceId: sourceId, parameters: "{}", shard: "1/1",
                                                                      status: "running", startedAt: "2024-05-01T12:00:00Z"))
        let extractionId = try XCTUnwrap(extraction.id)
        _ = try catalog.recordFrames(Self.frames(sourceId: sourceId, count: count), extractionId: extractionId)
        return (catalog, extractionId)
    }

    private func frameCount(_ catalog: Catalog) throws -> Int {
        try catalog.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM frames") ?? -1 }
    }

    func testFreshCatalogIsMigratedAndInWALMode() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("nested/catalog.sqlite")
        let catalog = try Catalog(url: url)
        // Shipped migrations keep their names and order; later ones come after them.
        let shipped = ["v1-sources-frames", "v2-detections-faces-tracks", "v3-identities-labels-clusters", "v4-datasets", "v5-training-runs"]
        let applied = try catalog.appliedMigrations()
        XCTAssertEqual(Array(applied.prefix(shipped.count)), shipped)
        let mode = try catalog.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(mode?.lowercased(), "wal")
        let tables = try catalog.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        for table in ["sources", "frames", "extractions", "extraction_frames", "detections", "detection_frames", "tracks", "faces",
                      "identities", "identity_references", "face_embeddings", "labelings", "face_labels", "clusterings", "clusters",
                      "cluster_members", "datasets", "dataset_sources", "dataset_faces", "dataset_drops",
                      "training_runs", "training_losses",
                      "grdb_migrations"] {
            XCTAssertTrue(tables.contains(table), "missing table \(table) in \(tables)")
        }
        // Opening again is a no-op.
        let again = try Catalog(url: url)
        XCTAssertEqual(try again.appliedMigrations(), applied)
    }

    func testUpsertSourceTwiceKeepsOneRowAndId() throws {
        let dir = try makeTemporaryDirectory()
        let catalog = try Catalog(url: dir.appendingPathComponent("catalog.sqlite"))
        let first = try catalog.upsertSource(Self.source())
        let firstId = try XCTUnwrap(first.id)
        // Same content, new location and a later added-at: same row, path updated, added-at kept.
        var moved = Self.source(path: "/elsewhere/clip renamed.mp4")
        moved.addedAt = "2030-01-01T00:00:00Z"
        let second = try catalog.upsertSource(moved)
        XCTAssertEqual(second.id, firstId)
        XCTAssertEqual(second.path, "/elsewhere/clip renamed.mp4")
        XCTAssertEqual(second.addedAt, first.addedAt)
        let third = try catalog.upsertSource(Self.source(path: "/elsewhere/clip renamed.mp4"))
        XCTAssertEqual(third.id, firstId)
        let rows = try catalog.read { db in try SourceRecord.fetchAll(db) }
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first, second)
        XCTAssertEqual(try catalog.source(id: firstId), second)
        // A different hash is a different source.
        let other = try catalog.upsertSource(Self.source(sha: String(repeating: "b2", count: 32)))
        XCTAssertNotEqual(other.id, firstId)
        XCTAssertEqual(try catalog.read { db in try SourceRecord.fetchCount(db) }, 2)
    }

    func testCachedHashNeedsSamePathSizeAndTime() throws {
        let dir = try makeTemporaryDirectory()
        let catalog = try Catalog(url: dir.appendingPathComponent("catalog.sqlite"))
        let source = try catalog.upsertSource(Self.source())
        XCTAssertEqual(try catalog.cachedHash(path: source.path, bytes: source.bytes, modifiedAt: 1_700_000_000.5), source.sha256)
        XCTAssertNil(try catalog.cachedHash(path: source.path, bytes: source.bytes + 1, modifiedAt: 1_700_000_000.5))
        XCTAssertNil(try catalog.cachedHash(path: source.path, bytes: source.bytes, modifiedAt: 1_700_000_001))
        XCTAssertNil(try catalog.cachedHash(path: "/other.mp4", bytes: source.bytes, modifiedAt: 1_700_000_000.5))
    }

    func testRecordFramesRoundTrip() throws {
        let dir = try makeTemporaryDirectory()
        let (catalog, extractionId) = try populatedCatalog(at: dir.appendingPathComponent("catalog.sqlite"), frames: 0)
        let sourceId = try XCTUnwrap(try catalog.extraction(key: "key-1")?.sourceId)
        // Recorded out of order: read back in time order.
        let frames = Self.frames(sourceId: sourceId, count: 12)
        let stored = try catalog.recordFrames(Array(frames.reversed()), extractionId: extractionId)
        XCTAssertEqual(stored.count, 12)
        XCTAssertTrue(stored.allSatisfy { $0.id != nil })
        let read = try catalog.frames(extractionId: extractionId)
        XCTAssertEqual(read, stored.sorted { $0.pts < $1.pts })
        XCTAssertEqual(read.map(\.frameNumber), frames.map(\.frameNumber))
        XCTAssertEqual(try catalog.extraction(key: "key-1")?.framesWritten, 12)
        XCTAssertEqual(Set(try catalog.framesByPath(sourceId: sourceId).keys), Set(frames.map(\.path)))

        // Recording the same paths again (re-encoded: new hash) updates in place, no duplicates.
        var redone = frames
        redone[3].sha256 = String(repeating: "ff", count: 32)
        redone[3].bytes = 1
        let again = try catalog.recordFrames(redone, extractionId: extractionId)
        XCTAssertEqual(again.map(\.id), frames.indices.map { i in stored.first { $0.path == frames[i].path }?.id })
        XCTAssertEqual(try frameCount(catalog), 12)
        XCTAssertEqual(try catalog.frames(extractionId: extractionId)[3].sha256, String(repeating: "ff", count: 32))
        XCTAssertEqual(try catalog.extraction(key: "key-1")?.framesWritten, 12)

        try catalog.completeExtraction(id: extractionId, damage: ["a note"], finishedAt: "2024-05-01T12:01:00Z")
        let done = try XCTUnwrap(try catalog.extraction(key: "key-1"))
        XCTAssertEqual(done.status, "complete")
        XCTAssertEqual(done.finishedAt, "2024-05-01T12:01:00Z")
        XCTAssertEqual(try JSONDecoder().decode([String].self, from: Data(done.damage.utf8)), ["a note"])
        // Beginning the same key again returns the stored row.
        let restarted = try catalog.beginExtraction(ExtractionRecord(key: "key-1", sourceId: sourceId, parameters: "{}", shard: "1/1",
                                                                     status: "running", startedAt: "2030-01-01T00:00:00Z"))
        XCTAssertEqual(restarted, done)
    }

    func testLockedCatalogThrowsLockedThenRecovers() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("catalog.sqlite")
        _ = try populatedCatalog(at: url, frames: 5)
        let catalog = try Catalog(url: url, busyTimeout: 0.3)

        var config = Configuration()
        config.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: url.path, configuration: config)
        try holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN EXCLUSIVE TRANSACTION") }
        var released = false
        defer { if !released { try? holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") } } }

        XCTAssertThrowsError(try catalog.upsertSource(Self.source(sha: String(repeating: "c3", count: 32)))) { error in
            guard case .locked(let path, _)? = error as? CatalogError else { return XCTFail("expected locked, got \(error)") }
            XCTAssertEqual(path, url.path)
            XCTAssertTrue("\(error)".contains("locked"), "\(error)")
            XCTAssertEqual((error as? CatalogError)?.exitStatus, .failure)
        }
        // Reads still work while another process writes (WAL).
        XCTAssertEqual(try frameCount(catalog), 5)

        try holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        released = true
        let added = try catalog.upsertSource(Self.source(sha: String(repeating: "c3", count: 32)))
        XCTAssertNotNil(added.id)
        XCTAssertEqual(try frameCount(catalog), 5, "earlier rows must be intact")
        XCTAssertEqual(try catalog.read { db in try SourceRecord.fetchCount(db) }, 2)
    }

    func testRandomBytesAreNotACatalog() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("catalog.sqlite")
        var rng = SplitMix64(seed: 0xBADD_A7A)
        try Data(rng.bytes(8192)).write(to: url)
        XCTAssertThrowsError(try Catalog(url: url)) { error in
            guard case .notACatalog(let path, _)? = error as? CatalogError else { return XCTFail("expected notACatalog, got \(error)") }
            XCTAssertEqual(path, url.path)
            XCTAssertEqual((error as? CatalogError)?.exitStatus, .dataError)
            XCTAssertTrue("\(error)".contains(url.path))
        }
    }

    func testUnknownMigrationMeansNewerSchema() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("catalog.sqlite")
        _ = try populatedCatalog(at: url, frames: 2)
        do {
            let queue = try DatabaseQueue(path: url.path)
            try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-from-the-future')") }
        }
        XCTAssertThrowsError(try Catalog(url: url)) { error in
            XCTAssertEqual(error as? CatalogError, .newerSchema(path: url.path, unknown: ["v9-from-the-future"]))
            XCTAssertEqual((error as? CatalogError)?.exitStatus, .dataError)
            XCTAssertTrue("\(error)".contains("v9-from-the-future"))
        }
    }

    func testWriteErrorsNameTheCatalog() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("catalog.sqlite")
        let catalog = try Catalog(url: url)
        XCTAssertThrowsError(try catalog.write { db in try db.execute(sql: "INSERT INTO no_such_table VALUES (1)") }) { error in
            guard case .failed(let path, _)? = error as? CatalogError else { return XCTFail("expected failed, got \(error)") }
            XCTAssertEqual(path, url.path)
        }
        // A frame pointing at a missing source violates the foreign key.
        XCTAssertThrowsError(try catalog.write { db in
            var frame = Self.frames(sourceId: 999, count: 1)[0]
            try frame.insert(db)
        })
    }
}
