import Foundation
import Media

/// What the detector found.
public struct WatermarkDetection: Codable, Sendable, Equatable {
    /// True when the sync pattern's correlation is significant: `falsePositiveProbability` at most the
    /// detector's threshold.
    public var detected: Bool
    /// The 32-bit payload, when detected and its CRC-16 checks (after correcting at most 2 weak bits).
    public var payload: WatermarkPayload?
    /// Probability that a file without the mark scores at least this high: the one-sided Gaussian tail of
    /// the best correlation z-score, times the number of (scale, shift, flip) hypotheses tried (Bonferroni).
    public var falsePositiveProbability: Double
    /// The best correlation peak in units of the correlation surface's standard deviation.
    public var zScore: Double
    /// Frames accumulated (frames of another size than the first are left out).
    public var framesUsed: Int
    /// Cell size in pixels of the best match, and whether it was found in the mirrored picture.
    public var cellSize: Double
    public var flipped: Bool
    /// Code bits that had to be flipped for the CRC to check (0...2), when a payload was read.
    public var correctedBits: Int?
}

/// Blind detector: accumulates whitened luma over frames, then searches scale, cyclic offset (crops) and
/// mirroring for the keyed sync pattern, and reads the payload at the best match.
///
/// Per frame (`add`): luma minus its local mean over a window about a cell wide, clipped at 3× its mean
/// absolute value (so edges do not dominate), summed into one frame-sized accumulator. The mark is the same
/// in every frame while content changes, so its share of the sum grows with the number of frames.
/// At the end (`result`): for each candidate cell size the accumulator is folded onto the tile
/// (`binsPerTile`² bins) and cross-correlated with the sync cells' pattern by FFT; every cyclic shift is a
/// crop offset. Not thread-safe.
public final class WatermarkDetector {
    public struct Settings: Sendable {
        /// Largest false-positive probability still reported as detected.
        public var maxFalsePositiveProbability: Double
        /// Cell sizes tried, relative to `height / cellsPerHeight` of the frame seen: 1 for any uniform
        /// rescale, 1.25 for a 10%-per-side crop kept at its size. Default 0.95...1.35 (crops up to 13%).
        public var relativeCellSizes: ClosedRange<Double>
        /// Multiplicative step between cell sizes tried.
        public var cellSizeStep: Double
        /// Also try the mirrored picture (horizontal flip).
        public var searchMirrored: Bool
        /// Stop accumulating after this many frames.
        public var maxFrames: Int
        /// Radius of the local mean subtracted from luma, in cells (of the unscaled cell size).
        public var whiteningRadiusCells: Double
        /// Radius over which the residual is normalised by its mean magnitude, in cells; 0: a global clip.
        public var normalizationRadiusCells: Double

        public init(maxFalsePositiveProbability: Double = 1e-6, relativeCellSizes: ClosedRange<Double> = 0.95...1.35,
                    cellSizeStep: Double = 0.004, searchMirrored: Bool = true, maxFrames: Int = 450,
                    whiteningRadiusCells: Double = 0.5, normalizationRadiusCells: Double = 0.5) {
            self.normalizationRadiusCells = normalizationRadiusCells
            self.whiteningRadiusCells = whiteningRadiusCells
            self.maxFalsePositiveProbability = maxFalsePositiveProbability
            self.relativeCellSizes = relativeCellSizes
            self.cellSizeStep = cellSizeStep
            self.searchMirrored = searchMirrored
            self.maxFrames = maxFrames
        }
    }

    public let key: WatermarkKey
    public let settings: Settings
    public private(set) var framesUsed = 0
    public private(set) var framesSkipped = 0
    private var width = 0
    private var height = 0
    private var accumulator: [Float] = []

    public init(key: WatermarkKey = .facet, settings: Settings = Settings()) {
        self.key = key
        self.settings = settings
    }

    /// True once `maxFrames` frames are in.
    public var isFull: Bool { framesUsed >= settings.maxFrames }

    /// Adds one frame's evidence. Frames smaller than 16 × 16 or of another size than the first are skipped.
    public func add(_ image: RGBImage) {
        guard image.width >= 16, image.height >= 16, !isFull else { framesSkipped += 1; return }
        if accumulator.isEmpty {
            width = image.width; height = image.height
            accumulator = [Float](repeating: 0, count: width * height)
        } else if image.width != width || image.height != height {
            framesSkipped += 1
            return
        }
        let cell = WatermarkLayout.cellSize(frameHeight: image.height)
        let residual = Self.whitened(image, radius: max(1, Int((settings.whiteningRadiusCells * cell).rounded())),
                                     normalizationRadius: Int((settings.normalizationRadiusCells * cell).rounded()))
        for i in 0..<residual.count { accumulator[i] += residual[i] }
        framesUsed += 1
    }

