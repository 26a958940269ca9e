import Foundation
import Media

/// dlib's `shape_predictor` (an ensemble of regression trees, Kazemi & Sullivan 2014), loaded from a
/// `.dat` file and run bit-exactly like dlib: float32 shape updates in dlib's order, the 2×2 part of a
/// Umeyama similarity per cascade, pixel intensity `(R+G+B)/3` by integer division, `floor(v+0.5)`
/// rounding. Immutable after loading, so one instance can serve many threads.
public final class ShapePredictor: Sendable {
    /// The landmarks for one face box.
    public struct Result: Equatable, Sendable {
        /// The landmarks before dlib rounds them, in image pixels.
        public var precisePoints: [SIMD2<Double>]
        /// dlib's integer landmarks (`floor(v + 0.5)` of `precisePoints`), what dlib's API returns.
        public var points: [SIMD2<Int>]
    }

    /// One cascade level: its trees (flattened) and its feature pixels.
    struct Cascade: Sendable {
        /// Per tree: first split in `splitIndex1`/`splitIndex2`/`thresholds`, first leaf in `leaves` (in
        /// units of one leaf vector), and the split count (leaves = splits + 1).
        var treeSplitStart: [Int32] = [], treeLeafStart: [Int32] = [], treeSplitCount: [Int32] = []
        var splitIndex1: [Int32] = [], splitIndex2: [Int32] = [], thresholds: [Float] = []
        /// `leafCount × 2P` floats.
        var leaves: [Float] = []
        var anchors: [Int32] = []
        /// `(dx, dy)` per feature pixel.
        var deltas: [Float] = []
    }

    /// Number of landmarks (5 for `shape_predictor_5_face_landmarks.dat`).
    public let partCount: Int
    /// The mean shape, `x0, y0, x1, y1, …` in box-normalised coordinates.
    let initialShape: [Float]
    let cascades: [Cascade]

    /// Loads the model the store holds (`shape_predictor_5_face_landmarks.dat`).
    public convenience init(store: ModelStore = ModelStore()) throws {
        try self.init(contentsOf: try store.url(for: .shapePredictor5))
    }

    /// Loads a shape predictor file. Throws `ModelError.missing` when the file is not there and
    /// `ModelError.malformed` naming the file when it is truncated or inconsistent.
    public init(contentsOf url: URL) throws {
        var r = try DlibReader(contentsOf: url)
        _ = try r.readInt(in: 1...1, "shape_predictor version")
        let initial = try r.readFloatMatrix()
        guard initial.cols == 1, initial.rows >= 2, initial.rows % 2 == 0 else {
            throw r.failure("initial shape is \(initial.rows)x\(initial.cols), expected 2P x 1")
        }
        let shapeLength = initial.rows
        let cascadeCount = try r.readCount(minimumBytes: 2, "cascade list")
        var cascades = [Cascade](repeating: Cascade(), count: cascadeCount)
        for level in 0..<cascadeCount {
            let treeCount = try r.readCount(minimumBytes: 4, "tree list")
            var c = Cascade()
            c.treeSplitStart.reserveCapacity(treeCount)
            for _ in 0..<treeCount {
                c.treeSplitStart.append(Int32(c.thresholds.count))
                c.treeLeafStart.append(Int32(c.leaves.count / shapeLength))
                let splits = try r.readCount(minimumBytes: 8, "split list")
                for _ in 0..<splits {
                    c.splitIndex1.append(Int32(try r.readInt(in: 0...Int(Int32.max), "split feature index")))
                    c.splitIndex2.append(Int32(try r.readInt(in: 0...Int(Int32.max), "split feature index")))
                    let threshold = Float(try r.readFloat())
                    guard threshold.isFinite else { throw r.failure("split threshold is not finite") }
                    c.thresholds.append(threshold)
                }
                let leafCount = try r.readCount(minimumBytes: 4, "leaf list")
                guard leafCount == splits + 1 else {
                    throw r.failure("tree with \(splits) splits has \(leafCount) leaves, expected \(splits + 1)")
                }
                for _ in 0..<leafCount {
                    let size = try r.readFloatMatrix(appendingTo: &c.leaves)
                    guard size.rows == shapeLength, size.cols == 1 else {
                        throw r.failure("leaf is \(size.rows)x\(size.cols), expected \(shapeLength)x1")
                    }
                }
                c.treeSplitCount.append(Int32(splits))
            }
            cascades[level] = c
        }
        let anchorLevels = try r.readCount(minimumBytes: 2, "anchor list")
        guard anchorLevels == cascadeCount else { throw r.failure("\(anchorLevels) anchor lists for \(cascadeCount) cascades") }
        for level in 0..<cascadeCount {
            cascades[level].anchors = try r.readVector(minimumBytes: 2) {
                Int32(try $0.readInt(in: 0...(shapeLength / 2 - 1), "anchor index"))
            }
        }
        let deltaLevels = try r.readCount(minimumBytes: 2, "delta list")
        guard deltaLevels == cascadeCount else { throw r.failure("\(deltaLevels) delta lists for \(cascadeCount) cascades") }
        for level in 0..<cascadeCount {
            let deltas = try r.readVector(minimumBytes: 8) { try $0.readPoint() }
            guard deltas.count == cascades[level].anchors.count else {
                throw r.failure("cascade \(level) has \(deltas.count) feature deltas for \(cascades[level].anchors.count) anchors")
            }
            guard deltas.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { throw r.failure("feature delta is not finite") }
            cascades[level].deltas = deltas.flatMap { [$0.x, $0.y] }
            let features = Int32(deltas.count)
            guard cascades[level].splitIndex1.allSatisfy({ $0 < features }), cascades[level].splitIndex2.allSatisfy({ $0 < features }) else {
                throw r.failure("cascade \(level) has a split on a feature pixel index of \(features) or more")
            }
        }
        try r.expectEnd()
        guard initial.values.allSatisfy(\.isFinite), cascades.allSatisfy({ $0.leaves.allSatisfy(\.isFinite) }) else {
            throw ModelError.malformed(path: url.path, reason: "the initial shape or a leaf value is not finite")
        }
        self.partCount = shapeLength / 2
        self.initialShape = initial.values
        self.cascades = cascades
    }

