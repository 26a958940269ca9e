import Foundation
import Media

/// A palm found by `HandDetector`, in image pixels.
public struct PalmDetection: Equatable, Sendable, Codable {
    /// The palm's box (corner and size).
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double
    /// Sigmoid score of the strongest raw detection of the merged group, 0...1.
    public var score: Double
    /// Seven keypoints: 0 the wrist centre, 1 the index finger's base, 2 the middle finger's base, 3 the ring
    /// finger's base, 4 the little finger's base, 5 and 6 the thumb's base and its first joint.
    public var keypoints: [Point2]
}

/// 21 hand landmarks in image pixels (MediaPipe's order: 0 wrist, 1–4 thumb, 5–8 index, 9–12 middle,
/// 13–16 ring, 17–20 little finger, each from its base to its tip).
public struct HandLandmarksResult: Sendable {
    /// x, y in image pixels; z relative depth in the same pixel scale.
    public var points: [SIMD3<Double>]
    /// Probability that a hand is in the region (the model's own sigmoid output).
    public var presence: Double
    /// Probability that it is a right hand (as the model sees the image, not mirrored).
    public var handedness: Double
    /// The region the network looked at.
    public var roi: RotatedRect
}

/// MediaPipe's palm detector (palm_detection_full.tflite): a 192×192 input in [0, 1], 2016 SSD anchors
/// (strides 8, 16, 16, 16 with fixed-size anchors: the same generator as `BlazeFace`'s short range), 18
/// regressors per anchor (box centre and size, then 7 keypoints, all in input pixels relative to the
/// anchor), sigmoid scores clipped at ±100, weighted non-maximum suppression at IoU 0.3.
public final class HandDetector {
    public static let inputSize = 192
    public let anchors: [Point2]
    let interpreter: TFLiteInterpreter
    private var input: [Float]

    public init(store: ModelStore = ModelStore()) throws {
        let model = try TFLiteModel(contentsOf: try store.url(for: .palmDetection))
        interpreter = try TFLiteInterpreter(model: model)
        guard interpreter.inputShape() == [1, 192, 192, 3], interpreter.outputShape(0) == [1, 2016, 18], interpreter.outputShape(1) == [1, 2016, 1] else {
            throw ModelError.malformed(path: model.path, reason: "unexpected input \(interpreter.inputShape()) or outputs \(interpreter.outputShape(0)), \(interpreter.outputShape(1))")
        }
        anchors = BlazeFace.anchors(strides: [8, 16, 16, 16], size: 192, interpolated: true)
        input = [Float](repeating: 0, count: 192 * 192 * 3)
    }

    /// Palms in the whole image (letterboxed: scaled to fit the square input, centred, black around it).
    public func detect(_ image: RGBImage, minScore: Double = 0.5) -> [PalmDetection] {
        let side = Double(max(image.width, image.height))
        return detect(image, squareX: (Double(image.width) - side) / 2, y: (Double(image.height) - side) / 2, side: side, minScore: minScore)
    }

    /// Palms in the axis-aligned square region [x, x + side) × [y, y + side) of the image (image pixels; parts
    /// outside the image are black), scaled to the 192×192 input with bilinear sampling.
    public func detect(_ image: RGBImage, squareX x: Double, y: Double, side: Double, minScore: Double = 0.5) -> [PalmDetection] {
        guard side.isFinite, side > 1 else { return [] }
        let step = side / Double(Self.inputSize)
        ImageSampling.affineCrop(image, size: Self.inputSize, originX: x, originY: y, axisU: (step, 0), axisV: (0, step),
                                 border: .zero, scale: 1 / 255, offset: 0, round: false, into: &input)
        try? interpreter.setInput(input)
        interpreter.run()
        let raw = Self.decode(regressors: interpreter.output(0), classificators: interpreter.output(1), anchors: anchors, minScore: minScore)
        return BlazeFace.weightedNMS(raw, threshold: 0.3).map { d in
            PalmDetection(x: x + d.x * side, y: y + d.y * side, width: d.width * side, height: d.height * side, score: d.score,
                          keypoints: d.keypoints.map { Point2(x + $0.x * side, y + $0.y * side) })
        }
    }

    /// Runs the network on a given 192×192×3 input in [0, 1]: regressors (2016 × 18) and score logits (2016).
    public func rawOutputs(input tensor: [Float]) throws -> (regressors: [Float], classificators: [Float]) {
        try interpreter.setInput(tensor)
        interpreter.run()
        return (interpreter.output(0), interpreter.output(1))
    }

    /// MediaPipe's TensorsToDetections for the palm model: boxes and keypoints in normalised input coordinates
    /// (a `FaceDetection` carries them so that `BlazeFace.weightedNMS` merges them; its keypoints are the seven palm points).
    public static func decode(regressors: [Float], classificators: [Float], anchors: [Point2], minScore: Double) -> [FaceDetection] {
        BlazeFace.decode(regressors: regressors, classificators: classificators, anchors: anchors, scale: Double(inputSize),
                         minScore: minScore, keypointCount: 7)
    }

