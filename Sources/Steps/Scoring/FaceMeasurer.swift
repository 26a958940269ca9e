import Faces
import FacetCore
import Foundation
import Media
import Models
import Recognition

/// What the networks say about one face in one frame (source or output), in frame pixels.
public struct FaceReading: Sendable {
    public var pose: HeadPose
    public var expression: ExpressionMeasures
    /// The 68-point subset of the mesh (x, y frame pixels), for landmark jitter.
    public var points68: [SIMD2<Double>]
    /// dlib's 128-d descriptor (output faces only, and only when identities are measured).
    public var descriptor: [Float]?
}

/// Re-detects a face near a known box with `FaceAnalyzer.locateNearest` (BlazeFace; FaceMesh twice on the nearest
/// detection only; dlib's 5 points only when the face is described) on a square region around the box, and
/// optionally describes it with dlib's ResNet (`FaceRecognitionNet`).
/// Not thread-safe (the networks keep buffers): one per worker thread.
public final class FaceMeasurer: @unchecked Sendable {
    let analyzer: FaceAnalyzer
    let net: FaceRecognitionNet?
    /// The region analysed is a square of this many box sizes around the box's centre.
    public static let regionScale = 2.2

    public init(store: ModelStore, describe: Bool) throws {
        analyzer = try FaceAnalyzer(range: .short, settings: FaceAnalyzer.Settings(minScore: 0.4, minSize: 12, maxFaces: 4), store: store)
        net = describe ? try FaceRecognitionNet(store: store, maxBatchSize: 1) : nil
    }

    /// The square region (frame pixels, clipped) analysed for a face whose box is `box` = (x, y, width, height).
    public static func region(box: (x: Double, y: Double, width: Double, height: Double), frameWidth: Int, frameHeight: Int) -> PixelMetrics.Rect {
        let side = max(box.width, box.height) * regionScale
        let cx = box.x + box.width / 2, cy = box.y + box.height / 2
        return PixelMetrics.Rect(x: cx - side / 2, y: cy - side / 2, width: side, height: side, frameWidth: frameWidth, frameHeight: frameHeight)
    }

    /// The face in `crop` (cut from a frame at `origin`) whose detector box centre is nearest to `centre`
    /// (frame pixels) and within half a box size of it; `nil` when there is none (the face was not re-detected).
    public func read(crop: RGBImage, origin: SIMD2<Double>, centre: SIMD2<Double>, boxSize: Double, describe: Bool) -> FaceReading? {
        let describe = describe && net != nil
        guard let face = analyzer.locateNearest(crop, centre: centre - origin, within: 0.5 * boxSize, points5: describe),
              let pose = HeadPose(mesh: face.mesh), let expression = ExpressionMeasures(mesh: face.mesh),
              let points = LandmarkSubsets.points68(fromMesh: face.mesh) else { return nil }
        var descriptor: [Float]?
        if describe, let net, let chip = try? FaceEmbedder.chip(fromImage: crop, points5: face.points5) {
            descriptor = try? net.embed(chip: chip)
        }
        return FaceReading(pose: pose, expression: expression, points68: points.map { $0 + origin }, descriptor: descriptor)
    }
}

extension ExpressionMeasures {
    /// The expression measures as a vector of ratios (mouth openness, mouth aspect, right and left eye
    /// openness, smile width, right and left brow raise), each already divided by a face length.
    var ratios: [Double] { [mouthOpenness, mouthAspect, rightEyeOpenness, leftEyeOpenness, smileWidth, rightBrowRaise, leftBrowRaise] }

    /// Expression error: the Euclidean distance between two faces' ratio vectors (dimensionless).
    public func distance(to other: ExpressionMeasures) -> Double {
        zip(ratios, other.ratios).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }
}

extension HeadPose {
    /// Signed difference `self − other` per angle, each wrapped into (−180°, 180°].
    public func difference(from other: HeadPose) -> (yaw: Double, pitch: Double, roll: Double) {
        func wrap(_ v: Double) -> Double {
            var x = v.truncatingRemainder(dividingBy: 360)
            if x > 180 { x -= 360 } else if x <= -180 { x += 360 }
            return x
        }
        return (wrap(yaw - other.yaw), wrap(pitch - other.pitch), wrap(roll - other.roll))
    }
}
