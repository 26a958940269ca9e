import Foundation
import Tensor

/// Winograd F(2×2, 3×3) for stride-1 SAME 3×3 convolutions (the upscale blocks): each 2×2 block of
/// outputs comes from a 4×4 input tile with 16 multiplies per channel pair instead of 36, so the products
/// shrink 2.25×. Per block of images:
/// - kernel `U[ξ][ci][co] = (G w Gᵀ)[ξ]` (once per forward, kept for backward);
/// - input tiles `V[ξ][tile][ci] = (Bᵀ d B)[ξ]`;
/// - 16 products `M[ξ] = V[ξ] · U[ξ]` (`[tiles, cin]·[cin, cout]`), split across cores;
/// - outputs `Y = Aᵀ M A` per tile, then bias and activation.
/// The input gradient is the same convolution of the output gradient with the kernel rotated 180° and
/// transposed, which in this transform is `U[p(a)][p(b)]ᵀ` with p = (3, 1, 2, 0): no second kernel transform.
/// The kernel gradient is the transposed algorithm F(3×3, 2×2): `dW = Gᵀ (Σ_tiles (A δ Aᵀ) ⊙ (Bᵀ d B)) G`,
/// i.e. 16 products `P[ξ] += V[ξ]ᵀ · E[ξ]` over the tiles, with E the output-gradient tiles transformed.
enum Winograd {
    /// ξ index of the rotated kernel: (a, b) → (p(a), p(b)).
    static let rotated: [Int] = {
        let p = [3, 1, 2, 0]
        return (0..<16).map { p[$0 / 4] * 4 + p[$0 % 4] }
    }()

    /// `U` `[16, cin, cout]` from an HWIO `[3, 3, cin, cout]` kernel, vectorised along cout.
    static func transformKernel(_ w: UnsafePointer<Float>, cin: Int, cout: Int, into u: UnsafeMutablePointer<Float>) {
        let ws = SendablePointer(w), us = SendableMutablePointer(u)
        let plane = cin * cout
        Parallel.ranges(cin, work: cin * cout * 64, threshold: 200_000) { range in
            for ci in range {
                var co = 0
                while co < cout {
                    let lanes = min(8, cout - co)
                    @inline(__always) func tap(_ i: Int, _ j: Int) -> SIMD8<Float> {
                        loadPartial(ws.pointer + ((i * 3 + j) * cin + ci) * cout + co, lanes)
                    }
                    // q = G g along ky (4 rows of 3), then each row times Gᵀ along kx.
                    @inline(__always) func row(_ j: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                        let g0 = tap(0, j), g1 = tap(1, j), g2 = tap(2, j)
                        return (g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2)
                    }
                    let c0 = row(0), c1 = row(1), c2 = row(2)
                    @inline(__always) func emit(_ a: Int, _ q0: SIMD8<Float>, _ q1: SIMD8<Float>, _ q2: SIMD8<Float>) {
                        let base = us.pointer + a * 4 * plane + ci * cout + co
                        storePartial(q0, base, lanes)
                        storePartial((q0 + q1 + q2) * 0.5, base + plane, lanes)
                        storePartial((q0 - q1 + q2) * 0.5, base + 2 * plane, lanes)
                        storePartial(q2, base + 3 * plane, lanes)
                    }
                    emit(0, c0.0, c1.0, c2.0)
                    emit(1, c0.1, c1.1, c2.1)
                    emit(2, c0.2, c1.2, c2.2)
                    emit(3, c0.3, c1.3, c2.3)
                    co += 8
                }
            }
        }
    }

