import FacetCore
import Foundation
import GRDB

/// One run of `detect` over one source with one set of parameters (and one shard). Table `detections`;
/// `key` is unique. A `complete` detection is not redone; a `running` one resumes after its last recorded frame.
public struct DetectionRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "detections"
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
    public var framesDone: Int
    public var facesFound: Int
    /// Damage notes as a JSON array of strings.
    public var damage: String
    public var startedAt: String
    public var finishedAt: String?

    public init(id: Int64? = nil, key: String, sourceId: Int64, parameters: String, shard: String, status: String = "running",
                framesDone: Int = 0, facesFound: Int = 0, damage: String = "[]", startedAt: String, finishedAt: String? = nil) {
        self.id = id; self.key = key; self.sourceId = sourceId; self.parameters = parameters; self.shard = shard
        self.status = status; self.framesDone = framesDone; self.facesFound = facesFound; self.damage = damage
        self.startedAt = startedAt; self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, key, parameters, shard, status, damage
        case sourceId = "source_id", framesDone = "frames_done", facesFound = "faces_found"
        case startedAt = "started_at", finishedAt = "finished_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One frame a detection has analysed (with or without faces). Table `detection_frames`, keyed by
/// (detection, sequence): `sequence` counts the detection's analysed frames from 0 in time order.
public struct DetectionFrameRecord: Codable, FetchableRecord, PersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "detection_frames"
    public var detectionId: Int64
    public var sequence: Int
    public var frameNumber: Int
    public var pts: Int64
    public var seconds: Double
    /// The `frames` row when the frame came from a frames manifest; nil for video decoded on the fly.
    public var frameId: Int64?
    /// Frame size in pixels (as displayed, after rotation).
    public var width: Int
    public var height: Int
    /// True when the tracker saw a scene cut just before this frame (every track ended there).
    public var sceneCut: Bool
    /// Faces kept in this frame.
    public var faces: Int

    public init(detectionId: Int64, sequence: Int, frameNumber: Int, pts: Int64, seconds: Double, frameId: Int64?, width: Int,
                height: Int, sceneCut: Bool, faces: Int) {
        self.detectionId = detectionId; self.sequence = sequence; self.frameNumber = frameNumber; self.pts = pts
        self.seconds = seconds; self.frameId = frameId; self.width = width; self.height = height
        self.sceneCut = sceneCut; self.faces = faces
    }

    enum CodingKeys: String, CodingKey {
        case sequence, pts, seconds, width, height, faces
        case detectionId = "detection_id", frameNumber = "frame_number", frameId = "frame_id", sceneCut = "scene_cut"
    }
}

