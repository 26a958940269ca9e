import Foundation
import Manifest

/// What dedupe, the quality filters, selection and the audit need to know about one face, copied from a
/// faces or dataset manifest item (units as there: degrees, ratios, luma², frame pixels).
public struct FaceTraits: Sendable, Equatable {
    public var yaw: Double, pitch: Double, roll: Double
    public var mouthOpenness: Double
    public var leftEyeOpenness: Double, rightEyeOpenness: Double
    public var smileWidth: Double, browRaise: Double
    public var sharpness: Double, brightness: Double
    public var faceSize: Double, presence: Double

    public init(yaw: Double, pitch: Double, roll: Double, mouthOpenness: Double, leftEyeOpenness: Double, rightEyeOpenness: Double,
                smileWidth: Double, browRaise: Double, sharpness: Double, brightness: Double, faceSize: Double, presence: Double) {
        self.yaw = yaw; self.pitch = pitch; self.roll = roll; self.mouthOpenness = mouthOpenness
        self.leftEyeOpenness = leftEyeOpenness; self.rightEyeOpenness = rightEyeOpenness; self.smileWidth = smileWidth
        self.browRaise = browRaise; self.sharpness = sharpness; self.brightness = brightness; self.faceSize = faceSize
        self.presence = presence
    }

    public init(pose: PoseItem, expression: ExpressionItem, quality: QualityItem, faceSize: Double, presence: Double) {
        self.init(yaw: pose.yaw, pitch: pose.pitch, roll: pose.roll, mouthOpenness: expression.mouthOpenness,
                  leftEyeOpenness: expression.leftEyeOpenness, rightEyeOpenness: expression.rightEyeOpenness,
                  smileWidth: expression.smileWidth, browRaise: expression.browRaise, sharpness: quality.sharpness,
                  brightness: quality.brightness, faceSize: faceSize, presence: presence)
    }

    public init(_ face: FaceItem) {
        self.init(pose: face.pose, expression: face.expression, quality: face.quality, faceSize: face.faceSize, presence: face.presence)
    }

    public init(_ item: DatasetItem) {
        self.init(pose: item.pose, expression: item.expression, quality: item.quality, faceSize: item.faceSize, presence: item.presence)
    }

    /// The traits of this face's mirror image: yaw and roll change sign, the eyes swap.
    public var mirrored: FaceTraits {
        var m = self
        m.yaw = -yaw
        m.roll = -roll
        m.leftEyeOpenness = rightEyeOpenness
        m.rightEyeOpenness = leftEyeOpenness
        return m
    }

    /// Mean openness of the two eyes.
    public var eyeOpenness: Double { (leftEyeOpenness + rightEyeOpenness) / 2 }

    /// How good a copy of a face this is, for keeping the best of a group of near-duplicates:
    /// ln(1 + sharpness) + ½ ln(face size) + ln(presence). Sharpness dominates (a blurred frame of the same
    /// moment loses), a larger face (more real pixels in the crop) and a surer landmark fit follow.
    public var keepScore: Double {
        log1p(max(0, sharpness)) + 0.5 * log(max(1, faceSize)) + log(max(0.01, presence))
    }
}

/// One face as the dataset builder handles it: where it came from, its traits, and a stable key.
public struct FaceRef: Sendable, Equatable {
    /// Index of the faces manifest among the builder's inputs.
    public var source: Int
    /// Index of the item in that manifest.
    public var item: Int
    public var faceId: Int64
    public var track: Int64
    /// Index into the faces manifest's `inputs` (the video or image folder).
    public var input: Int
    public var frameNumber: Int
    public var faceIndex: Int
    public var traits: FaceTraits

    public init(source: Int, item: Int, faceId: Int64, track: Int64, input: Int, frameNumber: Int, faceIndex: Int, traits: FaceTraits) {
        self.source = source; self.item = item; self.faceId = faceId; self.track = track; self.input = input
        self.frameNumber = frameNumber; self.faceIndex = faceIndex; self.traits = traits
    }

    /// Deterministic order of faces: manifest, then video, then time, then face within the frame.
    public static func inSourceOrder(_ a: FaceRef, _ b: FaceRef) -> Bool {
        (a.source, a.input, a.frameNumber, a.faceIndex, a.item) < (b.source, b.input, b.frameNumber, b.faceIndex, b.item)
    }

    /// A 64-bit tie-breaker for faces of equal score: SplitMix64 of the face's position mixed with `seed`,
    /// so `--seed` changes which of equally good faces wins and the same seed always gives the same choice.
    public func tieBreak(seed: UInt64) -> UInt64 {
        var z = seed &+ UInt64(truncatingIfNeeded: source) &* 0x9E37_79B9_7F4A_7C15
        z = z &+ UInt64(truncatingIfNeeded: input) &* 0xC2B2_AE3D_27D4_EB4F
        z = z &+ UInt64(truncatingIfNeeded: frameNumber) &* 0x1656_67B1_9E37_79F9
        z = z &+ UInt64(truncatingIfNeeded: faceIndex) &* 0x85EB_CA77_C2B2_AE63 &+ UInt64(truncatingIfNeeded: item)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
