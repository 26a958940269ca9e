import FacetCore
import NN
import Tensor
@testable import Training
import XCTest

/// The GAN and cycle pieces: the PatchGAN discriminator and the least-squares loss against naive Double
/// forwards and central finite differences, instance noise, parameter-sharing layer copies, and the composed
/// cycle loss (two passes through the encoder) checked by finite differences on a tiny autoencoder.
final class NNAdversarialTests: XCTestCase {
    /// A naive Double forward of a `Sequential` of Conv2D, Dense, PixelShuffle, Reshape and activation layers,
    /// reading each parameter's values from `values` (by name) so the finite differences can move any of them.
    static func reference(_ network: Sequential, _ x: [Double], shape: [Int], _ values: [String: [Double]]) throws -> (values: [Double], shape: [Int]) {
        var (y, s) = (x, shape)
        for layer in network.layers {
            switch layer {
            case let conv as Conv2D:
                let out = NNReference.conv2d(y, shape: s, kernel: values[conv.kernel.name] ?? [], bias: values[conv.bias.name] ?? [],
                                             k: conv.kernelSize, stride: conv.stride, outChannels: conv.outChannels)
                (y, s) = (NNReference.activation(out.values, conv.activation), out.shape)
            case let dense as Dense:
                y = NNReference.activation(NNReference.dense(y, batch: s[0], kernel: values[dense.kernel.name] ?? [], bias: values[dense.bias.name] ?? [],
                                                             inputs: dense.inputs, outputs: dense.outputs), dense.activation)
                s = [s[0], dense.outputs]
            case let shuffle as PixelShuffle:
                let out = try shuffle.outputShape(for: s)
                (y, s) = (NNReference.pixelShuffle(y, shape: s), out)
            case let reshape as Reshape:
                s = try reshape.outputShape(for: s)
            case let activation as ActivationLayer:
                y = NNReference.activation(y, activation.activation)
            default:
                throw NNError.invalidConfiguration("no reference for \(layer.name)")
            }
        }
        return (y, s)
    }

