import FacetCore
import Foundation
import GRDB

/// The catalog's `detect` side: detections, the frames they analysed, tracks and faces.
extension Catalog {
    /// The detection with this key, if any.
    public func detection(key: String) throws -> DetectionRecord? {
        try read { db in try DetectionRecord.filter(Column("key") == key).fetchOne(db) }
    }

    /// Starts the detection with `record.key`, or returns the stored one (to resume or reuse).
    public func beginDetection(_ record: DetectionRecord) throws -> DetectionRecord {
        try write { db in
            if let existing = try DetectionRecord.filter(Column("key") == record.key).fetchOne(db) { return existing }
            var inserted = record
            try inserted.insert(db)
            return inserted
        }
    }

    /// Forgets what a detection recorded (its frames, tracks and faces) and marks it running again: used
    /// when a complete detection's crop files have gone and it must be redone.
    public func resetDetection(id: Int64) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM faces WHERE detection_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM tracks WHERE detection_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM detection_frames WHERE detection_id = ?", arguments: [id])
            try db.execute(sql: "UPDATE detections SET status = 'running', frames_done = 0, faces_found = 0, finished_at = NULL WHERE id = ?",
                           arguments: [id])
        }
    }

    /// The frames a detection has analysed, in sequence order.
    public func detectionFrames(detectionId: Int64) throws -> [DetectionFrameRecord] {
        try read { db in
            try DetectionFrameRecord.filter(Column("detection_id") == detectionId).order(Column("sequence")).fetchAll(db)
        }
    }

    /// A detection's faces in sequence order, then face order.
    public func faces(detectionId: Int64) throws -> [FaceRecord] {
        try read { db in
            try FaceRecord.filter(Column("detection_id") == detectionId).order(Column("sequence"), Column("face_index")).fetchAll(db)
        }
    }

    /// The tracker's track numbers of a detection, by catalog track id.
    public func trackNumbers(detectionId: Int64) throws -> [Int64: Int] {
        try read { db in
            let rows = try TrackRecord.filter(Column("detection_id") == detectionId).fetchAll(db)
            return Dictionary(rows.compactMap { row in row.id.map { ($0, row.number) } }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// Records analysed frames and their faces in one transaction, creating tracks as they first appear.
    /// `faces[i].trackId` is ignored and replaced by the catalog id of track number `trackNumbers[i]`.
    /// Frames already recorded (same detection and sequence) are left as they are, with their faces.
    public func recordDetectedFrames(_ frames: [DetectionFrameRecord], faces: [FaceRecord], trackNumbers: [Int],
                                     detectionId: Int64) throws {
        guard faces.count == trackNumbers.count else {
            throw CatalogError.failed(path: url.path, reason: "\(faces.count) faces but \(trackNumbers.count) track numbers")
        }
        try write { db in
            var known = Set<Int>()
            for frame in frames {
                let exists = try DetectionFrameRecord.exists(db, key: ["detection_id": frame.detectionId, "sequence": frame.sequence])
                if exists { known.insert(frame.sequence) } else { try frame.insert(db) }
            }
            var trackIDs: [Int: Int64] = [:]
            for (face, number) in zip(faces, trackNumbers) where !known.contains(face.sequence) {
                let trackId: Int64
                if let id = trackIDs[number] {
                    trackId = id
                } else if let stored = try TrackRecord.filter(Column("detection_id") == detectionId && Column("number") == number).fetchOne(db),
                          let id = stored.id {
                    trackId = id
                } else {
                    var track = TrackRecord(detectionId: detectionId, number: number)
                    try track.insert(db)
                    guard let id = track.id else { throw CatalogError.failed(path: url.path, reason: "track has no id") }
                    trackId = id
                }
                trackIDs[number] = trackId
                var row = face
                row.trackId = trackId
                if let existing = try FaceRecord.filter(Column("crop_path") == face.cropPath).fetchOne(db) {
                    // A crop path left by an earlier, reset run of the same options: take it over.
                    row.id = existing.id
                    try row.update(db)
                } else {
                    try row.insert(db)
                }
            }
            try db.execute(sql: """
                UPDATE detections SET frames_done = (SELECT COUNT(*) FROM detection_frames WHERE detection_id = ?),
                faces_found = (SELECT COUNT(*) FROM faces WHERE detection_id = ?) WHERE id = ?
                """, arguments: [detectionId, detectionId, detectionId])
        }
    }

    /// Marks a detection complete with its damage notes.
    public func completeDetection(id: Int64, damage: [String], finishedAt: String) throws {
        let damageJSON = Self.damageJSON(damage)
        try write { db in
            try db.execute(sql: "UPDATE detections SET status = 'complete', damage = ?, finished_at = ? WHERE id = ?",
                           arguments: [damageJSON, finishedAt, id])
        }
    }

    /// The id of the frame recorded at `path` (relative to the workspace), if any.
    public func frameId(path: String) throws -> Int64? {
        try read { db in try Int64.fetchOne(db, sql: "SELECT id FROM frames WHERE path = ?", arguments: [path]) }
    }

    /// The stored source with this content hash, if any.
    public func source(sha256: String) throws -> SourceRecord? {
        try read { db in try SourceRecord.filter(Column("sha256") == sha256).fetchOne(db) }
    }
}

extension Catalog {
    /// One face with its frame's size, as a page of `facesPage` gives it.
    public struct FaceWithFrame: Sendable {
        public var face: FaceRecord
        public var frameWidth: Int
        public var frameHeight: Int
    }

    /// Up to `limit` faces of a detection after position (`sequence`, `faceIndex`), in sequence then face
    /// order, with their frames' sizes: for walking a detection's faces without loading them all.
    public func facesPage(detectionId: Int64, after position: (sequence: Int, faceIndex: Int)?, limit: Int) throws -> [FaceWithFrame] {
        let start = position ?? (-1, -1)
        return try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT faces.*, detection_frames.width AS frame_width, detection_frames.height AS frame_height
                FROM faces JOIN detection_frames ON detection_frames.detection_id = faces.detection_id
                    AND detection_frames.sequence = faces.sequence
                WHERE faces.detection_id = ? AND (faces.sequence, faces.face_index) > (?, ?)
                ORDER BY faces.sequence, faces.face_index LIMIT ?
                """, arguments: [detectionId, start.sequence, start.faceIndex, limit])
            return try rows.map { row in
                FaceWithFrame(face: try FaceRecord(row: row), frameWidth: row["frame_width"], frameHeight: row["frame_height"])
            }
        }
    }

    /// The number of faces and of distinct tracks over some detections.
    public func faceAndTrackCounts(detectionIds: [Int64]) throws -> (faces: Int, tracks: Int) {
        guard !detectionIds.isEmpty else { return (0, 0) }
        let marks = Array(repeating: "?", count: detectionIds.count).joined(separator: ",")
        return try read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, COUNT(DISTINCT track_id) AS t FROM faces WHERE detection_id IN (\(marks))",
                                       arguments: StatementArguments(detectionIds))
            return (row?["n"] ?? 0, row?["t"] ?? 0)
        }
    }

    /// The crop and mask paths (relative to the workspace) a detection recorded.
    public func outputPaths(detectionId: Int64) throws -> [String] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT crop_path, mask_path FROM faces WHERE detection_id = ?", arguments: [detectionId])
            return rows.flatMap { row -> [String] in [row["crop_path"]] + ((row["mask_path"] as String?).map { [$0] } ?? []) }
        }
    }

    /// The number of frames a detection has analysed.
    public func detectionFrameCount(detectionId: Int64) throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM detection_frames WHERE detection_id = ?", arguments: [detectionId]) ?? 0 }
    }
}
