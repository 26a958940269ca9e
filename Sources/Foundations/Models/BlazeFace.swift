import Foundation
import Media
import Tensor

/// A detected face in image pixels.
public struct FaceDetection: Equatable, Sendable, Codable {
    /// Box corner and size in image pixels.
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double
    /// Sigmoid score of the strongest raw detection in the merged group, 0...1.
    public var score: Double
    /// Six keypoints in image pixels: 0 the eye on the image's left, 1 the other eye, 2 nose tip,
    /// 3 mouth centre, 4 and 5 the ear tragions (image-left, image-right).
    public var keypoints: [Point2]

    public init(x: Double, y: Double, width: Double, height: Double, score: Double, keypoints: [Point2]) {
        self.x = x; self.y = y; self.width = width; self.height = height; self.score = score; self.keypoints = keypoints
    }
}

/// Intersection over union of two axis-aligned boxes given by corner and size (0 when both are empty).
public func intersectionOverUnion(x ax: Double, y ay: Double, width aw: Double, height ah: Double,
                                  x bx: Double, y by: Double, width bw: Double, height bh: Double) -> Double {
    let ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    let iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    let inter = ix * iy
    let union = aw * ah + bw * bh - inter
    return union > 0 ? inter / union : 0
}

/// A 2-D point.
public struct Point2: Equatable, Sendable, Codable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// MediaPipe's BlazeFace detector, short range (128×128, close-up faces) or full range (192×192, faces
/// at any distance), with MediaPipe's anchors, decoding and weighted non-maximum suppression.
public final class BlazeFace {
    public enum Range: String, Sendable, Codable {
        case short, full

        var inputSize: Int { self == .short ? 128 : 192 }
        var defaultMinScore: Double { self == .short ? 0.5 : 0.6 }
        var modelFile: ModelFile { self == .short ? .blazeFaceShort : .blazeFaceFull }
    }

    public let range: Range
    public let anchors: [Point2]
    let interpreter: TFLiteInterpreter
    private var input: [Float]

    public init(range: Range, store: ModelStore = ModelStore()) throws {
        self.range = range
        let model = try TFLiteModel(contentsOf: try store.url(for: range.modelFile))
        interpreter = try TFLiteInterpreter(model: model)
        let n = range.inputSize
        guard interpreter.inputShape() == [1, n, n, 3], interpreter.outputShape(0).last == 16 else {
            throw ModelError.malformed(path: model.path, reason: "unexpected input \(interpreter.inputShape()) or output \(interpreter.outputShape(0))")
        }
        anchors = range == .short ? Self.anchors(strides: [8, 16, 16, 16], size: 128, interpolated: true)
                                  : Self.anchors(strides: [4], size: 192, interpolated: false)
        input = [Float](repeating: 0, count: n * n * 3)
    }

    /// Per-operator timing of the network (see `TFLiteInterpreter.runProfiled`).
    public func profile(cpuTime: Bool = false) -> [(kind: String, milliseconds: Double, count: Int)] { interpreter.runProfiled(cpuTime: cpuTime) }

    /// MediaPipe's SsdAnchorsCalculator with fixed anchor size: the centres, layer group by layer group,
    /// then rows, then columns, then anchors in a cell.
    public static func anchors(strides: [Int], size: Int, interpolated: Bool) -> [Point2] {
        var result: [Point2] = []
        var layer = 0
        while layer < strides.count {
            var last = layer, perCell = 0
            while last < strides.count && strides[last] == strides[layer] {
                perCell += interpolated ? 2 : 1
                last += 1
            }
            let fm = (size + strides[layer] - 1) / strides[layer]
            for y in 0..<fm { for x in 0..<fm { for _ in 0..<perCell {
                result.append(Point2((Double(x) + 0.5) / Double(fm), (Double(y) + 0.5) / Double(fm)))
            } } }
            layer = last
        }
        return result
    }

