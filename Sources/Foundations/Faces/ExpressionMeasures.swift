import Foundation

/// Expression measures from the 468-point MediaPipe FaceMesh, each a dimensionless ratio so it does not
/// depend on the face's size in the image.
///
/// Distances are 3-D Euclidean distances between mesh points (x, y in image pixels, z the mesh's
/// relative depth in the same pixel scale), so moderate head turns shorten them less than 2-D ones.
/// "Right" and "left" are the subject's own (MediaPipe's naming): the right eye lies on the image's left
/// in an unmirrored photo. Mirroring an image swaps the right and left measures.
///
/// MediaPipe FaceMesh vertex indices used:
/// - right eye: outer corner 33, inner corner 133, upper lid 159, lower lid 145;
/// - left eye: inner corner 362, outer corner 263, upper lid 386, lower lid 374;
/// - eye centre: mean of that eye's four points above;
/// - lips: inner upper 13, inner lower 14, corners 61 (right) and 291 (left);
/// - right brow, upper edge: 70, 63, 105, 66, 107 (outer to inner); left brow: 300, 293, 334, 296, 336.
public struct ExpressionMeasures: Equatable, Sendable, Codable {
    /// Distance between the two eye centres in pixels: the face size every other ratio divides by.
    public var interocular: Double
    /// Inner-lip gap (13–14) / interocular; about 0 with the lips closed, 0.3–0.6 for a wide-open mouth.
    public var mouthOpenness: Double
    /// Inner-lip gap (13–14) / mouth width (61–291): the mouth aspect ratio.
    public var mouthAspect: Double
    /// Right eye: lid gap (159–145) / eye width (33–133); about 0.25–0.35 open, under 0.1 closed.
    public var rightEyeOpenness: Double
    /// Left eye: lid gap (386–374) / eye width (362–263).
    public var leftEyeOpenness: Double
    /// Mouth-corner distance (61–291) / interocular; grows with a smile.
    public var smileWidth: Double
    /// Right brow: distance from the brow's upper edge (mean of 70, 63, 105, 66, 107) to the midpoint of
    /// the eye corners (33, 133) / interocular. The eye corners do not move with blinking.
    public var rightBrowRaise: Double
    /// Left brow: brow (300, 293, 334, 296, 336) to the eye-corner midpoint (362, 263) / interocular.
    public var leftBrowRaise: Double

    /// Mean of the two brow raises.
    public var browRaise: Double { (rightBrowRaise + leftBrowRaise) / 2 }

    public init(interocular: Double, mouthOpenness: Double, mouthAspect: Double, rightEyeOpenness: Double,
                leftEyeOpenness: Double, smileWidth: Double, rightBrowRaise: Double, leftBrowRaise: Double) {
        self.interocular = interocular; self.mouthOpenness = mouthOpenness; self.mouthAspect = mouthAspect
        self.rightEyeOpenness = rightEyeOpenness; self.leftEyeOpenness = leftEyeOpenness
        self.smileWidth = smileWidth; self.rightBrowRaise = rightBrowRaise; self.leftBrowRaise = leftBrowRaise
    }

    public enum Index {
        public static let rightEyeOuter = 33, rightEyeInner = 133, rightEyeUpper = 159, rightEyeLower = 145
        public static let leftEyeInner = 362, leftEyeOuter = 263, leftEyeUpper = 386, leftEyeLower = 374
        public static let innerLipUpper = 13, innerLipLower = 14, mouthRight = 61, mouthLeft = 291
        public static let rightBrow = [70, 63, 105, 66, 107]
        public static let leftBrow = [300, 293, 334, 296, 336]
    }

    /// The measures of a 468-point mesh (`FaceMeshResult.points`); `nil` when the mesh has fewer than
    /// 468 points or a size is zero or not finite (degenerate mesh).
    public init?(mesh p: [SIMD3<Double>]) {
        guard p.count >= 468 else { return nil }
        typealias I = Index
        func distance(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }
        func mean(_ indices: [Int]) -> SIMD3<Double> {
            indices.reduce(SIMD3<Double>.zero) { $0 + p[$1] } / Double(indices.count)
        }
        let rightEye = mean([I.rightEyeOuter, I.rightEyeInner, I.rightEyeUpper, I.rightEyeLower])
        let leftEye = mean([I.leftEyeInner, I.leftEyeOuter, I.leftEyeUpper, I.leftEyeLower])
        let iod = distance(rightEye, leftEye)
        let mouthWidth = distance(p[I.mouthRight], p[I.mouthLeft])
        let rightEyeWidth = distance(p[I.rightEyeOuter], p[I.rightEyeInner])
        let leftEyeWidth = distance(p[I.leftEyeInner], p[I.leftEyeOuter])
        guard iod.isFinite, iod > 1e-9, mouthWidth > 1e-9, rightEyeWidth > 1e-9, leftEyeWidth > 1e-9 else { return nil }
        let lipGap = distance(p[I.innerLipUpper], p[I.innerLipLower])
        let rightCorners = mean([I.rightEyeOuter, I.rightEyeInner]), leftCorners = mean([I.leftEyeInner, I.leftEyeOuter])
        self.init(
            interocular: iod,
            mouthOpenness: lipGap / iod,
            mouthAspect: lipGap / mouthWidth,
            rightEyeOpenness: distance(p[I.rightEyeUpper], p[I.rightEyeLower]) / rightEyeWidth,
            leftEyeOpenness: distance(p[I.leftEyeUpper], p[I.leftEyeLower]) / leftEyeWidth,
            smileWidth: mouthWidth / iod,
            rightBrowRaise: distance(mean(I.rightBrow), rightCorners) / iod,
            leftBrowRaise: distance(mean(I.leftBrow), leftCorners) / iod)
    }
}
