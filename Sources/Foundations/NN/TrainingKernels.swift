import Foundation
import Tensor

/// Raw-buffer kernels for training: batched im2col and its adjoint col2im, activation derivatives,
/// pixel shuffle, column sums. Parallel across cores with `Parallel.ranges`; each has a naive Double twin
/// in `NNReference` that the tests compare against.
enum TrainingKernels {
    /// Unfolds the windows of output positions `rows` (row-major over images × outH × outW of an input
    /// `[images, inH, inW, cin]`) into rows of `kH·kW·cin` values ordered (ky, kx, c), zeros where a window
    /// leaves the image. Row `rows.lowerBound` goes to `cols`.
    static func im2col(_ src: UnsafePointer<Float>, channels cin: Int, geometry g: WindowGeometry, rows: Range<Int>,
                       into cols: UnsafeMutablePointer<Float>) {
        let rowLength = g.kH * g.kW * cin
        let perImage = g.outH * g.outW
        for position in rows {
            let image = position / perImage, p = position % perImage
            let oy = p / g.outW, ox = p % g.outW
            let plane = src + image * g.inH * g.inW * cin
            var dst = cols + (position - rows.lowerBound) * rowLength
            for ky in 0..<g.kH {
                let iy = oy * g.strideH - g.padTop + ky
                let rowInside = iy >= 0 && iy < g.inH
                for kx in 0..<g.kW {
                    let ix = ox * g.strideW - g.padLeft + kx
                    if !rowInside || ix < 0 || ix >= g.inW {
                        dst.update(repeating: 0, count: cin)
                    } else {
                        copy(plane + (iy &* g.inW &+ ix) &* cin, to: dst, count: cin)
                    }
                    dst += cin
                }
            }
        }
    }

    /// im2col over `images` whole images, split across cores. `cols` holds `images·outH·outW` rows.
    static func im2colParallel(_ src: UnsafePointer<Float>, images: Int, channels cin: Int, geometry g: WindowGeometry,
                               into cols: UnsafeMutablePointer<Float>) {
        let rows = images * g.outH * g.outW
        let s = SendablePointer(src), d = SendableMutablePointer(cols)
        let rowLength = g.kH * g.kW * cin
        Parallel.ranges(rows, work: rows * rowLength, threshold: 200_000) { range in
            im2col(s.pointer, channels: cin, geometry: g, rows: range, into: d.pointer + range.lowerBound * rowLength)
        }
    }

    /// The adjoint of im2col: `dx[image, iy, ix, c]` = the sum of every column entry that im2col copied from
    /// that pixel. Written as a gather (each input pixel collects its own taps), so cores take disjoint
    /// input rows and nothing races. Overwrites `dx` (`[images, inH, inW, cin]`).
    static func col2im(_ cols: UnsafePointer<Float>, images: Int, channels cin: Int, geometry g: WindowGeometry,
                       into dx: UnsafeMutablePointer<Float>) {
        let rowLength = g.kH * g.kW * cin
        let c = SendablePointer(cols), d = SendableMutablePointer(dx)
        let inputRows = images * g.inH
        Parallel.ranges(inputRows, work: images * g.outH * g.outW * rowLength, threshold: 200_000) { range in
            for row in range {
                let image = row / g.inH, iy = row % g.inH
                for ix in 0..<g.inW {
                    let out = d.pointer + ((image * g.inH + iy) * g.inW + ix) * cin
                    out.update(repeating: 0, count: cin)
                    // Taps ky with (iy + padTop - ky) divisible by the stride and the output row inside.
                    for ky in 0..<g.kH {
                        let ty = iy + g.padTop - ky
                        if ty < 0 || ty % g.strideH != 0 { continue }
                        let oy = ty / g.strideH
                        if oy >= g.outH { continue }
                        for kx in 0..<g.kW {
                            let tx = ix + g.padLeft - kx
                            if tx < 0 || tx % g.strideW != 0 { continue }
                            let ox = tx / g.strideW
                            if ox >= g.outW { continue }
                            let position = (image * g.outH + oy) * g.outW + ox
                            add(c.pointer + position * rowLength + (ky * g.kW + kx) * cin, into: out, count: cin)
                        }
                    }
                }
            }
        }
    }

