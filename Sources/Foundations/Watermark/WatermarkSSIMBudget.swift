import Foundation
import Media

/// Per-frame strength where SSIM leaves room: the mask's amplitudes (`WatermarkEmbedder.Mask`) are fixed per
/// block and keep every sample clip at SSIM ≥ 0.995, but a frame with much texture and little flat area ends
/// well above it (d14 and d20 at 0.9966), and those are the static clips whose payload is hardest to read after a
/// re-encode. The embedder multiplies all of a frame's gains by the largest factor in 1...`maximumBoost` for
/// which the frame's estimated SSIM against the unmarked frame stays at least `target`; never below 1, so no
/// frame is marked more weakly than without a budget.
///
/// The estimate is SSIM's own formula (Gaussian window, σ 1.5, C₁ = (0.01·255)², C₂ = (0.03·255)², R, G and B
/// averaged, as `watermark-bench` measures it) on one window per `windowStride`² pixels (the Gaussian's central
/// 7×7), from the windows' moments of the picture x and of the unrounded delta d (at boost 1): with d scaled by
/// s, μ_y = μ_x + s·μ_d, σ_y² = σ_x² + 2s·σ_xd + s²·σ_d² + r and σ_xy = σ_x² + s·σ_xd, where r is the rounding's
/// variance (per pixel min(d², 1/12): a delta under half a level rounds away). The largest s meeting the target
/// is found by bisection on the windows' moments (the pixels are read once), and capped so that the frame's
/// estimated PSNR stays at least `minimumPSNR`. On the sample clips the estimate lands within about 0.0003 of the true
/// SSIM (`benchmarks/watermark/RESULTS.md`); it reads about `windowsPerFrame` sampled windows per frame.
public struct SSIMBudget: Sendable, Equatable {
    /// The frame's estimated SSIM the boost may go down to.
    public var target: Double = 0.9957
    /// The largest boost.
    public var maximumBoost: Float = 1.6
    /// The frame's estimated PSNR (dB) the boost may go down to (the floor is 42).
    public var minimumPSNR: Double = 43
    /// Pixels between the centres of the windows the estimate uses, at least; larger frames use a larger stride,
    /// so that about `windowsPerFrame` windows are read whatever the size.
    public var windowStride = 16
    public var windowsPerFrame = 400

    public init() {}

    /// SSIM's stabilising constants, the mask's own (`WatermarkEmbedder.Mask`).
    static let c1 = Double(WatermarkEmbedder.Mask.ssimC1), c2 = Double(WatermarkEmbedder.Mask.ssimC2)
    /// The window's half-width, and its weights (7×7, row-major): SSIM's Gaussian (σ 1.5) over ±3 pixels, normalised to sum 1.
    static let radius = 3
    static let windowWeights: [Float] = {
        let raw = (-radius...radius).map { exp(-Double($0 * $0) / (2 * 1.5 * 1.5)) }
        let sum = raw.reduce(0, +)
        return raw.flatMap { a in raw.map { b in Float(a * b / (sum * sum)) } }
    }()

    /// Moments of one window for one channel: μ_x, σ_x², σ_xd, and the delta's μ_d, σ_d² and rounding variance.
    struct Window {
        var mx: Double, vx: Double, cxd: Double, md: Double, vd: Double, rounding: Double
    }

    /// The factor for `image` (W × H RGB) marked with unit-RMS `pattern` (W·H values) times the per-4×4-block
    /// `blockGains` (row-major, ⌈W/blockSize⌉ per row).
    func boost(image: RGBImage, pattern: [Float], blockGains: [Float], blockSize: Int) -> Float {
        let windows = moments(image: image, pattern: pattern, blockGains: blockGains, blockSize: blockSize)
        guard !windows.isEmpty, maximumBoost > 1 else { return 1 }
        func ssim(_ s: Double) -> Double {
            var total = 0.0
            for m in windows {
                let my = m.mx + s * m.md
                let vy = m.vx + 2 * s * m.cxd + s * s * m.vd + m.rounding
                let cxy = m.vx + s * m.cxd
                total += ((2 * m.mx * my + Self.c1) * (2 * cxy + Self.c2)) / ((m.mx * m.mx + my * my + Self.c1) * (m.vx + vy + Self.c2))
            }
            return total / Double(windows.count)
        }
        if ssim(1) < target { return 1 }
        // PSNR: the mean squared delta is about s²·E[d²] plus the rounding's variance.
        let squared = windows.reduce(0) { $0 + $1.vd + $1.md * $1.md } / Double(windows.count)
        let rounding = windows.reduce(0) { $0 + $1.rounding } / Double(windows.count)
        let allowedMSE = 255 * 255 / pow(10, minimumPSNR / 10)
        let psnrLimit = squared > 0 ? ((allowedMSE - rounding) / squared).squareRoot() : Double(maximumBoost)
        let top = min(Double(maximumBoost), psnrLimit)
        guard top > 1 else { return 1 }
        if ssim(top) >= target { return Float(top) }
        var low = 1.0, high = top
        for _ in 0..<7 {
            let mid = (low + high) / 2
            if ssim(mid) >= target { low = mid } else { high = mid }
        }
        return Float(low)
    }

