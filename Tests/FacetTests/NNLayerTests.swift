import FacetCore
import NN
import Tensor
import XCTest

/// Every layer: fast forward equals the naive Double twin, and backward equals central finite differences
/// in Double (inputs and parameters), on random shapes.
final class NNLayerTests: XCTestCase {
    private let activations: [Activation] = [.linear, .leakyReLU(alpha: 0.1), .sigmoid, .relu]

    func testConv2DForwardMatchesNaiveAndGradientsMatchFiniteDifferences() throws {
        var rng = SeededRandom(seed: 11)
        for trial in 0..<12 {
            let k = [1, 3, 5, 3][trial % 4], stride = trial >= 8 ? 1 : 1 + (trial / 2) % 2
            let (n, h, w) = (rng.int(1...2), rng.int(3...7), rng.int(3...7))
            // Trials 8+ have fewer output than input channels at stride 1: the input-side path.
            let (cin, cout) = trial >= 8 ? (rng.int(5...8), rng.int(1...3)) : (rng.int(1...4), rng.int(1...5))
            let activation = activations[trial % activations.count]
            // Tiny workspace on odd trials: one image per im2col block, exercising the blocked path.
            let workspace = trial % 2 == 1 ? Workspace(blockFloats: 16) : Workspace()
            let conv = Conv2D(name: "conv", inChannels: cin, outChannels: cout, kernelSize: k, stride: stride,
                              activation: activation, workspace: workspace, rng: &rng)
            conv.bias.value = rng.tensor([cout], -0.5, 0.5)
            let x = rng.tensor([n, h, w, cin])
            let label = "conv k\(k) s\(stride) \(activation) x\(x.shape)→\(cout)"
            let y = try conv.forward(x, training: true)

            func reference(_ xs: [Double], _ ks: [Double], _ bs: [Double]) -> [Double] {
                NNReference.activation(NNReference.conv2d(xs, shape: x.shape, kernel: ks, bias: bs, k: k, stride: stride,
                                                          outChannels: cout).values, activation)
            }
            let (xd, kd, bd) = (x.doubles, conv.kernel.value.doubles, conv.bias.value.doubles)
            XCTAssertEqual(y.shape, NNReference.conv2d(xd, shape: x.shape, kernel: kd, bias: bd, k: k, stride: stride, outChannels: cout).shape)
            XCTAssertLessThan(GradientCheck.maxDifference(y.data, reference(xd, kd, bd)), 1e-5, label)

            let r = rng.tensor(y.shape)
            let dx = try conv.backward(r)
            GradientCheck.compare(dx.data, at: xd, rng: &rng, label: label + " dx") { GradientCheck.project(reference($0, kd, bd), r.data) }
            GradientCheck.compare(conv.kernel.gradient.data, at: kd, rng: &rng, label: label + " dW") {
                GradientCheck.project(reference(xd, $0, bd), r.data)
            }
            GradientCheck.compare(conv.bias.gradient.data, at: bd, rng: &rng, label: label + " db") {
                GradientCheck.project(reference(xd, kd, $0), r.data)
            }
        }
    }

