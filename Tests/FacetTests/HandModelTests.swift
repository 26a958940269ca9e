import FacetCore
import Foundation
import Media
import Models
import XCTest

/// MediaPipe's hand models on Facet's TFLite runtime: the MEAN operator against a naive sum, both networks
/// against LiteRT's outputs on a real image with a hand (Tests/Fixtures/hands, made by scripts/hand-goldens.py),
/// and the whole palm → region → landmarks pipeline against MediaPipe's own Hands solution on that image.
final class HandModelTests: XCTestCase {
    static let folder = TestPaths.fixture("hands")

    static func golden() throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("hand_golden.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func image() throws -> RGBImage { try ImageDecoder.decode(fileAt: folder.appendingPathComponent("stage_frame140.png")) }

    /// An n×n pixel crop at (x, y) as a [0, 1] tensor (no resampling: the script builds the same one).
    static func crop(_ image: RGBImage, x: Int, y: Int, size n: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * n * 3)
        for v in 0..<n { for u in 0..<n { for c in 0..<3 {
            out[(v * n + u) * 3 + c] = Float(image.pixels[((y + v) * image.width + x + u) * 3 + c]) / 255
        } } }
        return out
    }

    static func synthetic(_ n: Int) -> [Float] { (0..<(n * n * 3)).map { Float(sin(Double($0) * 0.001) * 0.9) } }

    static func maxAbs(_ a: [Float], _ b: [Double]) -> Double {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
    }

    func checkSummary(_ values: [Float], _ golden: Any?, _ label: String) {
        guard let g = golden as? [String: Any], let first8 = g["first8"] as? [Double], let sum = g["sum"] as? Double,
              let absSum = g["abs_sum"] as? Double else { return XCTFail("\(label): golden entry missing") }
        // The synthetic input drives the palm network to values in the thousands: 1e-3 absolute or 2e-5 relative.
        for (v, g) in zip(values.prefix(8), first8) { XCTAssertLessThan(abs(Double(v) - g), max(1e-3, 2e-5 * abs(g)), label) }
        let total = values.reduce(0.0) { $0 + Double($1) }, absTotal = values.reduce(0.0) { $0 + abs(Double($1)) }
        XCTAssertEqual(total, sum, accuracy: max(absSum * 1e-5, 1e-3), label)
        XCTAssertEqual(absTotal, absSum, accuracy: max(absSum * 1e-5, 1e-3), label)
    }

    /// MEAN over every subset of axes of seeded random 4-D tensors equals a sum over the index space done the slow way.
    func testMeanMatchesNaiveSum() {
        var rng = SeededRandom(seed: 13)
        for trial in 0..<40 {
            let shape = (0..<4).map { _ in 1 + Int(rng.next() % 5) }
            let count = shape.reduce(1, *)
            let x = (0..<count).map { _ in rng.nextUnitFloat() * 2 - 1 }
            let mask = 1 + Int(rng.next() % 15)
            let axes = Set((0..<4).filter { mask & (1 << $0) != 0 })
            // Naive: for every output index (kept axes), loop over every input index and add those that match.
            let kept = (0..<4).filter { !axes.contains($0) }
            let outCount = kept.reduce(1) { $0 * shape[$1] }
            var expected = [Double](repeating: 0, count: outCount), n = [Double](repeating: 0, count: outCount)
            for i0 in 0..<shape[0] { for i1 in 0..<shape[1] { for i2 in 0..<shape[2] { for i3 in 0..<shape[3] {
                let idx = [i0, i1, i2, i3]
                let o: Int = kept.reduce(0) { acc, d in acc * shape[d] + idx[d] }
                let flat: Int = ((i0 * shape[1] + i1) * shape[2] + i2) * shape[3] + i3
                expected[o] += Double(x[flat])
                n[o] += 1
            } } } }
            var got = [Float](repeating: .nan, count: outCount)
            x.withUnsafeBufferPointer { xp in got.withUnsafeMutableBufferPointer { gp in
                guard let xb = xp.baseAddress, let gb = gp.baseAddress else { return }
                TFLiteReduce.mean(xb, shape: shape, axes: axes, output: gb)
            } }
            for k in 0..<outCount {
                XCTAssertEqual(Double(got[k]), expected[k] / n[k], accuracy: 1e-6, "trial \(trial) shape \(shape) axes \(axes.sorted()) element \(k)")
            }
        }
        XCTAssertEqual(TFLiteReduce.resolvedAxes([-1, 1, 3], rank: 4), [1, 3])
        XCTAssertNil(TFLiteReduce.resolvedAxes([4], rank: 4))
    }

