import Foundation
import Tensor

/// 2-D convolution with TensorFlow's SAME padding, square kernel, equal strides, an optional fused
/// activation, bias.
///
/// input `[n, h, w, inChannels]` → output `[n, ceil(h/stride), ceil(w/stride), outChannels]`.
/// kernel HWIO `[k, k, inChannels, outChannels]` (Keras' layout), bias `[outChannels]`. SAME padding puts
/// the odd pixel after: for k 5, stride 2 on 64 that is 1 before and 2 after, as Keras does.
///
/// Done as im2col + sgemm over blocks of whole images (as many as fit `Workspace.blockFloats`), so the
/// products have thousands of rows:
/// - forward: `y = act(col · W + b)`, each core unfolding, multiplying and activating its own rows;
/// - backward: `g = dy ⊙ act'(y)`, `dW += colᵀ · g`, `db += Σ g`, `dx = col2im(g · Wᵀ)`.
/// The im2col matrix is recomputed in backward rather than kept (it is ~k²/stride² times the input).
public final class Conv2D: Layer {
    public let name: String
    public let inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int
    public let activation: Activation
    /// `[k, k, inChannels, outChannels]`, Glorot uniform.
    public let kernel: Parameter
    /// `[outChannels]`, zeros.
    public let bias: Parameter
    /// False for a network's first layer: backward then skips the input gradient and returns an empty
    /// tensor (shape `[0]`).
    public var computesInputGradient = true
    let workspace: Workspace
    private var input: Tensor?
    private var output: Tensor?

    public init(name: String, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                activation: Activation = .linear, workspace: Workspace = Workspace(), rng: inout SeededRandom) {
        self.name = name
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelSize = kernelSize; self.stride = stride
        self.activation = activation
        self.workspace = workspace
        let receptive = kernelSize * kernelSize
        kernel = Parameter(name: name + ".kernel", value: Initializers.glorotUniform(
            shape: [kernelSize, kernelSize, inChannels, outChannels], fanIn: receptive * inChannels,
            fanOut: receptive * outChannels, rng: &rng))
        bias = Parameter(name: name + ".bias", value: Tensor(zeros: [outChannels]))
    }

    public var parameters: [Parameter] { [kernel, bias] }

    func geometry(for input: [Int]) throws -> WindowGeometry {
        let (_, h, w, c) = try imageShape(input, layer: name)
        guard c == inChannels else {
            throw NNError.shapeMismatch(layer: name, expected: "[batch, height, width, \(inChannels)]", got: input)
        }
        return WindowGeometry(inH: h, inW: w, kH: kernelSize, kW: kernelSize, strideH: stride, strideW: stride, padding: .same)
    }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let g = try geometry(for: input)
        return [input[0], g.outH, g.outW, outChannels]
    }

    /// Images per im2col block.
    private func blockImages(_ g: WindowGeometry, batch: Int) -> Int {
        let perImage = g.outH * g.outW * kernelSize * kernelSize * inChannels
        return max(1, min(batch, workspace.blockFloats / max(perImage, 1)))
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let g = try geometry(for: x.shape)
        let n = x.shape[0], cin = inChannels, cout = outChannels
        let k = kernelSize * kernelSize * cin, perImage = g.outH * g.outW
        var y = Tensor.uninitialized([n, g.outH, g.outW, cout])
        let block = blockImages(g, batch: n)
        let activation = self.activation
        workspace.with(count: block * perImage * k) { col in
            x.withPointer { xp in kernel.value.withPointer { wp in bias.value.withPointer { bp in y.withMutablePointer { yp in
                let cols = SendableMutablePointer(col), w = SendablePointer(wp), b = SendablePointer(bp)
                var start = 0
                while start < n {
                    let images = min(block, n - start), rows = images * perImage
                    let src = SendablePointer(xp + start * g.inH * g.inW * cin)
                    let dst = SendableMutablePointer(yp + start * perImage * cout)
                    // Each core unfolds, multiplies, adds the bias to and activates its own rows while in cache.
                    Parallel.ranges(rows, work: rows * cout * k) { range in
                        let a = cols.pointer + range.lowerBound * k
                        TrainingKernels.im2col(src.pointer, channels: cin, geometry: g, rows: range, into: a)
                        let c = dst.pointer + range.lowerBound * cout
                        TrainingKernels.broadcastRows(b.pointer, rows: range.count, channels: cout, into: c)
                        BLAS.sgemmSerial(m: range.count, n: cout, k: k, a: a, lda: k, b: w.pointer, ldb: cout,
                                         beta: 1, c: c, ldc: cout)
                        activation.applySerial(c, count: range.count * cout)
                    }
                    start += images
                }
            } } } }
        }
        if training { input = x; output = y } else { input = nil; output = nil }
        return y
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, let y = output else { throw NNError.noForwardPass(layer: name) }
        guard dy.shape == y.shape else { throw NNError.shapeMismatch(layer: name, expected: "gradient \(y.shape)", got: dy.shape) }
        input = nil; output = nil
        let g = try geometry(for: x.shape)
        let n = x.shape[0], cin = inChannels, cout = outChannels
        let k = kernelSize * kernelSize * cin, perImage = g.outH * g.outW
        var grad = dy
        let count = grad.count
        y.withPointer { yp in grad.withMutablePointer { activation.multiplyDerivative(output: yp, gradient: $0, count: count) } }
        bias.gradient.withMutablePointer { db in
            grad.withPointer { TrainingKernels.addColumnSums($0, rows: n * perImage, channels: cout, into: db) }
        }
        var dx = computesInputGradient ? Tensor.uninitialized(x.shape) : Tensor(shape: [0], data: [])
        let block = blockImages(g, batch: n)
        let wantsInput = computesInputGradient
        workspace.with(count: block * perImage * k) { col in
            x.withPointer { xp in grad.withPointer { gp in kernel.value.withPointer { wp in
                kernel.gradient.withMutablePointer { dw in dx.withMutablePointer { dxp in
                    var start = 0
                    while start < n {
                        let images = min(block, n - start), rows = images * perImage
                        TrainingKernels.im2colParallel(xp + start * g.inH * g.inW * cin, images: images, channels: cin,
                                                       geometry: g, into: col)
                        let gBlock = gp + start * perImage * cout
                        BLAS.sgemm(transA: true, m: k, n: cout, k: rows, a: col, lda: k, b: gBlock, ldb: cout,
                                   beta: 1, c: dw, ldc: cout)
                        if wantsInput {
                            BLAS.sgemm(transB: true, m: rows, n: k, k: cout, a: gBlock, lda: cout, b: wp, ldb: cout,
                                       c: col, ldc: k)
                            TrainingKernels.col2im(col, images: images, channels: cin, geometry: g,
                                                   into: dxp + start * g.inH * g.inW * cin)
                        }
                        start += images
                    }
                } }
            } } }
        }
        return dx
    }
}