    /// Luma minus its box mean over `(2·radius+1)²` pixels, divided by the local mean absolute residual
    /// (over `normalizationRadius`; the mark's amplitude follows local activity, so this weighs every region by
    /// its signal-to-content ratio), clipped at ±3.
    static func whitened(_ image: RGBImage, radius: Int, normalizationRadius: Int) -> [Float] {
        let w = image.width, h = image.height
        var luma = [Float](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<(w * h) {
                luma[i] = 0.299 * Float(px[3 * i]) + 0.587 * Float(px[3 * i + 1]) + 0.114 * Float(px[3 * i + 2])
            }
        }
        let mean = boxMean(luma, width: w, height: h, radius: radius)
        var residual = [Float](repeating: 0, count: w * h)
        var magnitude = [Float](repeating: 0, count: w * h)
        for i in 0..<(w * h) { residual[i] = luma[i] - mean[i]; magnitude[i] = abs(residual[i]) }
        if normalizationRadius > 0 {
            let activity = boxMean(magnitude, width: w, height: h, radius: normalizationRadius)
            for i in 0..<(w * h) { residual[i] = min(3, max(-3, residual[i] / (activity[i] + 0.5))) }
        } else {
            let limit = 3 * magnitude.reduce(0, +) / Float(w * h)
            if limit > 0 { for i in 0..<residual.count { residual[i] = min(limit, max(-limit, residual[i])) } }
        }
        return residual
    }

    /// Mean over a `(2·radius+1)²` box around each pixel, the box clipped at the borders.
    static func boxMean(_ plane: [Float], width w: Int, height h: Int, radius: Int) -> [Float] {
        var horizontal = [Float](repeating: 0, count: w * h)
        var prefix = [Double](repeating: 0, count: w + 1)
        for y in 0..<h {
            for x in 0..<w { prefix[x + 1] = prefix[x] + Double(plane[y * w + x]) }
            for x in 0..<w {
                let a = max(0, x - radius), b = min(w, x + radius + 1)
                horizontal[y * w + x] = Float((prefix[b] - prefix[a]) / Double(b - a))
            }
        }
        var out = [Float](repeating: 0, count: w * h)
        var column = [Double](repeating: 0, count: h + 1)
        for x in 0..<w {
            for y in 0..<h { column[y + 1] = column[y] + Double(horizontal[y * w + x]) }
            for y in 0..<h {
                let a = max(0, y - radius), b = min(h, y + radius + 1)
                out[y * w + x] = Float((column[b] - column[a]) / Double(b - a))
            }
        }
        return out
    }

    /// Searches the accumulated evidence. With no frames: not detected, probability 1.
    public func result() -> WatermarkDetection {
        let m = WatermarkLayout.binsPerTile
        let none = WatermarkDetection(detected: false, payload: nil, falsePositiveProbability: 1, zScore: 0,
                                      framesUsed: framesUsed, cellSize: 0, flipped: false, correctedBits: nil)
        guard framesUsed > 0 else { return none }
        let cells = WatermarkLayout.cells(key)
        let sync = WatermarkLayout.renderBins(WatermarkLayout.cellValues(cells, code: nil, onlyBit: -1))
        let fft = FFT2D(n: m)
        var syncRe = sync.map(Double.init), syncIm = [Double](repeating: 0, count: m * m)
        fft.transform(&syncRe, &syncIm, inverse: false)

        let base = WatermarkLayout.cellSize(frameHeight: height)
        let lower = Int((log(settings.relativeCellSizes.lowerBound) / settings.cellSizeStep).rounded(.down))
        let upper = Int((log(settings.relativeCellSizes.upperBound) / settings.cellSizeStep).rounded(.up))
        let scales = (lower...upper).map { base * exp(Double($0) * settings.cellSizeStep) }
        let flips = settings.searchMirrored ? [false, true] : [false]

        var best: (z: Double, cell: Double, flip: Bool, dx: Int, dy: Int, folded: [Double])?
        for flip in flips {
            for cell in scales {
                let folded = fold(cellSize: cell, flipped: flip)
                var re = folded, im = [Double](repeating: 0, count: m * m)
                fft.transform(&re, &im, inverse: false)
                for i in 0..<(m * m) {
                    let r = re[i] * syncRe[i] + im[i] * syncIm[i]
                    let j = im[i] * syncRe[i] - re[i] * syncIm[i]
                    re[i] = r; im[i] = j
                }
                fft.transform(&re, &im, inverse: true)
                let (z, dx, dy) = Self.peak(re, side: m, exclusion: 2 * WatermarkLayout.binsPerCell)
                if best == nil || z > best!.z { best = (z, cell, flip, dx, dy, folded) }
            }
        }
        guard let found = best else { return none }
        let hypotheses = Double(scales.count * flips.count * m * m)
        let tail = 0.5 * erfc(found.z / 2.0.squareRoot())
        let probability = min(1, tail * hypotheses)
        let detected = probability <= settings.maxFalsePositiveProbability
        var payload: WatermarkPayload?
        var corrected: Int?
        if detected, let read = Self.readPayload(found.folded, dx: found.dx, dy: found.dy, cells: cells) {
            payload = read.payload; corrected = read.corrected
        }
        return WatermarkDetection(detected: detected, payload: payload, falsePositiveProbability: probability,
                                  zScore: found.z, framesUsed: framesUsed, cellSize: found.cell, flipped: found.flip,
                                  correctedBits: corrected)
    }