    /// `V` `[16, tiles, c]` for the tiles of `images` images `[images, h, w, c]` (tiles ⌈h/2⌉ × ⌈w/2⌉ each,
    /// row-major; zero padding of 1 before).
    static func transformInput(_ x: UnsafePointer<Float>, images: Int, h: Int, w: Int, channels c: Int,
                               into v: UnsafeMutablePointer<Float>) {
        let th = (h + 1) / 2, tw = (w + 1) / 2, tiles = images * th * tw
        let xs = SendablePointer(x), vs = SendableMutablePointer(v)
        Parallel.ranges(tiles, work: tiles * c * 48, threshold: 200_000) { range in
            for tile in range {
                let image = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw
                let plane = xs.pointer + image * h * w * c
                var ch = 0
                while ch < c {
                    let lanes = min(8, c - ch)
                    @inline(__always) func at(_ i: Int, _ j: Int) -> SIMD8<Float> {
                        let y = 2 * ty - 1 + i, xx = 2 * tx - 1 + j
                        if y < 0 || y >= h || xx < 0 || xx >= w { return .zero }
                        return loadPartial(plane + (y * w + xx) * c + ch, lanes)
                    }
                    // Bᵀ d along y for column j: (d0 - d2, d1 + d2, d2 - d1, d1 - d3).
                    @inline(__always) func column(_ j: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                        let d0 = at(0, j), d1 = at(1, j), d2 = at(2, j), d3 = at(3, j)
                        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    }
                    let k0 = column(0), k1 = column(1), k2 = column(2), k3 = column(3)
                    // Then B along x for row i.
                    @inline(__always) func emit(_ i: Int, _ s0: SIMD8<Float>, _ s1: SIMD8<Float>, _ s2: SIMD8<Float>, _ s3: SIMD8<Float>) {
                        let base = vs.pointer + (i * 4) * tiles * c + tile * c + ch
                        storePartial(s0 - s2, base, lanes)
                        storePartial(s1 + s2, base + tiles * c, lanes)
                        storePartial(s2 - s1, base + 2 * tiles * c, lanes)
                        storePartial(s1 - s3, base + 3 * tiles * c, lanes)
                    }
                    emit(0, k0.0, k1.0, k2.0, k3.0)
                    emit(1, k0.1, k1.1, k2.1, k3.1)
                    emit(2, k0.2, k1.2, k2.2, k3.2)
                    emit(3, k0.3, k1.3, k2.3, k3.3)
                    ch += 8
                }
            }
        }
    }

    /// `Y = Aᵀ M A` per tile from `M` `[16, tiles, c]`, plus `bias`, then `activation`, into `[images, h, w, c]`.
    static func transformOutput(_ m: UnsafePointer<Float>, images: Int, h: Int, w: Int, channels c: Int,
                                bias: UnsafePointer<Float>?, activation: Activation, into y: UnsafeMutablePointer<Float>) {
        let th = (h + 1) / 2, tw = (w + 1) / 2, tiles = images * th * tw
        let ms = SendablePointer(m), ys = SendableMutablePointer(y), bs = bias.map(SendablePointer.init)
        Parallel.ranges(tiles, work: tiles * c * 40, threshold: 200_000) { range in
            for tile in range {
                let image = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw
                var ch = 0
                while ch < c {
                    let lanes = min(8, c - ch)
                    @inline(__always) func at(_ xi: Int) -> SIMD8<Float> { loadPartial(ms.pointer + xi * tiles * c + tile * c + ch, lanes) }
                    // Aᵀ M along y for column j: (m0 + m1 + m2, m1 - m2 - m3).
                    @inline(__always) func column(_ j: Int) -> (SIMD8<Float>, SIMD8<Float>) {
                        let m0 = at(j), m1 = at(4 + j), m2 = at(8 + j), m3 = at(12 + j)
                        return (m0 + m1 + m2, m1 - m2 - m3)
                    }
                    let k0 = column(0), k1 = column(1), k2 = column(2), k3 = column(3)
                    let b = bs.map { loadPartial($0.pointer + ch, lanes) } ?? .zero
                    @inline(__always) func emit(_ dy: Int, _ dx: Int, _ value: SIMD8<Float>) {
                        let oy = 2 * ty + dy, ox = 2 * tx + dx
                        if oy >= h || ox >= w { return }
                        var v = value + b
                        activate(&v, activation)
                        storePartial(v, ys.pointer + ((image * h + oy) * w + ox) * c + ch, lanes)
                    }
                    // Then A along x.
                    emit(0, 0, k0.0 + k1.0 + k2.0)
                    emit(0, 1, k1.0 - k2.0 - k3.0)
                    emit(1, 0, k0.1 + k1.1 + k2.1)
                    emit(1, 1, k1.1 - k2.1 - k3.1)
                    ch += 8
                }
            }
        }
    }