    static func values(_ parameters: [Parameter]) -> [String: [Double]] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value.doubles) })
    }

    func testPatchDiscriminatorSizeAndCost() throws {
        let d = try PatchDiscriminator(name: "discriminatorA", configuration: .init(inputSize: 64, width: 32, seed: 0))
        XCTAssertEqual(d.parameterCount, 166_753)
        XCTAssertEqual(d.forwardMultiplyAdds, 18_423_808)
        XCTAssertEqual(try d.network.outputShape(for: [2, 64, 64, 3]), [2, 8, 8, 1])
        XCTAssertEqual(d.parameters.map(\.name).first, "discriminatorA.conv1.kernel")
        XCTAssertThrowsError(try PatchDiscriminator(name: "d", configuration: .init(inputSize: 60, width: 32, seed: 0)))
        // Seeded: the same seed draws the same weights, another seed others.
        let again = try PatchDiscriminator(name: "discriminatorA", configuration: .init(inputSize: 64, width: 32, seed: 0))
        let other = try PatchDiscriminator(name: "discriminatorA", configuration: .init(inputSize: 64, width: 32, seed: 1))
        XCTAssertEqual(again.parameters.map(\.value), d.parameters.map(\.value))
        XCTAssertNotEqual(other.parameters.map(\.value), d.parameters.map(\.value))
    }

    /// Forward equals the naive Double network; the least-squares loss's gradients with respect to the input
    /// and to every parameter tensor equal central differences of the Double loss.
    func testPatchDiscriminatorGradientsMatchFiniteDifferences() throws {
        var rng = SeededRandom(seed: 40)
        for (size, width, target) in [(16, 2, Float(1)), (8, 3, Float(0)), (24, 2, Float(1))] {
            let d = try PatchDiscriminator(name: "d", configuration: .init(inputSize: size, width: width, seed: UInt64(size)),
                                           workspace: Workspace(blockFloats: size == 8 ? 64 : 16 << 20))
            for p in d.parameters where p.name.hasSuffix("bias") { p.value = rng.tensor(p.value.shape, -0.3, 0.3) }
            let x = rng.tensor([2, size, size, 3], 0, 1)
            let logits = try d.forward(x, training: true)
            XCTAssertEqual(logits.shape, [2, size / 8, size / 8, 1])
            let base = Self.values(d.parameters)
            XCTAssertLessThan(GradientCheck.maxDifference(logits.data, try Self.reference(d.network, x.doubles, shape: x.shape, base).values), 1e-5)
            let (value, gradient) = LeastSquaresGAN.loss(logits, target: target)
            func loss(_ xs: [Double], _ v: [String: [Double]]) -> Double {
                let y = (try? Self.reference(d.network, xs, shape: x.shape, v).values) ?? []
                return y.reduce(0) { $0 + ($1 - Double(target)) * ($1 - Double(target)) } / Double(max(y.count, 1))
            }
            XCTAssertEqual(Double(value), loss(x.doubles, base), accuracy: 1e-5)
            let dx = try d.backward(gradient, inputGradient: true)
            let label = "discriminator \(size) px width \(width) target \(target)"
            GradientCheck.compare(dx.data, at: x.doubles, rng: &rng, label: label + " dx") { loss($0, base) }
            for p in d.parameters {
                GradientCheck.compare(p.gradient.data, at: base[p.name] ?? [], rng: &rng, label: label + " " + p.name) { moved in
                    var v = base
                    v[p.name] = moved
                    return loss(x.doubles, v)
                }
            }
            // The discriminator's own step skips the input gradient.
            _ = try d.forward(x, training: true)
            XCTAssertEqual(try d.backward(gradient, inputGradient: false).shape, [0])
        }
    }

    func testLeastSquaresLossAndInstanceNoise() throws {
        let logits = Tensor(shape: [1, 2, 2, 1], data: [1, 0, 0.5, 2])
        let (real, gReal) = LeastSquaresGAN.loss(logits, target: 1)
        XCTAssertEqual(real, (0 + 1 + 0.25 + 1) / 4, accuracy: 1e-7)
        XCTAssertEqual(gReal.data, [0, -0.5, -0.25, 0.5])
        XCTAssertEqual(LeastSquaresGAN.loss(logits, target: 0).value, (1 + 0 + 0.25 + 4) / 4, accuracy: 1e-7)
        // σ falls linearly to 0 and stays there.
        XCTAssertEqual(InstanceNoise.sigma(initial: 0.1, fadeIterations: 100, iteration: 0), 0.1)
        XCTAssertEqual(InstanceNoise.sigma(initial: 0.1, fadeIterations: 100, iteration: 50), 0.05, accuracy: 1e-7)
        XCTAssertEqual(InstanceNoise.sigma(initial: 0.1, fadeIterations: 100, iteration: 100), 0)
        XCTAssertEqual(InstanceNoise.sigma(initial: 0.1, fadeIterations: 0, iteration: 0), 0)
        // Zero-mean, standard deviation σ, the same for the same seed.
        let x = Tensor(zeros: [4, 32, 32, 3])
        let noisy = InstanceNoise.add(to: x, sigma: 0.1, seed: 7)
        XCTAssertEqual(noisy, InstanceNoise.add(to: x, sigma: 0.1, seed: 7))
        XCTAssertNotEqual(noisy, InstanceNoise.add(to: x, sigma: 0.1, seed: 8))
        let mean = noisy.data.reduce(0.0) { $0 + Double($1) } / Double(noisy.count)
        let sd = (noisy.data.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(noisy.count) - mean * mean).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.003)
        XCTAssertEqual(sd, 0.1, accuracy: 0.003)
        XCTAssertTrue(noisy.data.allSatisfy { Double(abs($0)) <= 0.1 * 3.0.squareRoot() + 1e-6 })
        XCTAssertEqual(InstanceNoise.add(to: x, sigma: 0, seed: 7), x)
    }

    /// A parameter-sharing copy computes the same outputs and adds its gradients into the same tensors, while
    /// both copies' forward caches live side by side.
    func testSharingCopiesAccumulateIntoTheSameGradients() throws {
        var rng = SeededRandom(seed: 41)
        let model = try DeepFakesAutoencoder(configuration: .init(inputSize: 16, widthDivisor: 64, seed: 3))
        let twin = try model.encoder.sharingParameters()
        XCTAssertEqual(twin.parameters.map(\.name), model.encoder.parameters.map(\.name))
        XCTAssertTrue(zip(twin.parameters, model.encoder.parameters).allSatisfy { $0 === $1 })
        let (x1, x2) = (rng.tensor([2, 16, 16, 3], 0, 1), rng.tensor([2, 16, 16, 3], 0, 1))
        let expected = try model.encoder.forward(x2, training: false)
        let y1 = try model.encoder.forward(x1, training: true)
        XCTAssertEqual(try twin.forward(x2, training: true), expected)
        let r = rng.tensor(y1.shape)
        _ = try twin.backward(r)
        _ = try model.encoder.backward(r)
        let together = model.encoder.parameters.map(\.gradient)
        model.encoder.zeroGradients()
        _ = try model.encoder.forward(x1, training: true)
        _ = try model.encoder.backward(r)
        let first = model.encoder.parameters.map(\.gradient)
        model.encoder.zeroGradients()
        _ = try model.encoder.forward(x2, training: true)
        _ = try model.encoder.backward(r)
        for (k, p) in model.encoder.parameters.enumerated() {
            for i in 0..<p.gradient.count {
                XCTAssertEqual(together[k].data[i], first[k].data[i] + p.gradient.data[i], accuracy: 1e-5, p.name)
            }
        }
    }

    /// The cycle term of side A's step (B's faces → encoder → decoder A → encoder → decoder B, against B's
    /// targets, MSE) on a tiny autoencoder: its value equals the naive Double composition, and its gradients
    /// — accumulated through both encoder passes into the encoder, decoder A and decoder B — equal central
    /// differences of that composition.
    func testCycleLossGradientsMatchFiniteDifferencesThroughBothPasses() throws {
        var rng = SeededRandom(seed: 42)
        for (side, maskHead) in [(DeepFakesAutoencoder.Side.a, false), (.b, true)] {
            let model = try DeepFakesAutoencoder(configuration: .init(inputSize: 16, widthDivisor: 64, seed: 5, maskHead: maskHead))
            for p in model.allParameters where p.name.hasSuffix("bias") { p.value = rng.tensor(p.value.shape, -0.2, 0.2) }
            let trainer = SwapTrainer(model: model, learningRate: 1e-3, loss: .mse)
            try trainer.configureAdversarial(AdversarialSettings(ganWeight: 0, cycleWeight: 1), seed: 0)
            let terms = try XCTUnwrap(trainer.adversarial)
            let other = TrainingBatch(input: rng.tensor([2, 16, 16, 3], 0, 1), target: rng.tensor([2, 16, 16, 3], 0, 1), weights: nil, mask: nil)
            for p in model.allParameters { p.zeroGradient() }
            let value = try XCTUnwrap(try terms.cycleTerm(model: model, side: side, other: other, loss: .mse))

            let back: DeepFakesAutoencoder.Side = side == .a ? .b : .a
            func rgb(_ y: (values: [Double], shape: [Int])) -> ([Double], [Int]) {
                guard y.shape[3] == 4 else { return y }
                return (stride(from: 0, to: y.values.count, by: 4).flatMap { y.values[$0..<($0 + 3)] }, Array(y.shape.dropLast()) + [3])
            }
            func cycle(_ v: [String: [Double]]) -> Double {
                guard let z1 = try? Self.reference(model.encoder, other.input.doubles, shape: other.input.shape, v),
                      let s = try? Self.reference(model.decoder(side), z1.values, shape: z1.shape, v) else { return .nan }
                let swap = rgb(s)
                guard let z2 = try? Self.reference(model.encoder, swap.0, shape: swap.1, v),
                      let r = try? Self.reference(model.decoder(back), z2.values, shape: z2.shape, v) else { return .nan }
                let returned = rgb(r)
                return NNReference.loss(.mse, prediction: returned.0, target: other.target.doubles, weights: nil, shape: returned.1)
            }
            let base = Self.values(model.allParameters)
            XCTAssertEqual(Double(value), cycle(base), accuracy: 1e-5)
            // Every parameter tensor of the encoder (both passes), the swap's decoder and the way back.
            for p in model.allParameters {
                GradientCheck.compare(p.gradient.data, at: base[p.name] ?? [], samples: 8, rng: &rng, label: "cycle \(side) \(p.name)") { moved in
                    var v = base
                    v[p.name] = moved
                    return cycle(v)
                }
            }
        }
    }
}