    /// The accumulator folded onto the tile at `cellSize` pixels per cell: mean per bin, minus the overall mean.
    func fold(cellSize: Double, flipped: Bool) -> [Double] {
        let m = WatermarkLayout.binsPerTile
        let bin = cellSize / Double(WatermarkLayout.binsPerCell)
        let columnBin = (0..<width).map { x -> Int in
            let source = flipped ? width - 1 - x : x
            return Int((Double(source) + 0.5) / bin) % m
        }
        let rowBin = (0..<height).map { y in Int((Double(y) + 0.5) / bin) % m * m }
        var sum = [Double](repeating: 0, count: m * m)
        var count = [Int](repeating: 0, count: m * m)
        accumulator.withUnsafeBufferPointer { acc in
            for y in 0..<height {
                let r = rowBin[y], row = y * width
                for x in 0..<width {
                    sum[r + columnBin[x]] += Double(acc[row + x])
                    count[r + columnBin[x]] += 1
                }
            }
        }
        var total: Double = 0, filled = 0
        for i in 0..<(m * m) where count[i] > 0 { sum[i] /= Double(count[i]); total += sum[i]; filled += 1 }
        let mean = filled > 0 ? total / Double(filled) : 0
        for i in 0..<(m * m) where count[i] > 0 { sum[i] -= mean }
        return sum
    }

    /// The highest value of a cyclic correlation surface, in units of the surface's RMS away from the peak.
    static func peak(_ surface: [Double], side m: Int, exclusion: Int) -> (z: Double, dx: Int, dy: Int) {
        var maxIndex = 0
        for i in 1..<surface.count where surface[i] > surface[maxIndex] { maxIndex = i }
        let px = maxIndex % m, py = maxIndex / m
        var squares: Double = 0, n = 0
        for y in 0..<m {
            let ddy = min((y - py + m) % m, (py - y + m) % m)
            for x in 0..<m {
                let ddx = min((x - px + m) % m, (px - x + m) % m)
                if ddx <= exclusion && ddy <= exclusion { continue }
                squares += surface[y * m + x] * surface[y * m + x]; n += 1
            }
        }
        let sigma = (squares / Double(max(1, n))).squareRoot()
        return (sigma > 0 ? surface[maxIndex] / sigma : 0, px, py)
    }

    /// Soft code bits at offset (`dx`, `dy`), hard decisions, then a CRC check with up to two of the six
    /// least reliable bits flipped (Chase decoding).
    static func readPayload(_ folded: [Double], dx: Int, dy: Int, cells: WatermarkLayout.Cells) -> (payload: WatermarkPayload, corrected: Int)? {
        let m = WatermarkLayout.binsPerTile
        var shifted = [Double](repeating: 0, count: m * m)
        for y in 0..<m { for x in 0..<m { shifted[y * m + x] = folded[((y + dy) % m) * m + (x + dx) % m] } }
        var soft = [Double](repeating: 0, count: WatermarkLayout.codeBits)
        for k in 0..<WatermarkLayout.codeBits {
            let pattern = WatermarkLayout.renderBins(WatermarkLayout.cellValues(cells, code: nil, onlyBit: k))
            var s: Double = 0
            for i in 0..<(m * m) where pattern[i] != 0 { s += shifted[i] * Double(pattern[i]) }
            soft[k] = s
        }
        var word: UInt64 = 0
        for s in soft { word = (word << 1) | (s > 0 ? 1 : 0) }
        let weakest = soft.indices.sorted { abs(soft[$0]) < abs(soft[$1]) }.prefix(6).map { UInt64(WatermarkLayout.codeBits - 1 - $0) }
        var candidates: [(UInt64, Int)] = [(word, 0)]
        for a in weakest { candidates.append((word ^ (1 << a), 1)) }
        for i in 0..<weakest.count { for j in (i + 1)..<weakest.count { candidates.append((word ^ (1 << weakest[i]) ^ (1 << weakest[j]), 2)) } }
        for (candidate, flips) in candidates {
            let value = UInt32(truncatingIfNeeded: candidate >> 16)
            if UInt16(truncatingIfNeeded: candidate) == WatermarkLayout.crc16(value) { return (WatermarkPayload(value), flips) }
        }
        return nil
    }
}
