import FacetCore

/// The output of `detect`: every face found, with its landmarks, alignment, measures and track.
/// JSON Schema: `Manifests/faces.schema.json`. Coordinates are frame pixels (x right, y down, origin at the
/// top-left corner of the displayed frame, pixel centres at +0.5).
public struct FacesManifest: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.faces"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    /// When the manifest was written (ISO 8601, UTC).
    public var createdAt: String
    /// The videos, image folders and frames manifests' sources the faces came from.
    public var inputs: [InputFile]
    /// Side of the square aligned crops in pixels.
    public var cropSize: Int
    /// `face` or `head`: how much of the head the crops show (see `FaceCentering`).
    public var centering: String
    /// Frames analysed, per input (frames without faces included).
    public var framesAnalysed: [Int]
    /// The faces, in input order, then time order, then face order within a frame.
    public var items: [FaceItem]
    /// Damage met while reading inputs: what was skipped and why.
    public var damage: [DamageNote]

    public init(tool: ToolInfo, createdAt: String, inputs: [InputFile], cropSize: Int, centering: String, framesAnalysed: [Int],
                items: [FaceItem], damage: [DamageNote]) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool
        self.createdAt = createdAt
        self.inputs = inputs
        self.cropSize = cropSize
        self.centering = centering
        self.framesAnalysed = framesAnalysed
        self.items = items
        self.damage = damage
    }
}

/// An axis-aligned box in frame pixels.
public struct BoxItem: Codable, Equatable, Sendable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) { self.x = x; self.y = y; self.width = width; self.height = height }
}

/// Head pose in degrees: yaw > 0 when the subject turns to their own left, pitch > 0 looking up, roll > 0
/// when the head tilts clockwise on screen.
public struct PoseItem: Codable, Equatable, Sendable {
    public var yaw: Double, pitch: Double, roll: Double
    public init(yaw: Double, pitch: Double, roll: Double) { self.yaw = yaw; self.pitch = pitch; self.roll = roll }
}

/// Expression descriptors (dimensionless): mouth openness, smile width and brow raise are divided by the
/// distance between the eye centres; each eye's openness by that eye's width (see `ExpressionMeasures`).
public struct ExpressionItem: Codable, Equatable, Sendable {
    /// Inner-lip gap.
    public var mouthOpenness: Double
    /// Lid gap over eye width of the subject's left and right eye (about 0.25–0.35 open, under 0.1 closed).
    public var leftEyeOpenness: Double
    public var rightEyeOpenness: Double
    /// Distance between the mouth corners.
    public var smileWidth: Double
    /// Mean height of the brows above the eye line.
    public var browRaise: Double
    public init(mouthOpenness: Double, leftEyeOpenness: Double, rightEyeOpenness: Double, smileWidth: Double, browRaise: Double) {
        self.mouthOpenness = mouthOpenness; self.leftEyeOpenness = leftEyeOpenness; self.rightEyeOpenness = rightEyeOpenness
        self.smileWidth = smileWidth; self.browRaise = browRaise
    }
}

/// Image measures of the aligned crop inside the face hull.
public struct QualityItem: Codable, Equatable, Sendable {
    /// Variance of the Laplacian of the luma (higher is sharper).
    public var sharpness: Double
    /// Mean luma 0...255.
    public var brightness: Double
    /// Standard deviation of the luma 0...255.
    public var contrast: Double
    public init(sharpness: Double, brightness: Double, contrast: Double) {
        self.sharpness = sharpness; self.brightness = brightness; self.contrast = contrast
    }
}

/// One detected face.
public struct FaceItem: Codable, Equatable, Sendable {
    /// The face's id in the catalog.
    public var id: Int64
    /// Aligned crop, relative to the manifest's folder.
    public var crop: String
    /// Mask image beside the crop (white = face), relative to the manifest's folder; absent unless asked for.
    public var mask: String?
    /// Index into the manifest's `inputs`.
    public var input: Int
    /// The frame image, relative to the manifest's folder, when the frame came from a frames manifest.
    public var frame: String?
    /// Frame number in the source: round(seconds × frame rate) for video, the file's position for images.
    public var frameNumber: Int
    /// Presentation time stamp in the source stream's time base (0 for images).
    public var pts: Int64
    /// Seconds from the source's start (0 for images).
    public var seconds: Double
    /// Displayed frame size in pixels.
    public var frameWidth: Int
    public var frameHeight: Int
    /// Position among the frame's faces (0 = highest detector score).
    public var faceIndex: Int
    /// Track id (unique in the catalog): the same face followed across consecutive frames.
    public var track: Int64
    /// Detector box and score (0...1).
    public var box: BoxItem
    public var score: Double
    /// FaceMesh's face-presence probability (0...1).
    public var presence: Double
    /// √(box width × box height), frame pixels.
    public var faceSize: Double
    /// Clockwise degrees the frame was turned for the detector to find this face (0 unless `--rotations`).
    public var rotation: Int
    /// The detector's 6 keypoints as x, y pairs: subject's right eye, left eye, nose tip, mouth, right ear, left ear.
    public var keypoints: [Float]
    /// The 468 FaceMesh points as x, y, z triples (z: relative depth in pixel units, negative towards the camera).
    public var mesh: [Float]
    /// The 68-point subset in iBUG 300-W order as x, y pairs (index map: `docs/landmarks.md`).
    public var landmarks68: [Float]
    /// dlib's 5 points from its shape predictor as x, y pairs: subject's left eye outer, left eye inner,
    /// right eye outer, right eye inner, nose base (dlib's order).
    public var points5: [Float]
    /// Frame-to-crop similarity `[a, b, tx, c, d, ty]`: crop = (a·x + b·y + tx, c·x + d·y + ty).
    public var matrix: [Double]
    /// `matrix` as the affine map (frame → crop pixels); nil when it is not six numbers.
    public var affine: AffineMatrix2x3? { AffineMatrix2x3(elements: matrix) }
    public var pose: PoseItem
    public var expression: ExpressionItem
    public var quality: QualityItem

    public init(id: Int64, crop: String, mask: String?, input: Int, frame: String?, frameNumber: Int, pts: Int64, seconds: Double,
                frameWidth: Int, frameHeight: Int, faceIndex: Int, track: Int64, box: BoxItem, score: Double, presence: Double,
                faceSize: Double, rotation: Int, keypoints: [Float], mesh: [Float], landmarks68: [Float], points5: [Float],
                matrix: [Double], pose: PoseItem, expression: ExpressionItem, quality: QualityItem) {
        self.id = id; self.crop = crop; self.mask = mask; self.input = input; self.frame = frame; self.frameNumber = frameNumber
        self.pts = pts; self.seconds = seconds; self.frameWidth = frameWidth; self.frameHeight = frameHeight
        self.faceIndex = faceIndex; self.track = track; self.box = box; self.score = score; self.presence = presence
        self.faceSize = faceSize; self.rotation = rotation; self.keypoints = keypoints; self.mesh = mesh
        self.landmarks68 = landmarks68; self.points5 = points5; self.matrix = matrix; self.pose = pose
        self.expression = expression; self.quality = quality
    }
}