    /// MediaPipe's palm-to-hand region: turned so that the wrist → middle-finger-base direction points up,
    /// moved half the box's height towards the fingers, squared on the box's longer side and scaled by 2.6
    /// (the palm box becomes a square holding the whole hand).
    public static func roi(for palm: PalmDetection) -> RotatedRect? {
        guard palm.keypoints.count >= 3 else { return nil }
        let p0 = palm.keypoints[0], p2 = palm.keypoints[2]
        var rotation = Double.pi / 2 - Foundation.atan2(-(p2.y - p0.y), p2.x - p0.x)
        rotation -= 2 * Double.pi * Foundation.floor((rotation + Double.pi) / (2 * Double.pi))
        let shiftY = -0.5
        let cx = palm.x + palm.width / 2 - palm.height * shiftY * Foundation.sin(rotation)
        let cy = palm.y + palm.height / 2 + palm.height * shiftY * Foundation.cos(rotation)
        let side = max(palm.width, palm.height) * 2.6
        guard side.isFinite, side > 0 else { return nil }
        return RotatedRect(centerX: cx, centerY: cy, width: side, height: side, rotation: rotation)
    }
}

/// MediaPipe's hand landmark model (hand_landmark_full.tflite): a rotated square crop (a `HandDetector.roi`)
/// sampled to 224×224 in [0, 1] gives 21 points (x, y, z in crop pixels), a hand-presence probability, a
/// handedness probability and 21 world points (metres).
public final class HandLandmarker {
    public static let inputSize = 224
    let interpreter: TFLiteInterpreter
    private var input: [Float]

    public init(store: ModelStore = ModelStore()) throws {
        let model = try TFLiteModel(contentsOf: try store.url(for: .handLandmarks))
        interpreter = try TFLiteInterpreter(model: model)
        guard interpreter.inputShape() == [1, 224, 224, 3], interpreter.outputShape(0).reduce(1, *) == 63, model.outputs.count == 4 else {
            throw ModelError.malformed(path: model.path, reason: "unexpected input \(interpreter.inputShape()) or output \(interpreter.outputShape(0))")
        }
        input = [Float](repeating: 0, count: 224 * 224 * 3)
    }

    /// Runs the model on the region `roi` of `image` (edges replicated outside the image).
    public func landmarks(in image: RGBImage, roi: RotatedRect) -> HandLandmarksResult {
        roi.crop(image, size: Self.inputSize, round: false, into: &input)
        try? interpreter.setInput(input)
        interpreter.run()
        return Self.project(raw: interpreter.output(0), presence: interpreter.output(1).first ?? 0,
                            handedness: interpreter.output(2).first ?? 0, roi: roi)
    }

    /// Runs the network on a given 224×224×3 input in [0, 1]: landmarks (63, crop pixels), presence, handedness, world (63).
    public func rawOutputs(input tensor: [Float]) throws -> (landmarks: [Float], presence: Float, handedness: Float, world: [Float]) {
        try interpreter.setInput(tensor)
        interpreter.run()
        return (interpreter.output(0), interpreter.output(1).first ?? .nan, interpreter.output(2).first ?? .nan, interpreter.output(3))
    }

    /// Crop pixels back to image pixels (MediaPipe's LandmarkProjection).
    public static func project(raw: [Float], presence: Float, handedness: Float, roi: RotatedRect) -> HandLandmarksResult {
        HandLandmarksResult(points: roi.project(raw, count: 21, cropSize: inputSize), presence: Double(presence),
                            handedness: Double(handedness), roi: roi)
    }
}

/// Palm detection then landmarks on each palm's region: the hands in (a region of) an image.
public final class HandFinder {
    public let detector: HandDetector
    public let landmarker: HandLandmarker
    /// Hands whose landmark model says less than this are dropped (MediaPipe's default 0.5).
    public var minPresence = 0.5

    public init(store: ModelStore = ModelStore()) throws {
        detector = try HandDetector(store: store)
        landmarker = try HandLandmarker(store: store)
    }

    /// Hands whose palms are in the square region (image pixels), at most `maxHands`, best palm first.
    public func hands(in image: RGBImage, squareX x: Double, y: Double, side: Double, maxHands: Int = 2,
                      minScore: Double = 0.5) -> [HandLandmarksResult] {
        let palms = detector.detect(image, squareX: x, y: y, side: side, minScore: minScore).prefix(maxHands)
        return palms.compactMap { palm in
            guard let roi = HandDetector.roi(for: palm) else { return nil }
            let hand = landmarker.landmarks(in: image, roi: roi)
            return hand.presence >= minPresence ? hand : nil
        }
    }

    /// Hands anywhere in the image (letterboxed to the palm detector's square input).
    public func hands(in image: RGBImage, maxHands: Int = 2, minScore: Double = 0.5) -> [HandLandmarksResult] {
        let side = Double(max(image.width, image.height))
        return hands(in: image, squareX: (Double(image.width) - side) / 2, y: (Double(image.height) - side) / 2, side: side,
                     maxHands: maxHands, minScore: minScore)
    }
}