    /// Depth-to-space with block 2, TensorFlow's channel order:
    /// `y[b, 2h+dy, 2w+dx, c] = x[b, h, w, (2·dy+dx)·C + c]`; x `[n, h, w, 4C]`, y `[n, 2h, 2w, C]`.
    /// `inverse` runs the adjoint (space-to-depth), reading y from `source` and writing x to `destination`.
    static func pixelShuffle(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int,
                             outChannels cOut: Int, inverse: Bool) {
        let src = SendablePointer(source), dst = SendableMutablePointer(destination)
        Parallel.ranges(n * h, work: n * h * w * 4 * cOut, threshold: 400_000) { range in
            for row in range {
                let b = row / h, r = row % h
                for col in 0..<w {
                    let low = ((b * h + r) * w + col) * 4 * cOut
                    for dy in 0..<2 {
                        for dx in 0..<2 {
                            let high = ((b * 2 * h + 2 * r + dy) * 2 * w + 2 * col + dx) * cOut
                            let block = low + (dy * 2 + dx) * cOut
                            if inverse {
                                copy(src.pointer + high, to: dst.pointer + block, count: cOut)
                            } else {
                                copy(src.pointer + block, to: dst.pointer + high, count: cOut)
                            }
                        }
                    }
                }
            }
        }
    }

    /// For a stride-1 SAME convolution with an odd k×k window (padding (k-1)/2 on every side), sums the
    /// tap contributions `z[n, y, x, (ky·k + kx)·c + ch]` computed at each INPUT position into the outputs
    /// they feed: `out[n, oy, ox, ch] += Σ z[n, oy+ky-pad, ox+kx-pad, (ky·k+kx)·c + ch]` over taps inside
    /// the image. This is the convolution done from the input side (`z = x · W` per tap), cheaper than
    /// im2col when the layer has far fewer output than input channels. `out` must start at the bias.
    static func gatherTaps(_ z: UnsafePointer<Float>, images: Int, h: Int, w: Int, k: Int, channels c: Int,
                           into out: UnsafeMutablePointer<Float>) {
        let pad = (k - 1) / 2, rowLength = k * k * c
        let zs = SendablePointer(z), os = SendableMutablePointer(out)
        Parallel.ranges(images * h, work: images * h * w * rowLength, threshold: 200_000) { range in
            for row in range {
                let image = row / h, oy = row % h
                for ox in 0..<w {
                    let o = os.pointer + ((image * h + oy) * w + ox) * c
                    for ky in 0..<k {
                        let iy = oy + ky - pad
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<k {
                            let ix = ox + kx - pad
                            if ix < 0 || ix >= w { continue }
                            add(zs.pointer + ((image * h + iy) * w + ix) * rowLength + (ky * k + kx) * c, into: o, count: c)
                        }
                    }
                }
            }
        }
    }

    /// `sums[c] += Σ_rows x[row, c]` over a `[rows, channels]` matrix (bias gradients). Fixed summation order.
    static func addColumnSums(_ x: UnsafePointer<Float>, rows: Int, channels: Int, into sums: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { add(x + r &* channels, into: sums, count: channels) }
    }

    /// Fills each of `rows` rows of `y` (`[rows, channels]`) with `bias`.
    static func broadcastRows(_ bias: UnsafePointer<Float>, rows: Int, channels: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { copy(bias, to: y + r &* channels, count: channels) }
    }

    @inline(__always)
    static func copy(_ from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i &+ 8 <= count { SIMD8<Float>.load(from + i).store(to + i); i &+= 8 }
        while i < count { to[i] = from[i]; i &+= 1 }
    }

    @inline(__always)
    static func copy(_ from: UnsafeMutablePointer<Float>, to: UnsafeMutablePointer<Float>, count: Int) {
        copy(UnsafePointer(from), to: to, count: count)
    }

    /// `y += x` over `count` floats.
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i &+ 8 <= count { (SIMD8<Float>.load(y + i) + SIMD8<Float>.load(x + i)).store(y + i); i &+= 8 }
        while i < count { y[i] += x[i]; i &+= 1 }
    }
}

/// An element-wise activation. Derivatives are taken from the OUTPUT, so a layer that fuses one only keeps
/// its output for the backward pass (valid because each is monotonic with `y > 0 ⇔ x > 0` for the ReLUs).
public enum Activation: Equatable, Sendable, Codable {
    case linear
    case relu
    /// `x < 0 ? alpha·x : x`, alpha > 0.
    case leakyReLU(alpha: Float)
    case sigmoid