    func testPalmNetworkMatchesLiteRT() throws {
        let golden = try Self.golden()
        let palm = try XCTUnwrap(golden["palm"] as? [String: Any])
        let at = try XCTUnwrap(golden["palm_crop"] as? [Int])
        let detector = try HandDetector()
        XCTAssertEqual(detector.anchors.count, 2016)
        let out = try detector.rawOutputs(input: Self.crop(try Self.image(), x: at[0], y: at[1], size: 192))
        XCTAssertLessThan(Self.maxAbs(out.classificators, try XCTUnwrap(palm["scores"] as? [Double])), 2e-3, "score logits")
        checkSummary(out.regressors, palm["regressors"], "palm regressors")
        for entry in try XCTUnwrap(palm["top"] as? [[String: Any]]) {
            let i = try XCTUnwrap(entry["anchor"] as? Int)
            XCTAssertLessThan(Self.maxAbs(Array(out.regressors[(18 * i)..<(18 * i + 18)]), try XCTUnwrap(entry["regressors"] as? [Double])),
                              5e-3, "anchor \(i)'s box and keypoints (input pixels)")
        }
        let synthetic = try detector.rawOutputs(input: Self.synthetic(192))
        let syn = golden["palm_synthetic"] as? [String: Any]
        checkSummary(synthetic.classificators, syn?["scores"], "synthetic palm scores")
        checkSummary(synthetic.regressors, syn?["regressors"], "synthetic palm regressors")
    }

    func testHandLandmarkNetworkMatchesLiteRT() throws {
        let golden = try Self.golden()
        let lm = try XCTUnwrap(golden["landmark"] as? [String: Any])
        let at = try XCTUnwrap(golden["landmark_crop"] as? [Int])
        let model = try HandLandmarker()
        let out = try model.rawOutputs(input: Self.crop(try Self.image(), x: at[0], y: at[1], size: 224))
        XCTAssertLessThan(Self.maxAbs(out.landmarks, try XCTUnwrap(lm["Identity"] as? [Double])), 5e-3, "landmarks (crop pixels)")
        XCTAssertEqual(Double(out.presence), try XCTUnwrap((lm["Identity_1"] as? [Double])?.first), accuracy: 1e-4)
        XCTAssertEqual(Double(out.handedness), try XCTUnwrap((lm["Identity_2"] as? [Double])?.first), accuracy: 1e-4)
        XCTAssertLessThan(Self.maxAbs(out.world, try XCTUnwrap(lm["Identity_3"] as? [Double])), 1e-4, "world landmarks (metres)")
        let synthetic = try model.rawOutputs(input: Self.synthetic(224))
        let syn = golden["landmark_synthetic"] as? [String: Any]
        checkSummary(synthetic.landmarks, syn?["Identity"], "synthetic landmarks")
        checkSummary(synthetic.world, syn?["Identity_3"], "synthetic world landmarks")
    }

    /// Image in, hands out: the same two hands MediaPipe's Hands solution finds, its 21 points within 3 px of
    /// MediaPipe's on average and 10 px at worst (a 256 px image with hands about 100 px long; MediaPipe resamples
    /// the palm and hand crops with OpenCV, Facet with its own bilinear sampler, and the landmark model is
    /// sensitive to its crop: the networks themselves match LiteRT within 5e-3 px above).
    func testHandsMatchMediaPipeOnARealImage() throws {
        let golden = try XCTUnwrap(try Self.golden()["mediapipe_hands"] as? [[String: Any]])
        let hands = try HandFinder().hands(in: try Self.image())
        XCTAssertEqual(hands.count, golden.count, "MediaPipe finds \(golden.count) hands")
        for reference in golden {
            let points = try XCTUnwrap(reference["points"] as? [[Double]])
            let best = hands.map { hand in zip(hand.points, points).map { hypot($0.x - $1[0], $0.y - $1[1]) } }
                .min { ($0.max() ?? .infinity) < ($1.max() ?? .infinity) }
            let distances = try XCTUnwrap(best)
            let worst = distances.max() ?? .infinity, mean = distances.reduce(0, +) / Double(max(distances.count, 1))
            XCTAssertLessThan(mean, 3, "the \(reference["label"] ?? "") hand's points: mean distance to MediaPipe's \(mean) px")
            XCTAssertLessThan(worst, 10, "the \(reference["label"] ?? "") hand's points: largest distance to MediaPipe's \(worst) px (mean \(mean))")
        }
    }
}
