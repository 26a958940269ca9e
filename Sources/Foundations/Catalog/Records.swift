import GRDB

/// A video file or a folder of images that frames were taken from. Table `sources`.
public struct SourceRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "sources"
    public var id: Int64?
    /// SHA-256 of the content (for an image folder: of its sorted per-file hashes). Unique.
    public var sha256: String
    /// Where it was last seen, absolute.
    public var path: String
    /// `video` or `images`.
    public var kind: String
    public var bytes: Int64
    /// The file's modification time (seconds since 1970) when it was hashed; lets a re-run skip re-hashing.
    public var modifiedAt: Double?
    public var container: String?
    public var codec: String?
    /// Displayed size in pixels (after rotation).
    public var width: Int?
    public var height: Int?
    /// Clockwise display rotation in degrees.
    public var rotation: Int
    public var frameRate: Double?
    public var durationSeconds: Double?
    public var frameCount: Int?
    public var hasAudio: Bool
    /// ISO 8601 UTC.
    public var addedAt: String

    public init(id: Int64? = nil, sha256: String, path: String, kind: String, bytes: Int64, modifiedAt: Double? = nil, container: String? = nil,
                codec: String? = nil, width: Int? = nil, height: Int? = nil, rotation: Int = 0, frameRate: Double? = nil,
                durationSeconds: Double? = nil, frameCount: Int? = nil, hasAudio: Bool = false, addedAt: String) {
        self.id = id; self.sha256 = sha256; self.path = path; self.kind = kind; self.bytes = bytes; self.modifiedAt = modifiedAt
        self.container = container; self.codec = codec; self.width = width; self.height = height
        self.rotation = rotation; self.frameRate = frameRate; self.durationSeconds = durationSeconds
        self.frameCount = frameCount; self.hasAudio = hasAudio; self.addedAt = addedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, sha256, path, kind, bytes, container, codec, width, height, rotation
        case modifiedAt = "modified_at", frameRate = "frame_rate", durationSeconds = "duration_seconds", frameCount = "frame_count"
        case hasAudio = "has_audio", addedAt = "added_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One extracted frame image. Table `frames`; `path` is unique.
public struct FrameRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "frames"
    public var id: Int64?
    public var sourceId: Int64
    /// round(seconds x frame rate) for video; position in the folder for images.
    public var frameNumber: Int
    /// Presentation time stamp in the source stream's time base.
    public var pts: Int64
    /// Seconds from the source's start.
    public var seconds: Double
    /// Image file, relative to the catalog's folder (the workspace).
    public var path: String
    /// `png` or `jpeg`.
    public var format: String
    /// JPEG quality 1...100 (0 for PNG).
    public var quality: Int
    public var width: Int
    public var height: Int
    public var bytes: Int64
    public var sha256: String
    public var createdAt: String

    public init(id: Int64? = nil, sourceId: Int64, frameNumber: Int, pts: Int64, seconds: Double, path: String, format: String,
                quality: Int, width: Int, height: Int, bytes: Int64, sha256: String, createdAt: String) {
        self.id = id; self.sourceId = sourceId; self.frameNumber = frameNumber; self.pts = pts; self.seconds = seconds
        self.path = path; self.format = format; self.quality = quality; self.width = width; self.height = height
        self.bytes = bytes; self.sha256 = sha256; self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, pts, seconds, path, format, quality, width, height, bytes, sha256
        case sourceId = "source_id", frameNumber = "frame_number", createdAt = "created_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One run of frame extraction over one source with one set of parameters (and one shard). Table
/// `extractions`; `key` is unique. A `complete` extraction is never redone.
public struct ExtractionRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "extractions"
    public var id: Int64?
    /// SHA-256 of the source hash, the canonical parameter JSON and the shard.
    public var key: String
    public var sourceId: Int64
    /// The parameters as canonical JSON.
    public var parameters: String
    /// `K/N`.
    public var shard: String
    /// `running` or `complete`.
    public var status: String
    public var framesWritten: Int
    /// Damage notes as a JSON array of strings.
    public var damage: String
    public var startedAt: String
    public var finishedAt: String?

    public init(id: Int64? = nil, key: String, sourceId: Int64, parameters: String, shard: String, status: String,
                framesWritten: Int = 0, damage: String = "[]", startedAt: String, finishedAt: String? = nil) {
        self.id = id; self.key = key; self.sourceId = sourceId; self.parameters = parameters; self.shard = shard
        self.status = status; self.framesWritten = framesWritten; self.damage = damage
        self.startedAt = startedAt; self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, key, parameters, shard, status, damage
        case sourceId = "source_id", framesWritten = "frames_written", startedAt = "started_at", finishedAt = "finished_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