    /// The landmarks inside `box` (dlib's inclusive `rectangle`: `right` and `bottom` are the last
    /// pixel column and row of the box).
    public func predict(image: RGBImage, box: (left: Int, top: Int, right: Int, bottom: Int)) -> Result {
        let (l, t) = (Double(box.left), Double(box.top))
        let (w, h) = (Double(box.right - box.left), Double(box.bottom - box.top))
        var shape = initialShape
        let reference = (0..<partCount).map { SIMD2(Double(initialShape[2 * $0]), Double(initialShape[2 * $0 + 1])) }
        var features: [Float] = []
        image.pixels.withUnsafeBufferPointer { pixels in
            for cascade in cascades {
                // The 2×2 part of the similarity from the mean shape to the current one, cast to float.
                let current = (0..<partCount).map { SIMD2(Double(shape[2 * $0]), Double(shape[2 * $0 + 1])) }
                let tform = DlibAffineTransform.similarity(from: reference, to: current)
                let (a00, a01, a10, a11) = (Float(tform.m00), Float(tform.m01), Float(tform.m10), Float(tform.m11))
                let featureCount = cascade.anchors.count
                if features.count != featureCount { features = [Float](repeating: 0, count: featureCount) }
                for i in 0..<featureCount {
                    let dx = cascade.deltas[2 * i], dy = cascade.deltas[2 * i + 1]
                    let anchor = Int(cascade.anchors[i])
                    let px: Float = a00 * dx + a01 * dy + shape[2 * anchor]
                    let py: Float = a10 * dx + a11 * dy + shape[2 * anchor + 1]
                    let x = dlibRound(l + Double(px) * w), y = dlibRound(t + Double(py) * h)
                    if x >= 0, x < image.width, y >= 0, y < image.height {
                        let p = (y * image.width + x) * 3
                        features[i] = Float((Int(pixels[p]) + Int(pixels[p + 1]) + Int(pixels[p + 2])) / 3)
                    } else {
                        features[i] = 0
                    }
                }
                shape.withUnsafeMutableBufferPointer { s in
                    cascade.leaves.withUnsafeBufferPointer { leaves in
                        for tree in 0..<cascade.treeSplitStart.count {
                            let base = Int(cascade.treeSplitStart[tree]), splits = Int(cascade.treeSplitCount[tree])
                            var node = 0
                            while node < splits {
                                let k = base + node
                                let difference = features[Int(cascade.splitIndex1[k])] - features[Int(cascade.splitIndex2[k])]
                                node = difference > cascade.thresholds[k] ? 2 * node + 1 : 2 * node + 2
                            }
                            let leaf = leaves.baseAddress! + (Int(cascade.treeLeafStart[tree]) + node - splits) * s.count
                            for j in 0..<s.count { s[j] += leaf[j] }
                        }
                    }
                }
            }
        }
        var precise: [SIMD2<Double>] = [], points: [SIMD2<Int>] = []
        for i in 0..<partCount {
            let p = SIMD2(l + Double(shape[2 * i]) * w, t + Double(shape[2 * i + 1]) * h)
            precise.append(p)
            points.append(SIMD2(dlibRound(p.x), dlibRound(p.y)))
        }
        return Result(precisePoints: precise, points: points)
    }
}