    /// Naive-vs-BLAS for the forward and backward kernels (im2col, the products, col2im, bias sums, and
    /// the input-side path's tap gathering) on larger random convolutions, blocked and unblocked.
    func testConv2DMatchesNaiveForwardAndAdjointOnLargerShapes() throws {
        var rng = SeededRandom(seed: 12)
        // (k, stride, workspace floats, input-side path: fewer output than input channels, stride 1)
        for (k, stride, blockFloats, narrow) in [(5, 2, 1 << 20, false), (3, 1, 500, false), (5, 2, 3000, false), (3, 2, 1 << 20, false),
                                                 (5, 1, 1 << 20, true), (5, 1, 2000, true), (3, 1, 1 << 20, true)] {
            let (n, h, w) = (3, rng.int(8...12), rng.int(8...12))
            let (cin, cout) = narrow ? (rng.int(10...20), rng.int(1...4)) : (rng.int(3...9), rng.int(4...17))
            let conv = Conv2D(name: "conv", inChannels: cin, outChannels: cout, kernelSize: k, stride: stride,
                              workspace: Workspace(blockFloats: blockFloats), rng: &rng)
            conv.bias.value = rng.tensor([cout])
            let x = rng.tensor([n, h, w, cin])
            let y = try conv.forward(x, training: true)
            let forward = NNReference.conv2d(x.doubles, shape: x.shape, kernel: conv.kernel.value.doubles, bias: conv.bias.value.doubles,
                                             k: k, stride: stride, outChannels: cout)
            XCTAssertEqual(y.shape, forward.shape)
            XCTAssertLessThan(GradientCheck.maxDifference(y.data, forward.values), 1e-4)
            let dy = rng.tensor(y.shape)
            let dx = try conv.backward(dy)
            let naive = NNReference.conv2dBackward(x.doubles, shape: x.shape, kernel: conv.kernel.value.doubles, dy: dy.doubles,
                                                   k: k, stride: stride, outChannels: cout)
            XCTAssertLessThan(GradientCheck.maxDifference(dx.data, naive.dx), 1e-4)
            XCTAssertLessThan(GradientCheck.maxDifference(conv.kernel.gradient.data, naive.dKernel), 1e-3)
            XCTAssertLessThan(GradientCheck.maxDifference(conv.bias.gradient.data, naive.dBias), 1e-3)
        }
    }

    /// Winograd F(2×2, 3×3) against im2col on the same weights: odd and tiny images, blocked workspace.
    func testWinogradMatchesIm2col() throws {
        var rng = SeededRandom(seed: 20)
        for trial in 0..<6 {
            let (n, h, w) = (rng.int(1...3), rng.int(1...9), rng.int(1...9))
            let cin = rng.int(1...12), cout = cin + rng.int(0...13)
            let activation: Activation = trial % 2 == 0 ? .leakyReLU(alpha: 0.1) : .linear
            let workspace = trial % 3 == 0 ? Workspace(blockFloats: 64) : Workspace()
            let fast = Conv2D(name: "wino", inChannels: cin, outChannels: cout, kernelSize: 3, activation: activation,
                              workspace: workspace, rng: &rng)
            let plain = Conv2D(name: "im2col", inChannels: cin, outChannels: cout, kernelSize: 3, activation: activation, rng: &rng)
            plain.allowsWinograd = false
            fast.bias.value = rng.tensor([cout])
            plain.kernel.value = fast.kernel.value
            plain.bias.value = fast.bias.value
            let x = rng.tensor([n, h, w, cin])
            let (y1, y2) = (try fast.forward(x, training: true), try plain.forward(x, training: true))
            XCTAssertLessThan(y1.maxAbsDifference(y2), 1e-5, "forward \(x.shape) → \(cout)")
            let dy = rng.tensor(y1.shape)
            let (dx1, dx2) = (try fast.backward(dy), try plain.backward(dy))
            XCTAssertLessThan(dx1.maxAbsDifference(dx2), 1e-5, "dx \(x.shape) → \(cout)")
            XCTAssertLessThan(fast.kernel.gradient.maxAbsDifference(plain.kernel.gradient), 1e-4)
        }
    }

    func testDenseGradients() throws {
        var rng = SeededRandom(seed: 13)
        for trial in 0..<4 {
            let (n, inputs, outputs) = (rng.int(1...4), rng.int(1...9), rng.int(1...7))
            let activation = activations[trial]
            let dense = Dense(name: "dense", inputs: inputs, outputs: outputs, activation: activation, rng: &rng)
            dense.bias.value = rng.tensor([outputs], -0.5, 0.5)
            let x = rng.tensor([n, inputs])
            let y = try dense.forward(x, training: true)
            func reference(_ xs: [Double], _ ks: [Double], _ bs: [Double]) -> [Double] {
                NNReference.activation(NNReference.dense(xs, batch: n, kernel: ks, bias: bs, inputs: inputs, outputs: outputs), activation)
            }
            let (xd, kd, bd) = (x.doubles, dense.kernel.value.doubles, dense.bias.value.doubles)
            XCTAssertLessThan(GradientCheck.maxDifference(y.data, reference(xd, kd, bd)), 1e-5)
            let r = rng.tensor(y.shape)
            let dx = try dense.backward(r)
            GradientCheck.compare(dx.data, at: xd, rng: &rng, label: "dense dx") { GradientCheck.project(reference($0, kd, bd), r.data) }
            GradientCheck.compare(dense.kernel.gradient.data, at: kd, rng: &rng, label: "dense dW") {
                GradientCheck.project(reference(xd, $0, bd), r.data)
            }
            GradientCheck.compare(dense.bias.gradient.data, at: bd, rng: &rng, label: "dense db") {
                GradientCheck.project(reference(xd, kd, $0), r.data)
            }
        }
    }

