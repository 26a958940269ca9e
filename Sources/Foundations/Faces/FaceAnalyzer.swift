import FacetCore
import Foundation
import Media
import Models

/// A face located in a frame: detection, refined 468-point mesh and dlib's 5 points, all in frame pixels.
public struct LocatedFace: Sendable {
    /// The detector's box, score and 6 keypoints, mapped back to the unturned frame.
    public var detection: FaceDetection
    /// Clockwise degrees the frame was turned for the detector to find this face.
    public var rotation: Int
    /// FaceMesh's 468 points (x, y frame pixels; z relative depth in pixel units).
    public var mesh: [SIMD3<Double>]
    /// FaceMesh's face-presence probability.
    public var presence: Double
    /// dlib's 5-point shape predictor on a box derived from the mesh, sub-pixel.
    public var points5: [SIMD2<Double>]

    public init(detection: FaceDetection, rotation: Int, mesh: [SIMD3<Double>], presence: Double, points5: [SIMD2<Double>]) {
        self.detection = detection; self.rotation = rotation; self.mesh = mesh; self.presence = presence; self.points5 = points5
    }
}

/// Milliseconds spent per stage, summed over calls. `detect`, `mesh` and `points5` are the CPU time of the thread that
/// ran them (`threadCPUMilliseconds`): their cost, whatever else shares the cores. `wait` is time the caller spent
/// blocked handing finished crops to background writers that had fallen behind (`detect`): not work, so it is kept
/// out of `align`.
public struct StageTimes: Codable, Sendable, Equatable {
    public var decode = 0.0, detect = 0.0, mesh = 0.0, points5 = 0.0, align = 0.0, write = 0.0, wait = 0.0
    public init() {}

    /// Each stage divided by `frames` (per-frame averages).
    public func perFrame(_ frames: Int) -> StageTimes {
        guard frames > 0 else { return self }
        let n = Double(frames)
        var out = StageTimes()
        out.decode = decode / n; out.detect = detect / n; out.mesh = mesh / n
        out.points5 = points5 / n; out.align = align / n; out.write = write / n; out.wait = wait / n
        return out
    }
}


/// Finds faces in one frame: BlazeFace (optionally on tiles and turned frames), FaceMesh twice (first on the
/// detector's region, then on the region its own landmarks give, as MediaPipe's tracking does), then dlib's
/// 5-point predictor. Not thread-safe (the networks keep their buffers); use one per thread.
public final class FaceAnalyzer {
    public struct Settings: Sendable {
        /// Detections scoring below this are dropped (0...1).
        public var minScore: Double
        /// Faces whose √(box area) is below this many frame pixels are dropped.
        public var minSize: Double
        /// At most this many faces per frame, highest detector score first.
        public var maxFaces: Int
        /// Faces whose FaceMesh presence is below this are dropped (they are usually false detections).
        public var minPresence: Double
        /// When a frame gives no face upright, try it turned 90, 180 and 270 degrees clockwise.
        public var tryRotations: Bool
        /// FaceMesh passes per face: 1 (on the detector's region only, MediaPipe's detection step) or 2
        /// (again on the region the first pass's landmarks give, MediaPipe's tracking step: steadier landmarks).
        public var meshPasses: Int

        public init(minScore: Double = 0.5, minSize: Double = 20, maxFaces: Int = 16, minPresence: Double = 0.5, tryRotations: Bool = false,
                    meshPasses: Int = 2) {
            self.minScore = minScore; self.minSize = minSize; self.maxFaces = maxFaces
            self.minPresence = minPresence; self.tryRotations = tryRotations; self.meshPasses = meshPasses
        }
    }

    public let settings: Settings
    let detector: BlazeFace
    let faceMesh: FaceMesh
    let predictor: ShapePredictor
    public private(set) var times = StageTimes()

    public init(range: BlazeFace.Range, settings: Settings, store: ModelStore) throws {
        self.settings = settings
        detector = try BlazeFace(range: range, store: store)
        faceMesh = try FaceMesh(store: store)
        predictor = try ShapePredictor(store: store)
    }

    /// Adds time spent outside the analyzer (decoding, aligning, writing, waiting for writers) to the same tally.
    public func addTime(decode: Double = 0, align: Double = 0, write: Double = 0, wait: Double = 0) {
        times.decode += decode; times.align += align; times.write += write; times.wait += wait
    }

    /// The faces in `image`, highest detector score first. `tiles` > 1 also runs the detector on a
    /// `tiles × tiles` grid of overlapping crops (for small faces in large photos).
    public func locate(_ image: RGBImage, tiles: Int) -> [LocatedFace] {
        var start = threadCPUMilliseconds()
        var found: [(FaceDetection, Int)] = detections(image, tiles: tiles).map { ($0, 0) }
        if found.isEmpty && settings.tryRotations {
            for degrees in [90, 180, 270] {
                let turned = image.rotated(clockwise: degrees)
                found = detections(turned, tiles: tiles).map { (Self.unturn($0, degrees: degrees, width: image.width, height: image.height), degrees) }
                if !found.isEmpty { break }
            }
        }
        times.detect += threadCPUMilliseconds() - start

        var faces: [LocatedFace] = []
        for (detection, rotation) in found.prefix(settings.maxFaces) {
            guard let result = mesh(image, detection: detection) else { continue }
            start = threadCPUMilliseconds()
            let box = Self.predictorBox(mesh: result.points)
            let points5 = predictor.predict(image: image, box: box).precisePoints
            times.points5 += threadCPUMilliseconds() - start
            faces.append(LocatedFace(detection: detection, rotation: rotation, mesh: result.points, presence: result.presence, points5: points5))
        }
        return faces
    }

