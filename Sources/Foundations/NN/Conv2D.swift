import FacetCore
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
/// Two special cases: stride-1 3×3 layers run forward, `dx` and `dW` through Winograd (`Winograd`), and
/// stride-1 layers with fewer output than input channels work from the input side (see below).
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
    /// Winograd-transformed kernel `[16, cin, cout]` of the last forward pass (reused by its backward).
    private var transformedKernel: [Float] = []
    /// Stride-1 3×3 layers run forward, input and kernel gradients through Winograd (`Winograd`);
    /// false forces im2col (the tests compare both).
    public var allowsWinograd = true

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

    /// The same layer (configuration, `Parameter`s, flags) with its own forward cache: gradients of both
    /// copies accumulate into the same tensors, so a network can be applied twice in one step.
    private init(sharing other: Conv2D) {
        name = other.name
        inChannels = other.inChannels; outChannels = other.outChannels
        kernelSize = other.kernelSize; stride = other.stride
        activation = other.activation
        workspace = other.workspace
        kernel = other.kernel; bias = other.bias
        computesInputGradient = other.computesInputGradient
        allowsWinograd = other.allowsWinograd
    }

    public func sharingParameters() -> Conv2D { Conv2D(sharing: self) }

    public var parameters: [Parameter] { [kernel, bias] }

    func geometry(for input: [Int]) throws -> WindowGeometry {
        guard kernelSize >= 1, stride >= 1, inChannels >= 1, outChannels >= 1 else {
            throw NNError.invalidConfiguration("\(name): kernel \(kernelSize), stride \(stride), channels \(inChannels) → \(outChannels)")
        }
        try kernel.check([kernelSize, kernelSize, inChannels, outChannels])
        try bias.check([outChannels])
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

    /// Stride-1 layers with an odd window and fewer output than input channels (the decoder's 64 → 3
    /// output) work from the input side: `z = x · W` per tap, then each output gathers its taps
    /// (`TrainingKernels.gatherTaps`); backward unfolds the small gradient instead of the wide input. The
    /// matrices are k²·cout wide instead of k²·cin.
    var worksFromInputSide: Bool { stride == 1 && kernelSize % 2 == 1 && outChannels < inChannels }

    var usesWinograd: Bool { allowsWinograd && stride == 1 && kernelSize == 3 && !worksFromInputSide }

    /// Images per block when each image needs `floatsPerImage` of workspace.
    private func blockImages(floatsPerImage: Int, batch: Int) -> Int {
        max(1, min(batch, workspace.blockFloats / max(floatsPerImage, 1)))
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let g = try geometry(for: x.shape)
        let n = x.shape[0]
        input = nil; output = nil
        var y = Tensor.uninitialized([n, g.outH, g.outW, outChannels])
        if usesWinograd {
            forwardByWinograd(x, g, &y)
        } else if worksFromInputSide {
            forwardFromInputSide(x, g, &y)
        } else {
            forwardByIm2col(x, g, &y)
        }
        if training { input = x; output = y }
        return y
    }

    private func forwardByIm2col(_ x: Tensor, _ g: WindowGeometry, _ y: inout Tensor) {
        let n = x.shape[0], cin = inChannels, cout = outChannels
        let k = kernelSize * kernelSize * cin, perImage = g.outH * g.outW
        let block = blockImages(floatsPerImage: perImage * k, batch: n)
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
    }

    private func forwardByWinograd(_ x: Tensor, _ g: WindowGeometry, _ y: inout Tensor) {
        let (cin, cout) = (inChannels, outChannels)
        if transformedKernel.count != 16 * cin * cout { transformedKernel = [Float](repeating: 0, count: 16 * cin * cout) }
        kernel.value.withPointer { wp in
            transformedKernel.withUnsafeMutableBufferPointer { u in
                if let u = u.baseAddress { Winograd.transformKernel(wp, cin: cin, cout: cout, into: u) }
            }
        }
        x.withPointer { xp in bias.value.withPointer { bp in y.withMutablePointer { yp in transformedKernel.withUnsafeBufferPointer { u in
            guard let u = u.baseAddress else { return }
            Winograd.convolve(xp, batch: x.shape[0], h: g.inH, w: g.inW, inChannels: cin, outChannels: cout, kernel: u,
                              rotatedKernel: false, bias: bp, activation: activation, workspace: workspace, into: yp)
        } } } }
    }

    private func forwardFromInputSide(_ x: Tensor, _ g: WindowGeometry, _ y: inout Tensor) {
        let n = x.shape[0], cin = inChannels, cout = outChannels
        let taps = kernelSize * kernelSize, width = taps * cout, perImage = g.inH * g.inW
        // W as [cin, taps·cout]: row ci holds every tap's output weights.
        var byInput = [Float](repeating: 0, count: cin * width)
        kernel.value.withPointer { wp in
            for t in 0..<taps { for ci in 0..<cin { for co in 0..<cout { byInput[ci * width + t * cout + co] = wp[(t * cin + ci) * cout + co] } } }
        }
        let block = blockImages(floatsPerImage: perImage * width, batch: n)
        workspace.with(count: block * perImage * width) { z in
            x.withPointer { xp in bias.value.withPointer { bp in y.withMutablePointer { yp in byInput.withUnsafeBufferPointer { wr in
                guard let wr = wr.baseAddress else { return }
                var start = 0
                while start < n {
                    let images = min(block, n - start), rows = images * perImage
                    BLAS.sgemm(m: rows, n: width, k: cin, a: xp + start * perImage * cin, lda: cin, b: wr, ldb: width, c: z, ldc: width)
                    let yb = yp + start * perImage * cout
                    TrainingKernels.broadcastRows(bp, rows: rows, channels: cout, into: yb)
                    TrainingKernels.gatherTaps(z, images: images, h: g.inH, w: g.inW, k: kernelSize, channels: cout, into: yb)
                    activation.apply(yb, count: rows * cout)
                    start += images
                }
            } } } }
        }
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, let y = output else { throw NNError.noForwardPass(layer: name) }
        guard dy.shape == y.shape else { throw NNError.shapeMismatch(layer: name, expected: "gradient \(y.shape)", got: dy.shape) }
        input = nil; output = nil
        let g = try geometry(for: x.shape)
        let n = x.shape[0], cout = outChannels, count = dy.count
        // g = dy ⊙ act'(y); the bias gradient is its column sums.
        var grad = Tensor.uninitialized(dy.shape)
        y.withPointer { yp in dy.withPointer { dp in
            grad.withMutablePointer { activation.multiplyDerivative(output: yp, gradient: dp, into: $0, count: count) }
        } }
        bias.gradient.withMutablePointer { db in
            grad.withPointer { TrainingKernels.addColumnSums($0, rows: n * g.outH * g.outW, channels: cout, into: db) }
        }
        var dx = computesInputGradient ? Tensor.uninitialized(x.shape) : Tensor(shape: [0], data: [])
        if worksFromInputSide {
            backwardFromInputSide(x, grad, g, &dx)
        } else if usesWinograd {
            // dW by F(3×3, 2×2); dx = the same convolution of g with the rotated, transposed kernel.
            x.withPointer { xp in grad.withPointer { gp in kernel.gradient.withMutablePointer { dw in
                Winograd.kernelGradient(input: xp, gradient: gp, batch: n, h: g.inH, w: g.inW, inChannels: inChannels,
                                        outChannels: cout, workspace: workspace, into: dw)
            } } }
            if computesInputGradient {
                grad.withPointer { gp in dx.withMutablePointer { dxp in transformedKernel.withUnsafeBufferPointer { u in
                    guard let u = u.baseAddress else { return }
                    Winograd.convolve(gp, batch: n, h: g.inH, w: g.inW, inChannels: cout, outChannels: inChannels, kernel: u,
                                      rotatedKernel: true, bias: nil, activation: .linear, workspace: workspace, into: dxp)
                } } }
            }
        } else {
            backwardByIm2col(x, grad, g, &dx, inputGradient: computesInputGradient)
        }
        return dx
    }

    /// `dW += colᵀ · g`, `dx = col2im(g · Wᵀ)`, block by block.
    private func backwardByIm2col(_ x: Tensor, _ grad: Tensor, _ g: WindowGeometry, _ dx: inout Tensor, inputGradient wantsInput: Bool) {
        let n = x.shape[0], cin = inChannels, cout = outChannels
        let k = kernelSize * kernelSize * cin, perImage = g.outH * g.outW
        let block = blockImages(floatsPerImage: perImage * k, batch: n)
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
    }

    /// From the input side: with G = im2col(g) (taps·cout wide) and flipped taps t' = taps-1-t,
    /// `dW[t, ci, co] += (xᵀ · G)[ci, t'·cout + co]` and `dx = G · W'` with `W'[t'·cout + co, ci] = W[t, ci, co]`.
    private func backwardFromInputSide(_ x: Tensor, _ grad: Tensor, _ g: WindowGeometry, _ dx: inout Tensor) {
        let n = x.shape[0], cin = inChannels, cout = outChannels
        let taps = kernelSize * kernelSize, width = taps * cout, perImage = g.inH * g.inW
        var flipped = [Float](repeating: 0, count: width * cin)
        kernel.value.withPointer { wp in
            for t in 0..<taps { for ci in 0..<cin { for co in 0..<cout {
                flipped[((taps - 1 - t) * cout + co) * cin + ci] = wp[(t * cin + ci) * cout + co]
            } } }
        }
        var product = [Float](repeating: 0, count: cin * width)
        let block = blockImages(floatsPerImage: perImage * width, batch: n)
        let wantsInput = computesInputGradient
        workspace.with(count: block * perImage * width) { col in
            x.withPointer { xp in grad.withPointer { gp in dx.withMutablePointer { dxp in
                flipped.withUnsafeBufferPointer { wf in product.withUnsafeMutableBufferPointer { mt in
                    guard let wf = wf.baseAddress, let mt = mt.baseAddress else { return }
                    var start = 0
                    while start < n {
                        let images = min(block, n - start), rows = images * perImage
                        TrainingKernels.im2colParallel(gp + start * perImage * cout, images: images, channels: cout,
                                                       geometry: g, into: col)
                        let xBlock = xp + start * perImage * cin
                        BLAS.sgemm(transA: true, m: cin, n: width, k: rows, a: xBlock, lda: cin, b: col, ldb: width,
                                   beta: 1, c: mt, ldc: width)
                        if wantsInput {
                            BLAS.sgemm(m: rows, n: cin, k: width, a: col, lda: width, b: wf, ldb: cin, c: dxp + start * perImage * cin, ldc: cin)
                        }
                        start += images
                    }
                } }
            } } }
        }
        kernel.gradient.withMutablePointer { dw in
            for t in 0..<taps { for ci in 0..<cin { for co in 0..<cout {
                dw[(t * cin + ci) * cout + co] += product[ci * width + (taps - 1 - t) * cout + co]
            } } }
        }
    }
}