    func testPixelShuffleMatchesDepthToSpaceOrderAndGradient() throws {
        var rng = SeededRandom(seed: 14)
        // TensorFlow's order on a hand-made case: x[0,0,0,(2dy+dx)C+c] lands at y[0,dy,dx,c].
        let c = 3
        let x0 = Tensor(shape: [1, 1, 1, 4 * c], data: (0..<(4 * c)).map(Float.init))
        let y0 = try PixelShuffle(name: "ps").forward(x0, training: false)
        XCTAssertEqual(y0.shape, [1, 2, 2, c])
        XCTAssertEqual(y0.data, (0..<(4 * c)).map(Float.init))   // (dy, dx, c) row-major is exactly that order
        for _ in 0..<3 {
            let shape = [rng.int(1...2), rng.int(1...4), rng.int(1...4), 4 * rng.int(1...5)]
            let layer = PixelShuffle(name: "ps")
            let x = rng.tensor(shape)
            let y = try layer.forward(x, training: true)
            XCTAssertEqual(GradientCheck.maxDifference(y.data, NNReference.pixelShuffle(x.doubles, shape: shape)), 0)
            let r = rng.tensor(y.shape)
            let dx = try layer.backward(r)
            GradientCheck.compare(dx.data, at: x.doubles, rng: &rng, label: "pixel shuffle dx") {
                GradientCheck.project(NNReference.pixelShuffle($0, shape: shape), r.data)
            }
        }
    }

    func testActivationLayersGradients() throws {
        var rng = SeededRandom(seed: 15)
        for activation in activations {
            let layer = ActivationLayer(name: "act", activation)
            let x = rng.tensor([2, rng.int(1...5), rng.int(1...5), rng.int(1...9)], -3, 3)
            let y = try layer.forward(x, training: true)
            XCTAssertLessThan(GradientCheck.maxDifference(y.data, NNReference.activation(x.doubles, activation)), 1e-6)
            let r = rng.tensor(y.shape)
            let dx = try layer.backward(r)
            GradientCheck.compare(dx.data, at: x.doubles, rng: &rng, label: "\(activation)") {
                GradientCheck.project(NNReference.activation($0, activation), r.data)
            }
        }
    }

    func testReshapeAndFlatten() throws {
        var rng = SeededRandom(seed: 16)
        let x = rng.tensor([2, 3, 4, 5])
        let flatten = Reshape.flatten(name: "flat")
        let flat = try flatten.forward(x, training: true)
        XCTAssertEqual(flat.shape, [2, 60])
        XCTAssertEqual(flat.data, x.data)
        let r = rng.tensor(flat.shape)
        let back = try flatten.backward(r)
        XCTAssertEqual(back.shape, x.shape)
        GradientCheck.compare(back.data, at: x.doubles, rng: &rng, label: "flatten dx") { GradientCheck.project($0, r.data) }
        let reshape = Reshape(name: "r", to: [4, 15])
        XCTAssertEqual(try reshape.outputShape(for: [2, 60]), [2, 4, 15])
        XCTAssertThrowsError(try reshape.outputShape(for: [2, 61]))
    }