/// A track: one face followed across consecutive frames of one detection. Table `tracks`; its `id` is the
/// track id that manifests carry, unique in the catalog; `number` is the tracker's own count in the detection.
public struct TrackRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "tracks"
    public var id: Int64?
    public var detectionId: Int64
    public var number: Int

    public init(id: Int64? = nil, detectionId: Int64, number: Int) {
        self.id = id; self.detectionId = detectionId; self.number = number
    }

    enum CodingKeys: String, CodingKey {
        case id, number
        case detectionId = "detection_id"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One detected face with its landmarks, alignment and measures. Table `faces`; `crop_path` is unique.
/// Coordinates are frame pixels (x right, y down, origin at the top-left corner of the displayed frame).
public struct FaceRecord: Codable, FetchableRecord, MutablePersistableRecord, Equatable, Sendable {
    public static let databaseTableName = "faces"
    public var id: Int64?
    public var detectionId: Int64
    public var sourceId: Int64
    public var frameId: Int64?
    public var sequence: Int
    public var frameNumber: Int
    public var pts: Int64
    public var seconds: Double
    /// Position among the frame's kept faces (0 = highest detector score).
    public var faceIndex: Int
    public var trackId: Int64
    /// Aligned crop, relative to the workspace.
    public var cropPath: String
    public var cropSHA256: String
    /// Mask image beside the crop, relative to the workspace (nil when masks were not asked for).
    public var maskPath: String?
    public var boxX: Double, boxY: Double, boxWidth: Double, boxHeight: Double
    /// Detector score 0...1.
    public var score: Double
    /// FaceMesh face-presence probability 0...1.
    public var presence: Double
    /// √(box width × box height), frame pixels.
    public var faceSize: Double
    /// Degrees; see `HeadPose` for the signs.
    public var yaw: Double, pitch: Double, roll: Double
    /// Expression measures, normalised by the eye distance (see `ExpressionMeasures`).
    public var mouthOpenness: Double, leftEyeOpenness: Double, rightEyeOpenness: Double, smileWidth: Double, browRaise: Double
    /// Variance of the Laplacian of the aligned crop's luma inside the face hull.
    public var sharpness: Double
    /// Mean and standard deviation of the crop's luma inside the face hull, 0...255.
    public var brightness: Double, contrast: Double
    /// Clockwise degrees the frame was turned for the detector to find this face (0, 90, 180, 270).
    public var rotation: Int
    /// The frame-to-crop matrix as JSON `[a, b, tx, c, d, ty]` (`AffineMatrix2x3.jsonText`).
    public var matrix: String
    /// `matrix` decoded; nil when it is not six numbers.
    public var affine: AffineMatrix2x3? { AffineMatrix2x3(jsonText: matrix) }
    /// The detector's 6 keypoints, 12 little-endian float32 (x, y) frame pixels.
    public var keypoints: Data
    /// The 468 FaceMesh points, 1404 little-endian float32 (x, y, z) frame pixels.
    public var mesh: Data
    /// dlib's 5 points (shape predictor, sub-pixel), 10 little-endian float32 (x, y) frame pixels.
    public var points5: Data
    public var createdAt: String

    public init(id: Int64? = nil, detectionId: Int64, sourceId: Int64, frameId: Int64?, sequence: Int, frameNumber: Int, pts: Int64,
                seconds: Double, faceIndex: Int, trackId: Int64, cropPath: String, cropSHA256: String, maskPath: String?,
                boxX: Double, boxY: Double, boxWidth: Double, boxHeight: Double, score: Double, presence: Double, faceSize: Double,
                yaw: Double, pitch: Double, roll: Double, mouthOpenness: Double, leftEyeOpenness: Double, rightEyeOpenness: Double,
                smileWidth: Double, browRaise: Double, sharpness: Double, brightness: Double, contrast: Double, rotation: Int,
                matrix: String, keypoints: Data, mesh: Data, points5: Data, createdAt: String) {
        self.id = id; self.detectionId = detectionId; self.sourceId = sourceId; self.frameId = frameId; self.sequence = sequence
        self.frameNumber = frameNumber; self.pts = pts; self.seconds = seconds; self.faceIndex = faceIndex; self.trackId = trackId
        self.cropPath = cropPath; self.cropSHA256 = cropSHA256; self.maskPath = maskPath
        self.boxX = boxX; self.boxY = boxY; self.boxWidth = boxWidth; self.boxHeight = boxHeight
        self.score = score; self.presence = presence; self.faceSize = faceSize; self.yaw = yaw; self.pitch = pitch; self.roll = roll
        self.mouthOpenness = mouthOpenness; self.leftEyeOpenness = leftEyeOpenness; self.rightEyeOpenness = rightEyeOpenness
        self.smileWidth = smileWidth; self.browRaise = browRaise; self.sharpness = sharpness; self.brightness = brightness
        self.contrast = contrast; self.rotation = rotation; self.matrix = matrix; self.keypoints = keypoints; self.mesh = mesh
        self.points5 = points5; self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, sequence, pts, seconds, score, presence, yaw, pitch, roll, sharpness, brightness, contrast, rotation, matrix
        case keypoints, mesh, points5
        case detectionId = "detection_id", sourceId = "source_id", frameId = "frame_id", frameNumber = "frame_number"
        case faceIndex = "face_index", trackId = "track_id", cropPath = "crop_path", cropSHA256 = "crop_sha256", maskPath = "mask_path"
        case boxX = "box_x", boxY = "box_y", boxWidth = "box_width", boxHeight = "box_height", faceSize = "face_size"
        case mouthOpenness = "mouth_openness", leftEyeOpenness = "left_eye_openness", rightEyeOpenness = "right_eye_openness"
        case smileWidth = "smile_width", browRaise = "brow_raise", createdAt = "created_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Packing of float arrays into the catalog's little-endian float32 blobs.
public enum Float32Blob {
    public static func pack(_ values: [Double]) -> Data {
        // Written in place (appending 4 bytes at a time cost more than the rest of a face's catalog row).
        var data = Data(count: values.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        return data
    }

    public static func unpack(_ data: Data) -> [Double] {
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count - bytes.count % 4, by: 4).map { i in
            let bits = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            return Double(Float(bitPattern: bits))
        }
    }
}