    /// In place over `count` floats, split across cores when large.
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if self == .linear { return }
        let p = SendableMutablePointer(x)
        Parallel.ranges(count, work: count * 4, threshold: 400_000) { range in
            let base = p.pointer + range.lowerBound
            applySerial(base, count: range.count)
        }
    }

    func applySerial(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .linear: return
        case .relu:
            var i = 0
            let zero = SIMD8<Float>(repeating: 0)
            while i &+ 8 <= count { pointwiseMax(SIMD8<Float>.load(x + i), zero).store(x + i); i &+= 8 }
            while i < count { x[i] = max(x[i], 0); i &+= 1 }
        case .leakyReLU(let alpha):
            var i = 0
            let a = SIMD8<Float>(repeating: alpha), zero = SIMD8<Float>(repeating: 0)
            while i &+ 8 <= count {
                let v = SIMD8<Float>.load(x + i)
                v.replacing(with: v * a, where: v .< zero).store(x + i)
                i &+= 8
            }
            while i < count { if x[i] < 0 { x[i] *= alpha }; i &+= 1 }
        case .sigmoid:
            for i in 0..<count { x[i] = 1 / (1 + Foundation.exp(-x[i])) }
        }
    }

    /// `result = dy ⊙ f'(x)` with the derivative computed from the activation's output `y`. `result` may be `dy`.
    func multiplyDerivative(output y: UnsafePointer<Float>, gradient dy: UnsafePointer<Float>,
                            into result: UnsafeMutablePointer<Float>, count: Int) {
        let ys = SendablePointer(y), ds = SendablePointer(dy), gs = SendableMutablePointer(result)
        Parallel.ranges(count, work: count * 4, threshold: 400_000) { range in
            let yp = ys.pointer + range.lowerBound, gp = gs.pointer + range.lowerBound
            let n = range.count
            if UnsafePointer(gp) != ds.pointer + range.lowerBound {
                TrainingKernels.copy(ds.pointer + range.lowerBound, to: gp, count: n)
            }
            switch self {
            case .linear: return
            case .relu:
                var i = 0
                let zero = SIMD8<Float>(repeating: 0)
                while i &+ 8 <= n {
                    let v = SIMD8<Float>.load(gp + i)
                    v.replacing(with: zero, where: SIMD8<Float>.load(yp + i) .<= zero).store(gp + i)
                    i &+= 8
                }
                while i < n { if yp[i] <= 0 { gp[i] = 0 }; i &+= 1 }
            case .leakyReLU(let alpha):
                var i = 0
                let a = SIMD8<Float>(repeating: alpha), zero = SIMD8<Float>(repeating: 0)
                while i &+ 8 <= n {
                    let v = SIMD8<Float>.load(gp + i)
                    v.replacing(with: v * a, where: SIMD8<Float>.load(yp + i) .<= zero).store(gp + i)
                    i &+= 8
                }
                while i < n { if yp[i] <= 0 { gp[i] *= alpha }; i &+= 1 }
            case .sigmoid:
                for i in 0..<n { gp[i] *= yp[i] * (1 - yp[i]) }
            }
        }
    }
}

/// A standalone activation layer (for models that do not fuse it into a convolution). Any shape.
public final class ActivationLayer: Layer {
    public let name: String
    public let activation: Activation
    private var output: Tensor?

    public init(name: String, _ activation: Activation) {
        self.name = name
        self.activation = activation
    }

    public var parameters: [Parameter] { [] }
    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        var y = x
        let count = y.count
        y.withMutablePointer { activation.apply($0, count: count) }
        output = training ? y : nil
        return y
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let output else { throw NNError.noForwardPass(layer: name) }
        guard dy.shape == output.shape else { throw NNError.shapeMismatch(layer: name, expected: "\(output.shape)", got: dy.shape) }
        var g = Tensor.uninitialized(dy.shape)
        let count = g.count
        output.withPointer { y in dy.withPointer { d in
            g.withMutablePointer { activation.multiplyDerivative(output: y, gradient: d, into: $0, count: count) }
        } }
        self.output = nil
        return g
    }
}

extension SIMD where Scalar == Float {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Self { UnsafeRawPointer(p).loadUnaligned(as: Self.self) }
    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> Self { UnsafeRawPointer(p).loadUnaligned(as: Self.self) }
    @inline(__always)
    func store(_ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self) }
}

// SendablePointer / SendableMutablePointer: Tensor (Kernels.swift).