    func testSequentialBackwardAccumulatesAndFirstLayerCanSkipInputGradient() throws {
        var rng = SeededRandom(seed: 17)
        let conv = Conv2D(name: "c", inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, activation: .leakyReLU(alpha: 0.1), rng: &rng)
        conv.computesInputGradient = false
        let model = Sequential(name: "m", [conv, Reshape.flatten(name: "f"), Dense(name: "d", inputs: 12, outputs: 2, rng: &rng)])
        XCTAssertEqual(model.parameters.map(\.name), ["c.kernel", "c.bias", "d.kernel", "d.bias"])
        let x = rng.tensor([2, 4, 4, 2])
        let r = rng.tensor([2, 2])
        _ = try model.forward(x, training: true)
        let dx = try model.backward(r)
        XCTAssertEqual(dx.shape, [0])
        let once = conv.kernel.gradient.data
        _ = try model.forward(x, training: true)
        _ = try model.backward(r)
        for (a, b) in zip(conv.kernel.gradient.data, once) { XCTAssertEqual(a, 2 * b, accuracy: 1e-5) }
        model.zeroGradients()
        XCTAssertTrue(conv.kernel.gradient.data.allSatisfy { $0 == 0 })
    }

    /// An output the caller still holds never changes when the layers run again.
    func testHeldOutputsAreNeverOverwritten() throws {
        var rng = SeededRandom(seed: 19)
        let conv = Conv2D(name: "c", inChannels: 8, outChannels: 8, kernelSize: 3, activation: .leakyReLU(alpha: 0.1), rng: &rng)
        let shuffle = PixelShuffle(name: "p")
        let x1 = rng.tensor([1, 4, 4, 8]), x2 = rng.tensor([1, 4, 4, 8])
        for training in [false, true] {
            let y1 = try conv.forward(x1, training: training), s1 = try shuffle.forward(y1, training: training)
            let (kept, keptShuffled) = (y1.data, s1.data)
            if training {
                _ = try conv.backward(try shuffle.backward(rng.tensor(s1.shape)))
            }
            let y2 = try conv.forward(x2, training: training), s2 = try shuffle.forward(y2, training: training)
            XCTAssertEqual(y1.data, kept)
            XCTAssertEqual(s1.data, keptShuffled)
            XCTAssertNotEqual(y2.data, kept)
            XCTAssertNotEqual(s2.data, keptShuffled)
        }
    }

    func testShapeMismatchesThrowNamingTheLayer() throws {
        var rng = SeededRandom(seed: 18)
        let conv = Conv2D(name: "encoder.conv1", inChannels: 3, outChannels: 4, kernelSize: 5, stride: 2, rng: &rng)
        XCTAssertThrowsError(try conv.forward(Tensor(zeros: [1, 8, 8, 4]), training: false)) { error in
            XCTAssertTrue("\(error)".contains("encoder.conv1"), "\(error)")
        }
        XCTAssertThrowsError(try conv.backward(Tensor(zeros: [1, 4, 4, 4])))   // no forward pass yet
        let dense = Dense(name: "d", inputs: 5, outputs: 2, rng: &rng)
        XCTAssertThrowsError(try dense.forward(Tensor(zeros: [1, 6]), training: false))
        XCTAssertThrowsError(try PixelShuffle(name: "p").forward(Tensor(zeros: [1, 2, 2, 6]), training: false))
        // A wrongly shaped assignment is caught before any kernel reads it.
        conv.kernel.value = Tensor(zeros: [5, 5, 3, 3])
        XCTAssertThrowsError(try conv.forward(Tensor(zeros: [1, 8, 8, 3]), training: false)) { error in
            XCTAssertTrue("\(error)".contains("encoder.conv1.kernel"), "\(error)")
        }
        dense.bias.gradient = Tensor(zeros: [3])
        XCTAssertThrowsError(try dense.forward(Tensor(zeros: [1, 5]), training: false))
        XCTAssertThrowsError(try Adam(label: "A", parameters: dense.parameters).step())
        let zeroStride = Conv2D(name: "z", inChannels: 1, outChannels: 1, kernelSize: 3, stride: 0, rng: &rng)
        XCTAssertThrowsError(try zeroStride.outputShape(for: [1, 4, 4, 1]))
    }
}