    /// The windows' moments, three per window (R, G, B). Window centres: one per `windowStride`² cell of a grid,
    /// at a hashed offset inside it, so that the samples do not alias with the mark's cells; the window is the
    /// Gaussian's central 7×7 (91% of its weight, renormalised); the picture's values are taken relative to the
    /// window's centre pixel (single precision keeps the variances).
    func moments(image: RGBImage, pattern: [Float], blockGains: [Float], blockSize: Int) -> [Window] {
        let w = image.width, h = image.height
        let blocksAcross = (w + blockSize - 1) / blockSize
        let stride = max(1, windowStride, Int((Double(w * h) / Double(max(1, windowsPerFrame))).squareRoot()))
        let radius = Self.radius
        let shift = blockSize.trailingZeroBitCount  // a power of two
        guard blockSize.nonzeroBitCount == 1, w > 2 * radius, h > 2 * radius, pattern.count == w * h else { return [] }
        let weights = Self.windowWeights
        let across = (w - 2 * radius + stride - 1) / stride, down = (h - 2 * radius + stride - 1) / stride
        var windows: [Window] = []
        windows.reserveCapacity(3 * across * down)
        image.pixels.withUnsafeBufferPointer { px in
        pattern.withUnsafeBufferPointer { pat in
        blockGains.withUnsafeBufferPointer { gains in
        weights.withUnsafeBufferPointer { weight2D in
            for j in 0..<down {
                for i in 0..<across {
                    var hash = UInt64(truncatingIfNeeded: j &* 0x9E37_79B9 &+ i &* 0x85EB_CA6B) &* 0xC2B2_AE3D_27D4_EB4F
                    hash ^= hash >> 29
                    let cx = min(w - 1 - radius, radius + i * stride + Int(hash % UInt64(stride)))
                    let cy = min(h - 1 - radius, radius + j * stride + Int((hash >> 32) % UInt64(stride)))
                    let centre = 3 * (cy * w + cx)
                    let r0 = Float(px[centre]), g0 = Float(px[centre + 1]), b0 = Float(px[centre + 2])
                    var r: Float = 0, g: Float = 0, b: Float = 0, rr: Float = 0, gg: Float = 0, bb: Float = 0
                    var rd: Float = 0, gd: Float = 0, bd: Float = 0, sd: Float = 0, sdd: Float = 0, sr: Float = 0
                    var k = 0
                    for dy in -radius...radius {
                        let y = cy + dy
                        let gainRow = (y >> shift) * blocksAcross
                        for dx in -radius...radius {
                            let x = cx + dx, weight = weight2D[k]
                            k += 1
                            let d = gains[gainRow + (x >> shift)] * pat[y * w + x]
                            let wd = weight * d
                            sd += wd
                            sdd += wd * d
                            sr += weight * min(d * d, 1 / 12)
                            let p = 3 * (y * w + x)
                            let vr = Float(px[p]) - r0, vg = Float(px[p + 1]) - g0, vb = Float(px[p + 2]) - b0
                            r += weight * vr; g += weight * vg; b += weight * vb
                            rr += weight * vr * vr; gg += weight * vg * vg; bb += weight * vb * vb
                            rd += wd * vr; gd += wd * vg; bd += wd * vb
                        }
                    }
                    let md = Double(sd), vd = max(0, Double(sdd) - md * md)
                    for (m, squares, cross, origin) in [(r, rr, rd, r0), (g, gg, gd, g0), (b, bb, bd, b0)] {
                        let mean = Double(m)
                        windows.append(Window(mx: mean + Double(origin), vx: max(0, Double(squares) - mean * mean),
                                              cxd: Double(cross) - mean * md, md: md, vd: vd, rounding: Double(sr)))
                    }
                }
            }
        }
        }
        }
        }
        return windows
    }
}
