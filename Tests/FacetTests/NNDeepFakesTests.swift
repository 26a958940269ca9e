import FacetCore
import NN
import Tensor
import XCTest

/// The DeepFakes autoencoder against Keras (golden forward and one Adam step, at 1/8 width), the
/// full-width shapes, and seeded, loss-lowering training.
final class NNDeepFakesTests: XCTestCase {
    private static let fixtureURL = TestPaths.fixture("nn/deepfakes_w8.safetensors")

    /// The 1/8-width model with the fixture's seed and biases.
    private func fixtureModel() throws -> (DeepFakesAutoencoder, SafeTensors.Contents) {
        let fixture = try SafeTensors.read(Self.fixtureURL)
        let model = try DeepFakesAutoencoder(configuration: .init(inputSize: 64, widthDivisor: 8, seed: 7))
        for p in model.allParameters where p.name.hasSuffix(".bias") {
            let value = try XCTUnwrap(fixture[p.name], "fixture lacks \(p.name)")
            XCTAssertEqual(value.shape, p.value.shape, p.name)
            p.value = value
        }
        return (model, fixture)
    }

    func testForwardMatchesKerasAtOneEighthWidth() throws {
        let (model, fixture) = try fixtureModel()
        // The seeded Glorot streams agree bit for bit with the generator's.
        for name in ["encoder.conv1.kernel", "decoderB.output.kernel"] {
            let ours = try XCTUnwrap(model.allParameters.first { $0.name == name }).value
            XCTAssertEqual(ours, try XCTUnwrap(fixture[name]), name)
        }
        let input = try XCTUnwrap(fixture["input"])
        for (side, key) in [(DeepFakesAutoencoder.Side.a, "outputA"), (.b, "outputB")] {
            let y = try model.forward(input, side: side, training: false)
            let keras = try XCTUnwrap(fixture[key])
            XCTAssertEqual(y.shape, keras.shape)
            XCTAssertLessThan(y.maxAbsDifference(keras), 1e-4, key)
        }
    }

    /// One `train_on_batch` of side A in Keras (Adam 1e-3, β1 0.5, β2 0.999, MAE): same loss, and the same
    /// outputs of both sides afterwards (the shared encoder moved).
    func testOneAdamStepMatchesKeras() throws {
        let (model, fixture) = try fixtureModel()
        let trainer = DeepFakesTrainer(model: model, optimizer: .init(learningRate: 1e-3, beta1: 0.5, beta2: 0.999))
        let input = try XCTUnwrap(fixture["input"]), target = try XCTUnwrap(fixture["target"])
        let loss = try trainer.step(.a, input: input, target: target)
        XCTAssertEqual(loss, try XCTUnwrap(fixture["stepLossA"]).data[0], accuracy: 1e-5)
        let before = try XCTUnwrap(fixture["outputA"])
        for (side, key) in [(DeepFakesAutoencoder.Side.a, "afterStepA"), (.b, "afterStepB")] {
            let y = try model.forward(input, side: side, training: false)
            let keras = try XCTUnwrap(fixture[key])
            XCTAssertLessThan(y.maxAbsDifference(keras), 2e-4, key)
        }
        XCTAssertGreaterThan(try XCTUnwrap(fixture["afterStepA"]).maxAbsDifference(before), 2e-3, "the step must move the output")
    }

    /// The original (full-width) model: every layer's shape and the parameter counts Keras reports.
    func testFullWidthShapesAndParameterCounts() throws {
        let model = try DeepFakesAutoencoder(configuration: .init())
        XCTAssertEqual(try model.encoder.outputShape(for: [1, 64, 64, 3]), [1, 8, 8, 512])
        XCTAssertEqual(try model.decoderA.outputShape(for: [1, 8, 8, 512]), [1, 64, 64, 3])
        var shape = [1, 64, 64, 3]
        var shapes: [[Int]] = []
        for layer in model.encoder.layers { shape = try layer.outputShape(for: shape); shapes.append(shape) }
        XCTAssertEqual(shapes, [[1, 32, 32, 128], [1, 16, 16, 256], [1, 8, 8, 512], [1, 4, 4, 1024], [1, 16384],
                                [1, 1024], [1, 16384], [1, 4, 4, 1024], [1, 4, 4, 2048], [1, 8, 8, 512]])
        XCTAssertEqual(model.encoder.parameterCount, 69_662_976)
        XCTAssertEqual(model.decoderA.parameterCount, 6_199_747)
        XCTAssertEqual(model.decoderB.parameterCount, 6_199_747)
        XCTAssertEqual(model.forwardMultiplyAdds, 1_900_150_784)
        XCTAssertThrowsError(try DeepFakesAutoencoder(configuration: .init(inputSize: 60)))
        XCTAssertThrowsError(try DeepFakesAutoencoder(configuration: .init(widthDivisor: 3)))
        XCTAssertThrowsError(try model.forward(Tensor(zeros: [1, 32, 32, 3]), side: .a, training: false))
    }

    /// A small model on random data: the loss falls on average, and two runs from one seed are bit-identical.
    func testSeededTrainingIsBitIdenticalAndLowersTheLoss() throws {
        func run() throws -> (losses: [Float], weights: [Tensor]) {
            let model = try DeepFakesAutoencoder(configuration: .init(inputSize: 16, widthDivisor: 16, seed: 3))
            let trainer = DeepFakesTrainer(model: model, optimizer: .init(learningRate: 1e-3, beta1: 0.5, beta2: 0.999))
            var rng = SeededRandom(seed: 99)
            let a = rng.tensor([2, 16, 16, 3], 0, 1), b = rng.tensor([2, 16, 16, 3], 0, 1)
            var losses: [Float] = []
            for _ in 0..<30 {
                let (la, lb) = try trainer.iterate(inputA: a, targetA: a, inputB: b, targetB: b)
                losses.append(la + lb)
            }
            return (losses, model.allParameters.map(\.value))
        }
        let first = try run(), second = try run()
        XCTAssertEqual(first.losses, second.losses)
        XCTAssertTrue(first.weights == second.weights, "weights differ between two seeded runs")
        let windows = stride(from: 0, to: 30, by: 10).map { first.losses[$0..<($0 + 10)].reduce(0, +) / 10 }
        for i in 1..<windows.count { XCTAssertLessThan(windows[i], windows[i - 1], "10-iteration mean losses \(windows)") }
    }
}
