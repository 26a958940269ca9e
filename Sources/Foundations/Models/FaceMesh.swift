import Foundation
import Media
import Tensor

/// A rotated square region of interest in image pixels.
public struct RotatedRect: Equatable, Sendable, Codable {
    public var centerX: Double
    public var centerY: Double
    public var width: Double
    public var height: Double
    /// Radians, in [-π, π); positive turns the box clockwise on screen (y points down).
    public var rotation: Double

    public init(centerX: Double, centerY: Double, width: Double, height: Double, rotation: Double) {
        self.centerX = centerX; self.centerY = centerY; self.width = width; self.height = height; self.rotation = rotation
    }
}

extension RotatedRect {
    /// Samples this region of `image` into a `size × size × 3` tensor in [0, 1] (edges replicated outside the image):
    /// output pixel centre (u, v) ↦ source centre + R · ((u/size − 0.5)·width, (v/size − 0.5)·height).
    func crop(_ image: RGBImage, size: Int, round: Bool, into tensor: inout [Float]) {
        let n = Double(size)
        let c = Foundation.cos(rotation), s = Foundation.sin(rotation)
        let axisU = (c * width / n, s * width / n), axisV = (-s * height / n, c * height / n)
        let originX = centerX - 0.5 * (c * width - s * height)
        let originY = centerY - 0.5 * (s * width + c * height)
        ImageSampling.affineCrop(image, size: size, originX: originX, originY: originY, axisU: axisU, axisV: axisV,
                                 border: .replicate, scale: 1 / 255, offset: 0, round: round, into: &tensor)
    }

    /// The first `count` (x, y, z) points of a landmark network's output, given in pixels of a `cropSize` crop of
    /// this region, back in image pixels (MediaPipe's LandmarkProjection); z is scaled like x.
    func project(_ raw: [Float], count: Int, cropSize: Int) -> [SIMD3<Double>] {
        let n = Double(cropSize)
        let c = Foundation.cos(rotation), s = Foundation.sin(rotation)
        var points: [SIMD3<Double>] = []
        points.reserveCapacity(count)
        for i in 0..<min(count, raw.count / 3) {
            let nx = Double(raw[3 * i]) / n - 0.5, ny = Double(raw[3 * i + 1]) / n - 0.5
            points.append(SIMD3((c * nx - s * ny) * width + centerX, (s * nx + c * ny) * height + centerY,
                                Double(raw[3 * i + 2]) / n * width))
        }
        return points
    }
}

/// 468 face landmarks in image pixels.
public struct FaceMeshResult: Sendable {
    /// x, y in image pixels; z in the same pixel scale (relative depth, negative towards the camera).
    public var points: [SIMD3<Double>]
    /// Face presence probability (sigmoid of the face-flag logit).
    public var presence: Double
    /// The face-flag logit itself.
    public var presenceLogit: Double
    /// The region the network looked at.
    public var roi: RotatedRect
}

/// MediaPipe FaceMesh (face_landmark.tflite): a rotated square crop around a detection, 192×192 in
/// [0, 1], gives 468 points (x, y, z) and a face-presence logit.
public final class FaceMesh {
    public static let inputSize = 192
    let interpreter: TFLiteInterpreter
    private var input: [Float]

    public init(store: ModelStore = ModelStore()) throws {
        let model = try TFLiteModel(contentsOf: try store.url(for: .faceMesh))
        interpreter = try TFLiteInterpreter(model: model)
        guard interpreter.inputShape() == [1, 192, 192, 3], interpreter.outputShape(0).reduce(1, *) == 1404 else {
            throw ModelError.malformed(path: model.path, reason: "unexpected input \(interpreter.inputShape()) or output \(interpreter.outputShape(0))")
        }
        input = [Float](repeating: 0, count: 192 * 192 * 3)
    }

    /// Per-operator timing of the network (see `TFLiteInterpreter.runProfiled`).
    public func profile(cpuTime: Bool = false) -> [(kind: String, milliseconds: Double, count: Int)] { interpreter.runProfiled(cpuTime: cpuTime) }

    /// MediaPipe's detection-to-ROI rule: centred on the box, turned so the eyes are level, a square of
    /// 1.5 × the box's longer side.
    public static func roi(for detection: FaceDetection) -> RotatedRect {
        let p0 = detection.keypoints[0], p1 = detection.keypoints[1]
        var rotation = 0 - Foundation.atan2(-(p1.y - p0.y), p1.x - p0.x)
        rotation -= 2 * Double.pi * Foundation.floor((rotation + Double.pi) / (2 * Double.pi))
        let side = max(detection.width, detection.height) * 1.5
        return RotatedRect(centerX: detection.x + detection.width / 2, centerY: detection.y + detection.height / 2,
                           width: side, height: side, rotation: rotation)
    }

    /// MediaPipe's landmarks-to-ROI rule (its tracking step): turned so the eye corners 33 and 263 are level,
    /// the points' bounding box in that turned frame, squared on its longer side and scaled by 1.5. Running
    /// FaceMesh again on this region makes the landmarks depend less on the detector's box and keypoints.
    public static func roi(fromLandmarks points: [SIMD3<Double>]) -> RotatedRect? {
        guard points.count == 468 else { return nil }
        let a = points[33], b = points[263]
        let rotation = -Foundation.atan2(-(b.y - a.y), b.x - a.x)
        let c = Foundation.cos(rotation), s = Foundation.sin(rotation)
        var minU = Double.infinity, maxU = -Double.infinity, minV = Double.infinity, maxV = -Double.infinity
        for p in points {
            let u = c * p.x + s * p.y, v = -s * p.x + c * p.y
            minU = min(minU, u); maxU = max(maxU, u); minV = min(minV, v); maxV = max(maxV, v)
        }
        let cu = (minU + maxU) / 2, cv = (minV + maxV) / 2
        let side = max(maxU - minU, maxV - minV) * 1.5
        guard side.isFinite, side > 0 else { return nil }
        return RotatedRect(centerX: c * cu - s * cv, centerY: s * cu + c * cv, width: side, height: side, rotation: rotation)
    }

    /// Runs FaceMesh on the region `roi` of `image`.
    public func landmarks(in image: RGBImage, roi: RotatedRect) -> FaceMeshResult {
        Parallel.expectWork()   // the network follows the crop: wake the pool's workers now
        roi.crop(image, size: Self.inputSize, round: true, into: &input)
        try? interpreter.setInput(input)
        interpreter.run()
        return Self.project(raw: interpreter.output(0), flagLogit: interpreter.output(1).first ?? -100, roi: roi)
    }

    /// Runs the network on a given 192×192×3 input in [0, 1].
    public func rawOutputs(input tensor: [Float]) throws -> (landmarks: [Float], flag: Float) {
        try interpreter.setInput(tensor)
        interpreter.run()
        return (interpreter.output(0), interpreter.output(1).first ?? .nan)
    }

    /// MediaPipe's LandmarkProjection: crop pixels back to image pixels.
    public static func project(raw: [Float], flagLogit: Float, roi: RotatedRect) -> FaceMeshResult {
        let points = roi.project(raw, count: 468, cropSize: inputSize)
        let logit = Double(flagLogit)
        return FaceMeshResult(points: points, presence: 1 / (1 + Foundation.exp(-logit)), presenceLogit: logit, roi: roi)
    }
}
