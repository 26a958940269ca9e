import Foundation

/// Why a face did not make it into a dataset. Recorded per face in the catalog (`dataset_drops.reason`) and
/// in the dedupe report; the raw values are the documented reason names.
public enum DropReason: String, Sendable, Codable, CaseIterable, Comparable {
    /// Sharpness (variance of the Laplacian) below `--min-sharpness`, or below `--blur-ratio` × the median
    /// sharpness of the faces from the same video.
    case blurry
    /// Face smaller than `--min-face-size` (√ of the box area, frame pixels).
    case small
    /// |yaw|, |pitch| or |roll| beyond `--max-yaw`, `--max-pitch` or `--max-roll`.
    case extremePose = "extreme-pose"
    /// Both eyes' openness below `--closed-eyes-below` (only with `--drop-closed-eyes`).
    case eyesClosed = "eyes-closed"
    /// FaceMesh's presence below `--min-presence`.
    case lowPresence = "low-presence"
    /// The crop (or its mask) named in the faces manifest is not on disk: deleted by hand, say.
    case cropMissing = "crop-missing"
    /// The crop file exists but is not a readable image, or its size is not the manifest's crop size.
    case cropUnreadable = "crop-unreadable"
    /// A near-duplicate of a kept face (which one, and how close, is in the detail).
    case duplicate
    /// Left out to keep the dataset within `--max-faces` while covering poses and expressions evenly.
    case overCap = "over-cap"

    public static func < (a: DropReason, b: DropReason) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The quality filters, applied before dedupe from the manifest's measures alone (no image is read).
/// The defaults keep profiles (a model cannot draw a pose it never saw) and drop what a model learns badly from.
public struct QualitySettings: Sendable, Equatable, Codable {
    /// Absolute sharpness floor in luma² (0: off). Sharpness depends on the video (its resolution, focus and
    /// compression) far more than on the face, so the relative `blurRatio` is the default filter.
    public var minSharpness: Double
    /// Drop faces whose sharpness is below this fraction of the median sharpness of the faces from the same video
    /// (0: off). 0.4 drops motion-blurred and out-of-focus frames (on the sample clips, 0–15 % of faces).
    public var blurRatio: Double
    /// Smallest face, √(box width × box height) in frame pixels: a smaller face is upscaled into a blurry crop.
    public var minFaceSize: Double
    /// Largest |yaw|, |pitch| and |roll| in degrees: beyond them FaceMesh's landmarks (and the alignment) fail.
    public var maxYaw: Double
    public var maxPitch: Double
    public var maxRoll: Double
    /// Lowest FaceMesh presence (0...1): lower ones are often not faces or badly fitted ones.
    public var minPresence: Double
    /// Drop faces whose eyes are both closed (blinks); off by default, since a model must learn blinks too.
    public var dropClosedEyes: Bool
    /// Eye openness (lid gap / eye width) under which an eye counts as closed.
    public var closedEyesBelow: Double

    public init(minSharpness: Double = 0, blurRatio: Double = 0.4, minFaceSize: Double = 64, maxYaw: Double = 80, maxPitch: Double = 60,
                maxRoll: Double = 60, minPresence: Double = 0.8, dropClosedEyes: Bool = false, closedEyesBelow: Double = 0.12) {
        self.minSharpness = minSharpness; self.blurRatio = blurRatio; self.minFaceSize = minFaceSize; self.maxYaw = maxYaw
        self.maxPitch = maxPitch; self.maxRoll = maxRoll; self.minPresence = minPresence; self.dropClosedEyes = dropClosedEyes
        self.closedEyesBelow = closedEyesBelow
    }

    /// The first filter `face` fails, with a detail naming the measure and the limit; nil when it passes.
    /// `medianSharpness` is the median sharpness of the faces from the same video.
    public func check(_ face: FaceTraits, medianSharpness: Double) -> (reason: DropReason, detail: String)? {
        func f(_ x: Double) -> String { String(format: "%.3g", x) }
        if face.presence < minPresence { return (.lowPresence, "presence \(f(face.presence)) < \(f(minPresence))") }
        if face.faceSize < minFaceSize { return (.small, "face size \(f(face.faceSize)) px < \(f(minFaceSize)) px") }
        if abs(face.yaw) > maxYaw { return (.extremePose, "|yaw| \(f(abs(face.yaw)))° > \(f(maxYaw))°") }
        if abs(face.pitch) > maxPitch { return (.extremePose, "|pitch| \(f(abs(face.pitch)))° > \(f(maxPitch))°") }
        if abs(face.roll) > maxRoll { return (.extremePose, "|roll| \(f(abs(face.roll)))° > \(f(maxRoll))°") }
        if face.sharpness < minSharpness { return (.blurry, "sharpness \(f(face.sharpness)) < \(f(minSharpness))") }
        let relativeFloor = blurRatio * medianSharpness
        if face.sharpness < relativeFloor {
            return (.blurry, "sharpness \(f(face.sharpness)) < \(f(blurRatio)) × the video's median \(f(medianSharpness))")
        }
        if dropClosedEyes, face.leftEyeOpenness < closedEyesBelow, face.rightEyeOpenness < closedEyesBelow {
            return (.eyesClosed, "eye openness \(f(face.leftEyeOpenness)) and \(f(face.rightEyeOpenness)) < \(f(closedEyesBelow))")
        }
        return nil
    }
}

/// The median of `values` (the mean of the two middle ones for an even count; 0 when empty).
public func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