    /// Detects faces. Scores below `minScore` (default 0.5 short, 0.6 full) are dropped.
    public func detect(_ image: RGBImage, minScore: Double? = nil) -> [FaceDetection] {
        let letterbox = prepareInput(image)
        let raw = runNetwork()
        let detections = Self.decode(regressors: raw.regressors, classificators: raw.classificators, anchors: anchors,
                                     scale: Double(range.inputSize), minScore: minScore ?? range.defaultMinScore)
        return Self.weightedNMS(detections, threshold: 0.3).map { letterbox.toImage($0) }
    }

    /// Detects faces on the whole image and, when `tiles` > 1, also on a `tiles × tiles` grid of
    /// overlapping crops (each 1/tiles of the image plus 25% overlap), so that faces too small for the
    /// whole-image pass (group photos) are found. All detections are merged with the same weighted NMS.
    public func detect(_ image: RGBImage, minScore: Double? = nil, tiles: Int) -> [FaceDetection] {
        guard tiles > 1 else { return detect(image, minScore: minScore) }
        var raw: [FaceDetection] = []
        let threshold = minScore ?? range.defaultMinScore
        raw += rawDetections(image, minScore: threshold, offsetX: 0, offsetY: 0)
        let tileW = Int((Double(image.width) / Double(tiles) * 1.25).rounded(.up))
        let tileH = Int((Double(image.height) / Double(tiles) * 1.25).rounded(.up))
        for ty in 0..<tiles {
            for tx in 0..<tiles {
                let x0 = min(max(0, tx * image.width / tiles - (tileW - image.width / tiles) / 2), max(0, image.width - tileW))
                let y0 = min(max(0, ty * image.height / tiles - (tileH - image.height / tiles) / 2), max(0, image.height - tileH))
                let tile = image.cropped(x: x0, y: y0, width: min(tileW, image.width - x0), height: min(tileH, image.height - y0))
                raw += rawDetections(tile, minScore: threshold, offsetX: Double(x0), offsetY: Double(y0))
            }
        }
        return Self.weightedNMS(raw, threshold: 0.3)
    }

    /// Raw (pre-NMS) detections in image pixels, shifted by an offset (for tiles).
    private func rawDetections(_ image: RGBImage, minScore: Double, offsetX: Double, offsetY: Double) -> [FaceDetection] {
        let letterbox = prepareInput(image)
        let raw = runNetwork()
        return Self.decode(regressors: raw.regressors, classificators: raw.classificators, anchors: anchors,
                           scale: Double(range.inputSize), minScore: minScore).map { detection in
            var d = letterbox.toImage(detection)
            d.x += offsetX; d.y += offsetY
            d.keypoints = d.keypoints.map { Point2($0.x + offsetX, $0.y + offsetY) }
            return d
        }
    }

    /// The letterbox geometry: tensor coordinates (normalised 0...1) back to image pixels.
    struct Letterbox {
        let scale: Double, padX: Double, padY: Double, size: Double

        func toImage(_ d: FaceDetection) -> FaceDetection {
            func px(_ x: Double) -> Double { (x * size - padX) / scale }
            func py(_ y: Double) -> Double { (y * size - padY) / scale }
            return FaceDetection(x: px(d.x), y: py(d.y), width: d.width * size / scale, height: d.height * size / scale,
                                 score: d.score, keypoints: d.keypoints.map { Point2(px($0.x), py($0.y)) })
        }
    }

    /// Fills the input tensor: the image scaled to fit the square input keeping its aspect ratio,
    /// centred, zeros around it, values in [-1, 1]. Shrinking by 3× or more first applies an integer box
    /// filter (which makes a 512 px image's 128 px input exactly MediaPipe's golden box-filtered one).
    func prepareInput(_ image: RGBImage) -> Letterbox {
        Parallel.expectWork()   // the network follows the letterbox: wake the pool's workers now
        let size = Double(range.inputSize)
        let scale = size / Double(max(image.width, image.height))
        let padX = (size - Double(image.width) * scale) / 2, padY = (size - Double(image.height) * scale) / 2
        let k = 1 / scale >= 3 ? Int(Foundation.floor(1 / scale)) : 1
        let source = ImageSampling.boxDownsample(image, factor: k)
        let step = 1 / (scale * Double(k))
        ImageSampling.affineCrop(source, size: range.inputSize, originX: -padX * step, originY: -padY * step,
                                 axisU: (step, 0), axisV: (0, step), border: .zero,
                                 scale: 1 / 127.5, offset: -1, into: &input)
        return Letterbox(scale: scale, padX: padX, padY: padY, size: size)
    }