    @inline(__always)
    static func activate(_ v: inout SIMD8<Float>, _ activation: Activation) {
        switch activation {
        case .linear: return
        case .relu: v = pointwiseMax(v, .zero)
        case .leakyReLU(let alpha): v = v.replacing(with: v * alpha, where: v .< .zero)
        case .sigmoid: for i in 0..<8 { v[i] = 1 / (1 + Foundation.exp(-v[i])) }
        }
    }

    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
        if lanes == 8 { return SIMD8<Float>.load(p) }
        var v = SIMD8<Float>.zero
        for i in 0..<lanes { v[i] = p[i] }
        return v
    }

    @inline(__always)
    static func loadPartial(_ p: UnsafeMutablePointer<Float>, _ lanes: Int) -> SIMD8<Float> { loadPartial(UnsafePointer(p), lanes) }

    @inline(__always)
    static func storePartial(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
        if lanes == 8 { v.store(p); return }
        for i in 0..<lanes { p[i] = v[i] }
    }

    /// A whole stride-1 SAME 3×3 convolution `[n, h, w, cin]` → `[n, h, w, cout]` from a transformed kernel
    /// `u` `[16, cin, cout]` (`rotatedKernel`: use `U[p(a)][p(b)]ᵀ`, u then being `[16, cout, cin]` of the
    /// forward layer, for the input gradient). Blocks of whole images sized to the workspace.
    static func convolve(_ x: UnsafePointer<Float>, batch n: Int, h: Int, w: Int, inChannels cin: Int, outChannels cout: Int,
                         kernel u: UnsafePointer<Float>, rotatedKernel: Bool, bias: UnsafePointer<Float>?, activation: Activation,
                         workspace: Workspace, into y: UnsafeMutablePointer<Float>) {
        let tilesPerImage = ((h + 1) / 2) * ((w + 1) / 2)
        let perImage = 16 * tilesPerImage * (cin + cout)
        let block = max(1, min(n, workspace.blockFloats / perImage))
        let us = SendablePointer(u)
        workspace.with(count: block * perImage) { scratch in
            var start = 0
            while start < n {
                let images = min(block, n - start), tiles = images * tilesPerImage
                let v = scratch, m = scratch + 16 * tiles * cin
                transformInput(x + start * h * w * cin, images: images, h: h, w: w, channels: cin, into: v)
                let vs = SendablePointer(UnsafePointer(v)), mp = SendableMutablePointer(m)
                Parallel.ranges(16, work: 16 * tiles * cin * cout, threshold: 1) { range in
                    for xi in range {
                        let a = vs.pointer + xi * tiles * cin, c = mp.pointer + xi * tiles * cout
                        if rotatedKernel {
                            BLAS.sgemmSerial(transB: true, m: tiles, n: cout, k: cin, a: a, lda: cin,
                                             b: us.pointer + rotated[xi] * cin * cout, ldb: cin, c: c, ldc: cout)
                        } else {
                            BLAS.sgemmSerial(m: tiles, n: cout, k: cin, a: a, lda: cin, b: us.pointer + xi * cin * cout, ldb: cout,
                                             c: c, ldc: cout)
                        }
                    }
                }
                transformOutput(m, images: images, h: h, w: w, channels: cout, bias: bias, activation: activation,
                                into: y + start * h * w * cout)
                start += images
            }
        }
    }

    /// `E` `[16, tiles, c]`: each output-gradient 2×2 tile δ (zeros past the image) as `A δ Aᵀ`, with
    /// `A δ = (δ0, δ0 + δ1, δ0 − δ1, −δ1)` along each axis.
    static func transformGradient(_ g: UnsafePointer<Float>, images: Int, h: Int, w: Int, channels c: Int,
                                  into e: UnsafeMutablePointer<Float>) {
        let th = (h + 1) / 2, tw = (w + 1) / 2, tiles = images * th * tw
        let gs = SendablePointer(g), es = SendableMutablePointer(e)
        Parallel.ranges(tiles, work: tiles * c * 24, threshold: 200_000) { range in
            for tile in range {
                let image = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw
                var ch = 0
                while ch < c {
                    let lanes = min(8, c - ch)
                    @inline(__always) func at(_ dy: Int, _ dx: Int) -> SIMD8<Float> {
                        let y = 2 * ty + dy, x = 2 * tx + dx
                        if y >= h || x >= w { return .zero }
                        return loadPartial(gs.pointer + ((image * h + y) * w + x) * c + ch, lanes)
                    }
                    let (d00, d01, d10, d11) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1))
                    // Along y: rows (δ0, δ0 + δ1, δ0 − δ1, −δ1) of 2-vectors along x; then the same along x.
                    @inline(__always) func emit(_ i: Int, _ r0: SIMD8<Float>, _ r1: SIMD8<Float>) {
                        let base = es.pointer + (i * 4) * tiles * c + tile * c + ch
                        storePartial(r0, base, lanes)
                        storePartial(r0 + r1, base + tiles * c, lanes)
                        storePartial(r0 - r1, base + 2 * tiles * c, lanes)
                        storePartial(-r1, base + 3 * tiles * c, lanes)
                    }
                    emit(0, d00, d01)
                    emit(1, d00 + d10, d01 + d11)
                    emit(2, d00 - d10, d01 - d11)
                    emit(3, -d10, -d11)
                    ch += 8
                }
            }
        }
    }

    /// `dW[ky, kx, ci, co] += (Gᵀ P G)[ky][kx]` from `P` `[16, cin, cout]`, with
    /// `Gᵀ p = (p0 + p1/2 + p2/2, p1/2 − p2/2, p1/2 + p2/2 + p3)` along each axis; vectorised along cout.
    static func accumulateKernelGradient(_ p: UnsafePointer<Float>, cin: Int, cout: Int, into dw: UnsafeMutablePointer<Float>) {
        let ps = SendablePointer(p), ds = SendableMutablePointer(dw)
        let plane = cin * cout
        Parallel.ranges(cin, work: cin * cout * 48, threshold: 200_000) { range in
            for ci in range {
                var co = 0
                while co < cout {
                    let lanes = min(8, cout - co)
                    @inline(__always) func at(_ a: Int, _ b: Int) -> SIMD8<Float> {
                        loadPartial(ps.pointer + (a * 4 + b) * plane + ci * cout + co, lanes)
                    }
                    // Gᵀ along a for column b, then along b.
                    @inline(__always) func column(_ b: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                        let (p0, p1, p2, p3) = (at(0, b), at(1, b), at(2, b), at(3, b))
                        return (p0 + (p1 + p2) * 0.5, (p1 - p2) * 0.5, (p1 + p2) * 0.5 + p3)
                    }
                    let k0 = column(0), k1 = column(1), k2 = column(2), k3 = column(3)
                    @inline(__always) func add(_ ky: Int, _ q0: SIMD8<Float>, _ q1: SIMD8<Float>, _ q2: SIMD8<Float>, _ q3: SIMD8<Float>) {
                        let target = ds.pointer + (ky * 3 * cin + ci) * cout + co, step = cin * cout
                        storePartial(loadPartial(target, lanes) + q0 + (q1 + q2) * 0.5, target, lanes)
                        storePartial(loadPartial(target + step, lanes) + (q1 - q2) * 0.5, target + step, lanes)
                        storePartial(loadPartial(target + 2 * step, lanes) + (q1 + q2) * 0.5 + q3, target + 2 * step, lanes)
                    }
                    add(0, k0.0, k1.0, k2.0, k3.0)
                    add(1, k0.1, k1.1, k2.1, k3.1)
                    add(2, k0.2, k1.2, k2.2, k3.2)
                    co += 8
                }
            }
        }
    }

    /// `dW += ` the kernel gradient of a stride-1 SAME 3×3 convolution with input `x` `[n, h, w, cin]` and
    /// output gradient `g` `[n, h, w, cout]` (after the activation's derivative), block by block.
    static func kernelGradient(input x: UnsafePointer<Float>, gradient g: UnsafePointer<Float>, batch n: Int, h: Int, w: Int,
                               inChannels cin: Int, outChannels cout: Int, workspace: Workspace, into dw: UnsafeMutablePointer<Float>) {
        let tilesPerImage = ((h + 1) / 2) * ((w + 1) / 2)
        let perImage = 16 * tilesPerImage * (cin + cout)
        let block = max(1, min(n, workspace.blockFloats / perImage))
        var products = [Float](repeating: 0, count: 16 * cin * cout)
        products.withUnsafeMutableBufferPointer { pb in
            guard let pp = pb.baseAddress else { return }
            let ps = SendableMutablePointer(pp)
            workspace.with(count: block * perImage) { scratch in
                var start = 0
                while start < n {
                    let images = min(block, n - start), tiles = images * tilesPerImage
                    let v = scratch, e = scratch + 16 * tiles * cin
                    transformInput(x + start * h * w * cin, images: images, h: h, w: w, channels: cin, into: v)
                    transformGradient(g + start * h * w * cout, images: images, h: h, w: w, channels: cout, into: e)
                    let vs = SendablePointer(UnsafePointer(v)), es = SendablePointer(UnsafePointer(e))
                    Parallel.ranges(16, work: 16 * tiles * cin * cout, threshold: 1) { range in
                        for xi in range {
                            BLAS.sgemmSerial(transA: true, m: cin, n: cout, k: tiles, a: vs.pointer + xi * tiles * cin, lda: cin,
                                             b: es.pointer + xi * tiles * cout, ldb: cout, beta: 1,
                                             c: ps.pointer + xi * cin * cout, ldc: cout)
                        }
                    }
                    start += images
                }
            }
            accumulateKernelGradient(pp, cin: cin, cout: cout, into: dw)
        }
    }
}
