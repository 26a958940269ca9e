import FacetCore
import Media

/// Embeds Facet's invisible watermark into the luma of whole RGB frames.
///
/// Every frame gets the same keyed spread-spectrum pattern (see `WatermarkLayout`), scaled per 4×4 block by
/// a perceptual mask built from SSIM's own tolerances: the amplitude in luma levels is
/// `max(1.5, 0.05·sqrt(2σ² + C₂))`, capped by `0.035·sqrt(2μ² + C₁)` (dark blocks get less: SSIM's luminance
/// term) and by 3, with μ, σ the block's luma mean and standard deviation and C₁ = (0.01·255)²,
/// C₂ = (0.03·255)². The pattern is smooth at SSIM's window scale, so flat regions take 1.5 levels and
/// textured ones up to three. The floor is high on purpose: after re-encoding, flat mid-grey regions carry
/// most of the evidence (their content interferes least); it is as high as SSIM ≥ 0.995 allows on the sample
/// clips (1.6 already drops d3 to 0.9950).
/// The same integer is added to R, G and B, so only luma changes (chroma is untouched).
///
/// The pattern for a frame size is computed once and cached; embedding then costs one pass over the pixels.
/// Not thread-safe: use one embedder per thread.
public final class WatermarkEmbedder {
    public let payload: WatermarkPayload
    public let key: WatermarkKey
    /// Multiplies the mask's amplitude (1: the tuned default that keeps PSNR ≥ 42 dB, SSIM ≥ 0.995).
    public let strength: Float

    /// Mask block side; the loops index blocks with `x >> 2`.
    static let blockSize = 4
    static let maskFactor: Float = 0.05
    static let luminanceFactor: Float = 0.035
    static let ssimC2: Float = 58.5225
    static let ssimC1: Float = 6.5025
    static let minimumAmplitude: Float = 1.5
    static let maximumAmplitude: Float = 3

    private let cellValues: [Float]
    private var patternWidth = 0
    private var patternHeight = 0
    /// Unit-RMS pattern for the cached frame size, `patternWidth * patternHeight` values, row-major.
    private var pattern: [Float] = []

    public init(payload: WatermarkPayload, key: WatermarkKey = .facet, strength: Float = 1) {
        self.payload = payload
        self.key = key
        self.strength = strength
        let cells = WatermarkLayout.cells(key)
        cellValues = WatermarkLayout.cellValues(cells, code: WatermarkLayout.codeSigns(payload), onlyBit: nil)
    }

    /// The unit-RMS pattern for a `width` × `height` frame (row-major), before masking.
    public func pattern(width: Int, height: Int) -> [Float] {
        preparePattern(width: width, height: height)
        return pattern
    }

    /// Adds the watermark to `image` in place (any size of at least 16 × 16; smaller images are left as
    /// they are, having too few cells to carry the mark).
    public func embed(into image: inout RGBImage) {
        let w = image.width, h = image.height
        guard w >= 16, h >= 16 else { return }
        preparePattern(width: w, height: h)
        let bs = Self.blockSize
        let blocksAcross = (w + bs - 1) / bs
        var gains = [Float](repeating: 0, count: blocksAcross)
        var sums = [Int](repeating: 0, count: blocksAcross)
        var squares = [Int](repeating: 0, count: blocksAcross)
        let factor = Self.maskFactor * strength
        let lo = Self.minimumAmplitude * strength, hi = Self.maximumAmplitude * strength
        pattern.withUnsafeBufferPointer { pat in
            image.pixels.withUnsafeMutableBufferPointer { px in
                var y0 = 0
                while y0 < h {
                    let y1 = min(h, y0 + bs)
                    for i in 0..<blocksAcross { sums[i] = 0; squares[i] = 0 }
                    for y in y0..<y1 {
                        var p = y * w * 3
                        for x in 0..<w {
                            let l = (77 &* Int(px[p]) &+ 150 &* Int(px[p + 1]) &+ 29 &* Int(px[p + 2]) &+ 128) >> 8
                            sums[x >> 2] &+= l
                            squares[x >> 2] &+= l &* l
                            p += 3
                        }
                    }
                    for i in 0..<blocksAcross {
                        let n = Float((min(w, (i + 1) * bs) - i * bs) * (y1 - y0))
                        let mean = Float(sums[i]) / n
                        let variance = max(0, Float(squares[i]) / n - mean * mean)
                        let luminanceLimit = Self.luminanceFactor * strength * (2 * mean * mean + Self.ssimC1).squareRoot()
                        gains[i] = min(hi, luminanceLimit, max(lo, factor * (2 * variance + Self.ssimC2).squareRoot()))
                    }
                    for y in y0..<y1 {
                        var p = y * w * 3
                        let row = y * w
                        for x in 0..<w {
                            let d = Int((gains[x >> 2] * pat[row + x]).rounded())
                            if d != 0 {
                                px[p] = UInt8(clamping: Int(px[p]) + d)
                                px[p + 1] = UInt8(clamping: Int(px[p + 1]) + d)
                                px[p + 2] = UInt8(clamping: Int(px[p + 2]) + d)
                            }
                            p += 3
                        }
                    }
                    y0 = y1
                }
            }
        }
    }

    private func preparePattern(width w: Int, height h: Int) {
        if w == patternWidth && h == patternHeight && !pattern.isEmpty { return }
        let c = WatermarkLayout.cellSize(width: w, height: h)
        var out = [Float](repeating: 0, count: w * h)
        var energy: Double = 0
        cellValues.withUnsafeBufferPointer { v in
            for y in 0..<h {
                let b = (Double(y) + 0.5) / c
                for x in 0..<w {
                    let s = WatermarkLayout.sample(v, a: (Double(x) + 0.5) / c, b: b)
                    out[y * w + x] = s
                    energy += Double(s * s)
                }
            }
        }
        if WatermarkLayout.bandPass {
            let mean = WatermarkDetector.boxMean(out, width: w, height: h, radius: max(1, Int(c.rounded())))
            energy = 0
            for i in 0..<out.count { out[i] -= mean[i]; energy += Double(out[i] * out[i]) }
        }
        let rms = Float((energy / Double(max(1, w * h))).squareRoot())
        if rms > 0 { for i in 0..<out.count { out[i] /= rms } }
        pattern = out
        patternWidth = w
        patternHeight = h
    }
}