    /// Runs the network on the prepared input.
    func runNetwork() -> (regressors: [Float], classificators: [Float]) {
        try? interpreter.setInput(input)
        interpreter.run()
        return (interpreter.output(0), interpreter.output(1))
    }

    /// Runs the network on a given input tensor (values in [-1, 1], `size × size × 3`).
    public func rawOutputs(input tensor: [Float]) throws -> (regressors: [Float], classificators: [Float]) {
        try interpreter.setInput(tensor)
        interpreter.run()
        return (interpreter.output(0), interpreter.output(1))
    }

    /// MediaPipe's TensorsToDetections decoding: boxes and keypoints in normalised input coordinates. Each anchor's
    /// regressors are the box (centre, size) then `keypointCount` (x, y) points (6 for faces, 7 for palms).
    public static func decode(regressors: [Float], classificators: [Float], anchors: [Point2], scale: Double,
                              minScore: Double, keypointCount: Int = 6) -> [FaceDetection] {
        let stride = 4 + 2 * keypointCount
        var out: [FaceDetection] = []
        for i in 0..<min(anchors.count, classificators.count, regressors.count / stride) {
            let logit = Double(min(max(classificators[i], -100), 100))
            let score = 1 / (1 + Foundation.exp(-logit))
            guard score >= minScore else { continue }
            let r = regressors[(i * stride)..<(i * stride + stride)].map { Double($0) }
            let a = anchors[i]
            let xc = r[0] / scale + a.x, yc = r[1] / scale + a.y, w = r[2] / scale, h = r[3] / scale
            let keypoints = (0..<keypointCount).map { k in Point2(r[4 + 2 * k] / scale + a.x, r[5 + 2 * k] / scale + a.y) }
            out.append(FaceDetection(x: xc - w / 2, y: yc - h / 2, width: w, height: h, score: score, keypoints: keypoints))
        }
        return out
    }

    /// Intersection over union of two boxes.
    public static func iou(_ a: FaceDetection, _ b: FaceDetection) -> Double {
        intersectionOverUnion(x: a.x, y: a.y, width: a.width, height: a.height, x: b.x, y: b.y, width: b.width, height: b.height)
    }

    /// Weighted NMS: take the best remaining detection and every other one overlapping it by more than
    /// `threshold` IoU; output their score-weighted mean box and keypoints with the best score.
    public static func weightedNMS(_ detections: [FaceDetection], threshold: Double) -> [FaceDetection] {
        var remaining = detections.sorted { $0.score > $1.score }
        var out: [FaceDetection] = []
        while let top = remaining.first {
            // The top detection always belongs to its own group (even a degenerate zero-area box).
            let inGroup = remaining.indices.map { $0 == 0 || iou(remaining[$0], top) > threshold }
            let group = remaining.indices.filter { inGroup[$0] }.map { remaining[$0] }
            let rest = remaining.indices.filter { !inGroup[$0] }.map { remaining[$0] }
            let total = max(group.reduce(0) { $0 + $1.score }, .leastNonzeroMagnitude)
            func mean(_ f: (FaceDetection) -> Double) -> Double { group.reduce(0) { $0 + f($1) * $1.score } / total }
            let xmin = mean { $0.x }, ymin = mean { $0.y }
            let xmax = mean { $0.x + $0.width }, ymax = mean { $0.y + $0.height }
            // Six keypoints for faces, seven for palms (HandDetector): as many as every member has.
            let keypoints = (0..<(group.map(\.keypoints.count).min() ?? 0)).map { k in Point2(mean { $0.keypoints[k].x }, mean { $0.keypoints[k].y }) }
            out.append(FaceDetection(x: xmin, y: ymin, width: xmax - xmin, height: ymax - ymin, score: top.score, keypoints: keypoints))
            remaining = rest
        }
        return out
    }
}
