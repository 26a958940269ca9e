import Foundation
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
    /// The bit layout (`WatermarkScheme.current` unless a test marks with an older one).
    public let scheme: WatermarkScheme
    /// Multiplies the mask's amplitude (1: the tuned default that keeps PSNR ≥ 42 dB, SSIM ≥ 0.995).
    public let strength: Float

    /// Mask block side; the loops index blocks with `x >> 2`.
    static let blockSize = 4

    /// The perceptual mask: the amplitude in luma levels of a 4×4 block with luma mean μ and variance σ²
    /// (see the type's description), before `strength`.
    public struct Mask: Sendable, Equatable {
        /// Amplitude per unit of `sqrt(2σ² + C₂)` (SSIM's contrast tolerance).
        public var textureFactor: Float = 0.05
        /// Cap per unit of `sqrt(2μ² + C₁)` (SSIM's luminance tolerance).
        public var luminanceFactor: Float = 0.035
        /// Floor and cap, in luma levels.
        public var minimumAmplitude: Float = 1.5
        public var maximumAmplitude: Float = 3
        /// Blocks darker than this mean luma are left unmarked (0: none).
        public var darkLuma: Float = 0
        static let ssimC2: Float = 58.5225
        static let ssimC1: Float = 6.5025
        public init() {}

        /// The amplitude for a block, times `strength`.
        @inline(__always)
        func gain(mean: Float, variance: Float, strength: Float) -> Float {
            let luminanceLimit = luminanceFactor * strength * (2 * mean * mean + Self.ssimC1).squareRoot()
            let g = min(maximumAmplitude * strength, luminanceLimit,
                        max(minimumAmplitude * strength, textureFactor * strength * (2 * variance + Self.ssimC2).squareRoot()))
            return mean < darkLuma ? 0 : g
        }
    }
    public let mask: Mask

    /// Per-frame strength above `strength` where SSIM leaves room (see `SSIMBudget`); nil: a fixed strength.
    public let budget: SSIMBudget?
    /// The factor the last frame's amplitude was multiplied by (1 without a budget or without room).
    public private(set) var lastBoost: Float = 1

    private let cellValues: [Float]
    /// When set, the pattern is divided by this instead of its own RMS (`StillWatermark` scales cells against
    /// the nominal mark's RMS).
    private let fixedRMS: Float?
    /// When set, the cell size in pixels for every frame size (the tiled still layout), instead of a 32nd of the
    /// shorter side.
    let cellSizeOverride: Double?
    private var patternWidth = 0
    private var patternHeight = 0
    /// Unit-RMS pattern for the cached frame size, `patternWidth * patternHeight` values, row-major.
    private var pattern: [Float] = []
    /// Per-band work space of `embed`: column luma sums and squares (`2 * width`).
    private var scratch: [Int32] = []
    /// One row's deltas, repeated for R, G and B (`3 * width`).
    private var deltaRow: [Int16] = []
    /// `embed(into:boostFrom:)` measures again only the bands of 4 rows that differ from the reference (false: every
    /// band; the tests compare the two).
    var reusesUnchangedBands = true
    /// The 4×4-block gain repeated for each pixel of a band's row (width rounded up to whole blocks).
    private var gainRow: [Float] = []
    /// Every 4×4 block's gain, row-major (`blocksDown × blocksAcross`).
    private var blockGains: [Float] = []

    public init(payload: WatermarkPayload, key: WatermarkKey = .facet, scheme: WatermarkScheme = .current, strength: Float = 1,
                mask: Mask = Mask(), budget: SSIMBudget? = SSIMBudget()) {
        self.payload = payload
        self.mask = mask
        self.budget = budget
        self.key = key
        self.scheme = scheme
        self.strength = strength
        let cells = WatermarkLayout.cells(key, scheme: scheme)
        cellValues = WatermarkLayout.cellValues(cells, code: WatermarkLayout.codeSigns(payload), onlyBit: nil)
        fixedRMS = nil
        cellSizeOverride = nil
    }

    /// An embedder of the given tile cell values (`cellsPerTile`² values, row-major) at `cellSize` pixels per cell
    /// (nil: a 32nd of the shorter side), its pattern divided by `rms` (nil: its own RMS; the nominal mark's,
    /// `patternRMS`, so that values scaled per cell scale the mark there).
    init(payload: WatermarkPayload, key: WatermarkKey, scheme: WatermarkScheme, strength: Float = 1, mask: Mask = Mask(), cellValues: [Float],
         rms: Float?, cellSize: Double?) {
        self.payload = payload; self.key = key; self.scheme = scheme; self.strength = strength; self.mask = mask
        self.budget = nil
        self.cellValues = cellValues
        fixedRMS = rms
        cellSizeOverride = cellSize
    }

    /// The RMS the pattern for a `width` × `height` frame is divided by.
    func patternRMS(width: Int, height: Int) -> Float {
        renderedPattern(width: width, height: height).rms
    }

    /// The unit-RMS pattern for a `width` × `height` frame (row-major), before masking.
    public func pattern(width: Int, height: Int) -> [Float] {
        preparePattern(width: width, height: height)
        return pattern
    }

    /// Adds the watermark to `image` in place (any size of at least 16 × 16; smaller images are left as
    /// they are, having too few cells to carry the mark).
    ///
    /// First the gain of every 4×4 block: per band of 4 rows, luma (BT.601 integer weights) summed per column
    /// over the band, then per block into the mask's gain. Then, with a `budget`, the frame's boost (one factor
    /// for all gains). Then per row the rounded deltas `gain × pattern`, written three times (R, G, B) into a
    /// row of 16-bit deltas, added to the row's bytes with clamping. Every loop runs over contiguous rows
    /// without branches, so the compiler vectorises them (AVX2); the output equals `embedReference(into:)` byte
    /// for byte.
    public func embed(into image: inout RGBImage) {
        embed(into: &image, boostFrom: nil)
    }

    /// The same, with the frame's boost (`SSIMBudget`) measured on `reference` (same size) instead of on `image`.
    /// `swap` passes the frame as decoded, before any face is pasted in: the boost is one factor for the whole
    /// frame, so measured on the result it would let a swapped face move the mark's rounding everywhere, and every
    /// 4×4 block that no swapped face touches would no longer be marked exactly as the input frame alone is.
    public func embed(into image: inout RGBImage, boostFrom reference: RGBImage?) {
        let w = image.width, h = image.height
        guard w >= 16, h >= 16 else { return }
        preparePattern(width: w, height: h)
        let bs = Self.blockSize
        let blocksAcross = (w + bs - 1) / bs, blocksDown = (h + bs - 1) / bs
        if scratch.count != 2 * w { scratch = [Int32](repeating: 0, count: 2 * w) }
        if deltaRow.count != 3 * w { deltaRow = [Int16](repeating: 0, count: 3 * w) }
        if gainRow.count != blocksAcross * bs { gainRow = [Float](repeating: 0, count: blocksAcross * bs) }
        if blockGains.count != blocksAcross * blocksDown { blockGains = [Float](repeating: 0, count: blocksAcross * blocksDown) }
        if let reference, budget != nil, reference.width == w, reference.height == h {
            computeBlockGains(reference, blocksAcross: blocksAcross, blocksDown: blocksDown)
            applyBudget(reference)
            // The reference's gains (boosted) stand for every band of 4 rows the image has unchanged; only the bands
            // a face was pasted into are measured again (the same gains the whole pass would give).
            computeBlockGains(image, blocksAcross: blocksAcross, blocksDown: blocksDown, times: lastBoost,
                              skippingBandsEqualTo: reusesUnchangedBands ? reference : nil)
        } else {
            computeBlockGains(image, blocksAcross: blocksAcross, blocksDown: blocksDown)
            applyBudget(image)
        }
        writeDeltas(into: &image, blocksAcross: blocksAcross)
    }

    /// Every 4×4 block's mask gain into `blockGains`, times `factor` (when not 1): per band of 4 rows, luma (BT.601
    /// integer weights) summed per column over the band, then per block. With `unchanged` (same size), a band whose
    /// bytes equal its bytes keeps the gains already there.
    private func computeBlockGains(_ image: RGBImage, blocksAcross: Int, blocksDown: Int, times factor: Float = 1,
                                   skippingBandsEqualTo unchanged: RGBImage? = nil) {
        let w = image.width, h = image.height, bs = Self.blockSize
        let mask = self.mask, strength = self.strength
        let empty: [UInt8] = []
        let other = unchanged.map(\.pixels) ?? empty
        scratch.withUnsafeMutableBufferPointer { scratchBuffer in
        blockGains.withUnsafeMutableBufferPointer { gainBuffer in
        other.withUnsafeBufferPointer { otherBuffer in
        image.pixels.withUnsafeBufferPointer { pixelBuffer in
            guard let sBase = scratchBuffer.baseAddress, let gains = gainBuffer.baseAddress, let px = pixelBuffer.baseAddress else { return }
            let reference = otherBuffer.count == pixelBuffer.count ? otherBuffer.baseAddress : nil
            let sums = sBase, squares = sBase + w
            for by in 0..<blocksDown {
                let y0 = by * bs, y1 = min(h, y0 + bs)
                if let reference, memcmp(px + y0 * w * 3, reference + y0 * w * 3, (y1 - y0) * w * 3) == 0 { continue }
                sums.update(repeating: 0, count: w)
                squares.update(repeating: 0, count: w)
                for y in y0..<y1 {
                    let row = px + y * w * 3
                    for x in 0..<w {
                        let l = (77 &* Int32(row[3 &* x]) &+ 150 &* Int32(row[3 &* x &+ 1])
                                 &+ 29 &* Int32(row[3 &* x &+ 2]) &+ 128) &>> 8
                        sums[x] &+= l
                        squares[x] &+= l &* l
                    }
                }
                let rows = y1 - y0
                for i in 0..<blocksAcross {
                    let x0 = i * bs, x1 = min(w, x0 + bs)
                    var sum: Int32 = 0, square: Int32 = 0
                    for x in x0..<x1 { sum &+= sums[x]; square &+= squares[x] }
                    let n = Float((x1 - x0) * rows)
                    let mean = Float(sum) / n
                    let variance = max(0, Float(square) / n - mean * mean)
                    let gain = mask.gain(mean: mean, variance: variance, strength: strength)
                    gains[by * blocksAcross + i] = factor == 1 ? gain : gain * factor
                }
            }
        }
        }
        }
        }
    }

    /// Adds the rounded deltas `blockGains × pattern` to `image`, the same integer to R, G and B.
    private func writeDeltas(into image: inout RGBImage, blocksAcross: Int) {
        let w = image.width, h = image.height, bs = Self.blockSize
        pattern.withUnsafeBufferPointer { pat in
        deltaRow.withUnsafeMutableBufferPointer { deltaBuffer in
        gainRow.withUnsafeMutableBufferPointer { gainRowBuffer in
        blockGains.withUnsafeBufferPointer { blockBuffer in
        image.pixels.withUnsafeMutableBufferPointer { pixelBuffer in
            guard let patBase = pat.baseAddress, let gains = gainRowBuffer.baseAddress, let blocks = blockBuffer.baseAddress,
                  let px = pixelBuffer.baseAddress, let delta = deltaBuffer.baseAddress else { return }
            for y in 0..<h {
                if y % bs == 0 {
                    let band = blocks + (y / bs) * blocksAcross
                    for i in 0..<blocksAcross { for x in (i * bs)..<(i * bs + bs) { gains[x] = band[i] } }
                }
                let p = patBase + y * w
                for x in 0..<w {
                    let d = Int16(truncatingIfNeeded: Self.roundedToInt32(gains[x] * p[x]))
                    delta[3 &* x] = d
                    delta[3 &* x &+ 1] = d
                    delta[3 &* x &+ 2] = d
                }
                let row = px + y * w * 3
                for i in 0..<(3 * w) {
                    row[i] = UInt8(truncatingIfNeeded: min(max(Int16(row[i]) &+ delta[i], 0), 255))
                }
            }
        }
        }
        }
        }
        }
    }

    /// The scalar reference twin of `embed(into:)`, one pixel at a time; the result is the same, byte for byte
    /// (tests and `watermark-bench embed-speed` compare them).
    public func embedReference(into image: inout RGBImage) {
        let w = image.width, h = image.height
        guard w >= 16, h >= 16 else { return }
        preparePattern(width: w, height: h)
        let bs = Self.blockSize
        let blocksAcross = (w + bs - 1) / bs, blocksDown = (h + bs - 1) / bs
        var sums = [Int](repeating: 0, count: blocksAcross * blocksDown)
        var squares = [Int](repeating: 0, count: blocksAcross * blocksDown)
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<h {
                for x in 0..<w {
                    let p = (y * w + x) * 3
                    let l = (77 &* Int(px[p]) &+ 150 &* Int(px[p + 1]) &+ 29 &* Int(px[p + 2]) &+ 128) >> 8
                    sums[(y >> 2) * blocksAcross + (x >> 2)] &+= l
                    squares[(y >> 2) * blocksAcross + (x >> 2)] &+= l &* l
                }
            }
        }
        blockGains = [Float](repeating: 0, count: blocksAcross * blocksDown)
        for by in 0..<blocksDown {
            for i in 0..<blocksAcross {
                let n = Float((min(w, (i + 1) * bs) - i * bs) * (min(h, (by + 1) * bs) - by * bs))
                let mean = Float(sums[by * blocksAcross + i]) / n
                let variance = max(0, Float(squares[by * blocksAcross + i]) / n - mean * mean)
                blockGains[by * blocksAcross + i] = mask.gain(mean: mean, variance: variance, strength: strength)
            }
        }
        applyBudget(image)
        pattern.withUnsafeBufferPointer { pat in
            image.pixels.withUnsafeMutableBufferPointer { px in
                for y in 0..<h {
                    for x in 0..<w {
                        let d = Int((blockGains[(y >> 2) * blocksAcross + (x >> 2)] * pat[y * w + x]).rounded())
                        let p = (y * w + x) * 3
                        if d != 0 {
                            px[p] = UInt8(clamping: Int(px[p]) + d)
                            px[p + 1] = UInt8(clamping: Int(px[p + 1]) + d)
                            px[p + 2] = UInt8(clamping: Int(px[p + 2]) + d)
                        }
                    }
                }
            }
        }
    }

    /// With a budget: every block gain times the frame's boost (`SSIMBudget.boost`), recorded in `lastBoost`.
    private func applyBudget(_ image: RGBImage) {
        guard let budget else { lastBoost = 1; return }
        lastBoost = budget.boost(image: image, pattern: pattern, blockGains: blockGains, blockSize: Self.blockSize)
        if lastBoost != 1 { for i in blockGains.indices { blockGains[i] *= lastBoost } }
    }

    /// `Int32(v.rounded())` (half away from zero) for |v| < 2²²: truncation, a step by one where the
    /// fraction is at least one half, and the float-to-integer conversion through the mantissa (adding
    /// 1.5·2²³ puts the integer in the low bits), so that a loop over it has no branch or trap and vectorises.
    @inline(__always)
    static func roundedToInt32(_ v: Float) -> Int32 {
        let t = v.rounded(.towardZero)
        let f = v - t
        let r = f >= 0.5 ? t + 1 : (f <= -0.5 ? t - 1 : t)
        return Int32(bitPattern: (r + 12_582_912).bitPattern &- 0x4B40_0000)
    }

    private func preparePattern(width w: Int, height h: Int) {
        if w == patternWidth && h == patternHeight && !pattern.isEmpty { return }
        var (out, rms) = renderedPattern(width: w, height: h)
        if let fixedRMS { rms = fixedRMS }
        if rms > 0 { for i in 0..<out.count { out[i] /= rms } }
        pattern = out
        patternWidth = w
        patternHeight = h
    }

    /// The cells rendered over a `w` × `h` frame (bilinear, band-passed), and their RMS.
    private func renderedPattern(width w: Int, height h: Int) -> (pattern: [Float], rms: Float) {
        let c = cellSizeOverride ?? WatermarkLayout.cellSize(width: w, height: h)
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
        return (out, Float((energy / Double(max(1, w * h))).squareRoot()))
    }
}
