import FacetCore
import NN
import Tensor
import XCTest

/// Losses against their naive Double definitions and finite differences; Adam against Keras' formulas;
/// Glorot initialisation.
final class NNLossAndOptimizerTests: XCTestCase {
    func testLossesMatchNaiveValuesAndFiniteDifferenceGradients() throws {
        var rng = SeededRandom(seed: 21)
        for loss in [Loss.mae, .mse, .dssim(window: 3, sigma: 1.5), .dssim(window: 5, sigma: 1.0)] {
            for weighted in [false, true] {
                let shape = [rng.int(1...2), rng.int(5...8), rng.int(5...8), rng.int(1...3)]
                let p = rng.tensor(shape, 0, 1), t = rng.tensor(shape, 0, 1)
                let weights = weighted ? rng.tensor([shape[0], shape[1], shape[2], 1], 0, 2) : nil
                let wd = weights?.doubles
                let (value, gradient) = try loss.evaluate(prediction: p, target: t, weights: weights)
                let label = "\(loss) weighted \(weighted)"
                let reference = NNReference.loss(loss, prediction: p.doubles, target: t.doubles, weights: wd, shape: shape)
                XCTAssertEqual(Double(value), reference, accuracy: 1e-6, label)
                XCTAssertEqual(gradient.shape, shape)
                GradientCheck.compare(gradient.data, at: p.doubles, samples: 40, rng: &rng, tolerance: 1e-4, label: label) {
                    NNReference.loss(loss, prediction: $0, target: t.doubles, weights: wd, shape: shape)
                }
            }
        }
    }

    func testStandardDSSIMIsZeroForIdenticalImagesAndRejectsSmallImages() throws {
        var rng = SeededRandom(seed: 22)
        let x = rng.tensor([1, 16, 16, 3], 0, 1)
        let (value, gradient) = try Loss.standardDSSIM.evaluate(prediction: x, target: x)
        XCTAssertEqual(value, 0, accuracy: 1e-7)
        XCTAssertLessThan(gradient.data.map(abs).max() ?? 1, 1e-6)
        XCTAssertThrowsError(try Loss.standardDSSIM.evaluate(prediction: Tensor(zeros: [1, 8, 8, 3]), target: Tensor(zeros: [1, 8, 8, 3])))
        XCTAssertThrowsError(try Loss.mae.evaluate(prediction: x, target: Tensor(zeros: [1, 16, 16, 1])))
    }

    func testRegionMultipliersWeightEyesAndMouth() throws {
        let shape = [1, 2, 2, 1]
        let face = Tensor(shape: shape, data: [1, 1, 1, 0])
        let eyes = Tensor(shape: shape, data: [1, 0, 0, 1])
        let mouth = Tensor(shape: shape, data: [0, 1, 0, 0])
        let w = try regionWeights(face: face, eyes: eyes, eyeMultiplier: 3, mouth: mouth, mouthMultiplier: 2)
        XCTAssertEqual(w.data, [3, 2, 1, 0])
        // A weighted MAE counts the eye pixel three times, the mouth twice, ignores the masked-out pixel.
        let p = Tensor(shape: [1, 2, 2, 1], data: [1, 1, 1, 5]), t = Tensor(zeros: [1, 2, 2, 1])
        XCTAssertEqual(try Loss.mae.evaluate(prediction: p, target: t, weights: w).value, 1, accuracy: 1e-7)
        let p2 = Tensor(shape: [1, 2, 2, 1], data: [1, 0, 0, 0])
        XCTAssertEqual(try Loss.mae.evaluate(prediction: p2, target: t, weights: w).value, 0.5, accuracy: 1e-7)
        XCTAssertThrowsError(try regionWeights(face: face, eyes: Tensor(zeros: [1, 3, 2, 1]), mouth: nil))
    }

    /// Three Adam steps against Keras 3's update written out in Double, with and without clipping.
    func testAdamFollowsKerasUpdate() throws {
        var rng = SeededRandom(seed: 23)
        for (clipValue, clipNorm) in [(Float?.none, Float?.none), (0.3, nil), (nil, 0.5)] {
            let p = Parameter(name: "w", value: rng.tensor([19]))
            let config = Adam.Configuration(learningRate: 0.01, beta1: 0.5, beta2: 0.999, clipValue: clipValue, clipNorm: clipNorm)
            let adam = Adam(label: "A", parameters: [p], configuration: config)
            var w = p.value.doubles, m = [Double](repeating: 0, count: 19), v = m
            for step in 1...3 {
                let g = rng.tensor([19])
                p.gradient = g
                try adam.step()
                var gd = g.doubles
                if let c = clipValue { gd = gd.map { min(max($0, -Double(c)), Double(c)) } }
                if let c = clipNorm {
                    let norm = gd.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    if norm > Double(c) { gd = gd.map { $0 * Double(c) / norm } }
                }
                let alpha = 0.01 * (1 - pow(0.999, Double(step))).squareRoot() / (1 - pow(0.5, Double(step)))
                for i in 0..<19 {
                    m[i] += (gd[i] - m[i]) * 0.5
                    v[i] += (gd[i] * gd[i] - v[i]) * 0.001
                    w[i] -= alpha * m[i] / (v[i].squareRoot() + 1e-7)
                }
            }
            XCTAssertEqual(adam.iterations, 3)
            XCTAssertLessThan(GradientCheck.maxDifference(p.value.data, w), 1e-5, "clip \(String(describing: clipValue)) \(String(describing: clipNorm))")
            XCTAssertLessThan(GradientCheck.maxDifference(adam.firstMoments[0].data, m), 1e-5)
        }
    }

    func testAllocatorAcceptsTheTrainingSettings() {
        XCTAssertTrue(TrainingMemory.retainFreedMemory())
    }

    func testGlorotUniformIsSeededAndWithinKerasLimit() {
        var a = SeededRandom(seed: 5), b = SeededRandom(seed: 5)
        let x = Initializers.glorotUniform(shape: [5, 5, 3, 8], fanIn: 75, fanOut: 200, rng: &a)
        let y = Initializers.glorotUniform(shape: [5, 5, 3, 8], fanIn: 75, fanOut: 200, rng: &b)
        XCTAssertEqual(x, y)
        let limit = Float((6.0 / 275.0).squareRoot())
        XCTAssertLessThanOrEqual(x.data.map(abs).max() ?? 0, limit)
        XCTAssertGreaterThan(x.data.map(abs).max() ?? 0, 0.9 * limit)
        let mean = x.data.reduce(0, +) / Float(x.count)
        XCTAssertLessThan(abs(mean), 0.1 * limit)
    }
}