    /// FaceMesh on a detection (a second pass on the first pass's own region when `settings.meshPasses` > 1);
    /// `nil` when the face is absent (presence under `settings.minPresence`) or the points are not all finite.
    private func mesh(_ image: RGBImage, detection: FaceDetection) -> FaceMeshResult? {
        let start = threadCPUMilliseconds()
        var result = faceMesh.landmarks(in: image, roi: FaceMesh.roi(for: detection))
        if settings.meshPasses > 1, result.presence >= settings.minPresence, let roi = FaceMesh.roi(fromLandmarks: result.points) {
            result = faceMesh.landmarks(in: image, roi: roi)
        }
        times.mesh += threadCPUMilliseconds() - start
        guard result.presence >= settings.minPresence, result.points.count == LandmarkSubsets.meshCount,
              result.points.allSatisfy({ $0.x.isFinite && $0.y.isFinite && $0.z.isFinite }) else { return nil }
        return result
    }

    /// The one face of `image` whose detector box centre is nearest to `centre` (image pixels) and at most
    /// `within` pixels from it, among the faces `locate` would keep (`tiles` 1, no turning); `nil` when there is
    /// none. The same face, mesh and points as picking the nearest of `locate`'s faces, with less work: only that
    /// face is meshed (nearest first, the next one when its presence is too low), and dlib's 5 points are found
    /// only when `points5` is true (otherwise `LocatedFace.points5` is empty). `score` re-detects faces with it.
    public func locateNearest(_ image: RGBImage, centre: SIMD2<Double>, within: Double, points5 wantPoints: Bool) -> LocatedFace? {
        var start = threadCPUMilliseconds()
        let candidates = detections(image, tiles: 1).prefix(settings.maxFaces).compactMap { d -> (FaceDetection, Double)? in
            let c = SIMD2(d.x + d.width / 2, d.y + d.height / 2)
            let distance = ((c - centre) * (c - centre)).sum().squareRoot()
            return distance <= within ? (d, distance) : nil
        }.sorted { $0.1 < $1.1 }
        times.detect += threadCPUMilliseconds() - start
        for (detection, _) in candidates {
            guard let result = mesh(image, detection: detection) else { continue }
            var points5: [SIMD2<Double>] = []
            if wantPoints {
                start = threadCPUMilliseconds()
                points5 = predictor.predict(image: image, box: Self.predictorBox(mesh: result.points)).precisePoints
                times.points5 += threadCPUMilliseconds() - start
            }
            return LocatedFace(detection: detection, rotation: 0, mesh: result.points, presence: result.presence, points5: points5)
        }
        return nil
    }

    private func detections(_ image: RGBImage, tiles: Int) -> [FaceDetection] {
        detector.detect(image, minScore: settings.minScore, tiles: tiles)
            .filter { ($0.width * $0.height).squareRoot() >= settings.minSize }
            .sorted { $0.score > $1.score }
    }

    /// A detection made on the frame turned `degrees` clockwise, mapped back to the unturned frame
    /// (`width × height`): keypoints exactly, the box as the axis-aligned box of its turned corners.
    static func unturn(_ d: FaceDetection, degrees: Int, width: Int, height: Int) -> FaceDetection {
        let w = Double(width), h = Double(height)
        func back(_ p: Point2) -> Point2 {
            switch degrees {
            case 90: return Point2(p.y, h - p.x)
            case 180: return Point2(w - p.x, h - p.y)
            case 270: return Point2(w - p.y, p.x)
            default: return p
            }
        }
        let corners = [Point2(d.x, d.y), Point2(d.x + d.width, d.y + d.height)].map(back)
        let x0 = min(corners[0].x, corners[1].x), y0 = min(corners[0].y, corners[1].y)
        return FaceDetection(x: x0, y: y0, width: abs(corners[1].x - corners[0].x), height: abs(corners[1].y - corners[0].y),
                             score: d.score, keypoints: d.keypoints.map(back))
    }

    /// The box dlib's 5-point predictor is given: a square like dlib's HOG detector's, derived from the
    /// 68-point subset of the mesh (the predictor was trained on dlib-detector boxes, not BlazeFace's). The
    /// constants make the box match dlib's golden HOG box on `astronaut.png` (see `FaceAnalyzerTests`).
    static func predictorBox(mesh: [SIMD3<Double>]) -> (left: Int, top: Int, right: Int, bottom: Int) {
        let points = LandmarkSubsets.points68(fromMesh: mesh) ?? []
        let xs = points.map(\.x), ys = points.map(\.y)
        guard let minX = xs.min(), let maxX = xs.max(), let minY = ys.min(), let maxY = ys.max() else { return (0, 0, 0, 0) }
        let side = max(maxX - minX, maxY - minY) * predictorBoxScale
        let cx = (minX + maxX) / 2 + predictorBoxShift.x * side, cy = (minY + maxY) / 2 + predictorBoxShift.y * side
        func r(_ v: Double) -> Int { Int(max(min(v.rounded(), 1e7), -1e7)) }
        return (r(cx - side / 2), r(cy - side / 2), r(cx + side / 2), r(cy + side / 2))
    }

    static let predictorBoxScale = 0.95
    static let predictorBoxShift = SIMD2<Double>(-0.06, -0.09)
}
