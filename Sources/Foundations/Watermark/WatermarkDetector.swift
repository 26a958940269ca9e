import Foundation
import Media

/// What the detector found.
public struct WatermarkDetection: Codable, Sendable, Equatable {
    /// True when the sync pattern's correlation is significant: `falsePositiveProbability` at most the
    /// detector's threshold.
    public var detected: Bool
    /// The 32-bit payload, when detected and a list-decoded message's CRC-24 checks.
    public var payload: WatermarkPayload?
    /// Probability that a file without the mark scores at least this high: the one-sided Gaussian tail of
    /// the best correlation z-score, times the number of (scale, shift, flip) hypotheses tried (Bonferroni).
    public var falsePositiveProbability: Double
    /// The sync correlation peak of the match used (the one the payload was read at, else the best), in units
    /// of the correlation surface's standard deviation.
    public var zScore: Double
    /// Frames accumulated (frames of another size than the first are left out).
    public var framesUsed: Int
    /// Cell size in pixels of the best match, and whether it was found in the mirrored picture.
    public var cellSize: Double
    public var flipped: Bool
    /// The bit layout the payload was read with (`WatermarkScheme` raw value), when a payload was read.
    public var scheme: String?
    /// When a payload was read: the chance that it is a wrong message whose CRC-24 happened to check, at most
    /// the passing word's position in the checking order times 2⁻²⁴ (about 6·10⁻⁸ for the first word; up to
    /// 0.8% for a payload the deep search found late, see `Settings.deepListSize`).
    public var payloadErrorBound: Double?
}

/// Blind detector: accumulates whitened luma over frames, then searches scale, cyclic offset (crops) and
/// mirroring for the keyed sync pattern, and reads the payload at the best match.
///
/// Per frame (`add`): luma minus its local mean over a window about a cell wide, clipped at 3× its mean
/// absolute value (so edges do not dominate), summed into one frame-sized accumulator. The mark is the same
/// in every frame while content changes, so its share of the sum grows with the number of frames.
/// At the end (`result`): for each candidate cell size the accumulator is folded onto the tile
/// (`binsPerTile`² bins) and cross-correlated with the sync cells' pattern by FFT; every cyclic shift is a
/// crop offset. The payload is read at the best few peaks: per coded bit, the correlation with its cells
/// (inter-cell leakage equalised), soft-decision list decoding (most likely messages first), CRC-24; when
/// the sync is strong and none of the first messages checks, a deep search lists further (`deepListSize`).
/// Not thread-safe.
public final class WatermarkDetector {
    public struct Settings: Sendable {
        /// Largest false-positive probability still reported as detected.
        public var maxFalsePositiveProbability: Double
        /// Cell sizes tried, relative to `min(width, height) / cellsPerSide` of the frame seen: 1 for any uniform
        /// rescale, 1.25 for a 10%-per-side crop kept at its size. Default 0.95...1.35 (crops up to 13%).
        public var relativeCellSizes: ClosedRange<Double>
        /// Multiplicative step between cell sizes tried.
        public var cellSizeStep: Double
        /// Also try the mirrored picture (horizontal flip).
        public var searchMirrored: Bool
        /// Sync peaks (distinct matches, best first) at which a payload is decoded, besides the unscaled,
        /// unshifted, unmirrored geometry (the truth for any re-encode or uniform rescale), which is always tried.
        public var payloadCandidates: Int
        /// Messages per decoding checked against the CRC: the list Viterbi decoder's best `listSize` paths.
        public var listSize: Int
        /// How far the deep search lists the current layout's messages at the fixed geometry and at the best
        /// peak when no payload was read among the first `listSize`: a word at position k of the checking order
        /// is only checked while `2·k·H·p_c·2⁻²⁴` can still reach `maxFalsePositiveProbability`, so the depth
        /// used grows with the sync evidence (an unmarked file checks none). A marked file whose payload is only
        /// found deep is read right in most cases; a wrong word passing the CRC first has probability about
        /// (words checked)·2⁻²⁴, at most 0.8% at the default (far less for most: the right word usually comes
        /// within the first few thousand).
        public var deepListSize: Int = 65536
        /// Stop accumulating after this many frames.
        public var maxFrames: Int
        /// Radius of the local mean subtracted from luma, in cells (of the unscaled cell size).
        public var whiteningRadiusCells: Double
        /// Radius over which the residual is normalised by its mean magnitude, in cells; 0: a global clip.
        public var normalizationRadiusCells: Double
        /// Radius, in cells, of the local RMS the accumulated evidence is divided by before folding (0: not
        /// weighted). Static content adds up over frames like the mark does, moving content averages out, so the
        /// accumulator's noise differs from region to region; dividing by its local RMS (to `evidenceWeightPower`)
        /// weighs each region by how clean it is.
        public var evidenceWeightRadiusCells: Double
        public var evidenceWeightPower: Double
        /// When set, the unscaled cell size in pixels (the tiled still layout) instead of a 32nd of the shorter
        /// side; `relativeCellSizes` are relative to it.
        public var fixedCellSize: Double?
        /// A single picture of at least this shorter side is also searched for the tiled still layout (a tiled
        /// still of 320 px downscaled to 47%).
        public var tiledStillMinimumSide = 150
        /// Spectral whitening of each folded tile before it is read: every spatial frequency divided by the tile's
        /// own power there (smoothed over ±`spectralSmoothing` frequency bins) to the power `spectralWhitening / 2`
        /// (0: off; 2 would be the matched filter in Gaussian noise of that spectrum). What is left of the picture
        /// after the local whitening is far from white (edges and textures keep strong bands), and it is the noise
        /// the mark is read against: flattening it reads the payload in 58 of 62 attacked 2-s excerpts (50 without),
        /// best at 1.5 (1: 55-57, 2: 55).
        public var spectralWhitening: Double = 1.5
        public var spectralSmoothing: Int = 2
        /// Regularisation of the inter-cell equaliser (relative to its kernel's largest squared value; the kernel
        /// includes the spectral whitening).
        public var equalizerEpsilon: Double = 0.3

        /// The search for the tiled still layout (`WatermarkLayout.stillCellSize`) on a picture: cells from 45% of
        /// that size (a downscale to 45%) to 105%, otherwise these settings.
        var tiledStill: Settings {
            var t = self
            t.fixedCellSize = WatermarkLayout.stillCellSize
            t.relativeCellSizes = 0.45...1.05
            return t
        }

        public init(maxFalsePositiveProbability: Double = 1e-6, relativeCellSizes: ClosedRange<Double> = 0.95...1.35,
                    cellSizeStep: Double = 0.006, searchMirrored: Bool = true, payloadCandidates: Int = 8,
                    maxFrames: Int = 450, whiteningRadiusCells: Double = 0.35, normalizationRadiusCells: Double = 0.5,
                    evidenceWeightRadiusCells: Double = 1, evidenceWeightPower: Double = 1, listSize: Int = 64) {
            self.listSize = listSize
            self.evidenceWeightRadiusCells = evidenceWeightRadiusCells
            self.evidenceWeightPower = evidenceWeightPower
            self.payloadCandidates = payloadCandidates
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
    /// The first frame searched for the tiled still layout (kept while it is the only frame).
    private var tiled: WatermarkDetector?
    public private(set) var framesSkipped = 0
    private var width = 0
    private var height = 0
    private var accumulator: [Float] = []
    /// The accumulator weighted by its local RMS (`evidenceWeightRadiusCells`), computed once per `result`.
    private var weightedCache: [Float]?

    public init(key: WatermarkKey = .facet, settings: Settings = Settings()) {
        self.key = key
        self.settings = settings
    }

    /// The unscaled cell size in pixels: `settings.fixedCellSize`, else a 32nd of the frames' shorter side.
    var baseCellSize: Double { settings.fixedCellSize ?? WatermarkLayout.cellSize(width: width, height: height) }

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
        if framesUsed == 0, settings.fixedCellSize == nil, min(image.width, image.height) >= settings.tiledStillMinimumSide {
            tiled = WatermarkDetector(key: key, settings: settings.tiledStill)
            tiled?.add(image)
        } else if framesUsed > 0 {
            tiled = nil
        }
        let cell = baseCellSize
        let residual = Self.whitened(image, radius: max(1, Int((settings.whiteningRadiusCells * cell).rounded())),
                                     normalizationRadius: Int((settings.normalizationRadiusCells * cell).rounded()))
        for i in 0..<residual.count { accumulator[i] += residual[i] }
        framesUsed += 1
        weightedCache = nil
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
        // The vertical pass row by row (a column at a time strides through memory and stalls on large
        // pictures): each column's prefix sums, the same sums in the same order, kept for the last
        // 2·radius + 2 rows in a ring.
        var out = [Float](repeating: 0, count: w * h)
        let ringRows = min(h + 1, 2 * max(radius, 0) + 2)
        var ring = [Double](repeating: 0, count: ringRows * w)
        var summed = 0
        for y in 0..<h {
            let a = max(0, y - radius), b = min(h, y + radius + 1)
            while summed < b {
                let from = (summed % ringRows) * w, to = ((summed + 1) % ringRows) * w, row = summed * w
                for x in 0..<w { ring[to + x] = ring[from + x] + Double(horizontal[row + x]) }
                summed += 1
            }
            let pa = (a % ringRows) * w, pb = (b % ringRows) * w, n = Double(b - a)
            for x in 0..<w { out[y * w + x] = Float((ring[pb + x] - ring[pa + x]) / n) }
        }
        return out
    }

    /// Searches the accumulated evidence. With no frames: not detected, probability 1.
    ///
    /// Two tests, either of which detects: (a) the best sync correlation alone, with probability
    /// `p = min(1, H·Q(z))` (Q the standard normal tail, H the number of scale × shift × flip hypotheses,
    /// Bonferroni); (b) a payload whose CRC-24 checks, list-decoded with one of the readable schemes'
    /// layouts at one of the candidate geometries (the unscaled, unshifted one, then the `payloadCandidates`
    /// best sync peaks), with probability `k·H_W·2⁻²⁴·p_c`: k the position of the passing word in the checking
    /// order (geometries, then layouts, then the list decoder's paths, `listSize` per decoding; then the deep
    /// search's words, alternating between its two decodings, see `Settings.deepListSize`), W the most words
    /// that can be checked ((payloadCandidates + 1) × schemes × listSize + 2 × (deepListSize − listSize)),
    /// H_W = 1 + 1/2 + … + 1/W, p_c
    /// the geometry's own sync probability (`Q(z)` for the fixed geometry, the Bonferroni `p` for a searched
    /// peak, which is at least the best peak's; at most 1). Under the null a checked word passes the CRC with
    /// probability 2⁻²⁴, independently of the sync cells the search looks at, so the chance that some word k
    /// passes with `k·H_W·2⁻²⁴·p_c ≤ t` is at most Σ_k 2⁻²⁴·t·2²⁴/(k·H_W) = t: a valid p-value that rewards a
    /// payload found early. The reported
    /// probability is twice the smaller of the two (a union bound over both tests), so it stays an upper bound
    /// on the chance that an unmarked file is flagged.
    public func result() -> WatermarkDetection {
        let own = search()
        // A single picture is also searched for the tiled still layout; either search may find the mark, so the
        // probability is a union bound over both (twice the smaller).
        guard framesUsed == 1, let tiled else { return own }
        let still = tiled.search()
        var chosen = still.falsePositiveProbability < own.falsePositiveProbability ? still : own
        chosen.falsePositiveProbability = min(1, 2 * min(own.falsePositiveProbability, still.falsePositiveProbability))
        chosen.detected = chosen.falsePositiveProbability <= settings.maxFalsePositiveProbability
        if !chosen.detected { chosen.payload = nil; chosen.scheme = nil; chosen.payloadErrorBound = nil }
        return chosen
    }

    /// One search (see `result`) at this detector's cell sizes.
    func search() -> WatermarkDetection {
        let m = WatermarkLayout.binsPerTile
        let none = WatermarkDetection(detected: false, payload: nil, falsePositiveProbability: 1, zScore: 0,
                                      framesUsed: framesUsed, cellSize: 0, flipped: false, scheme: nil)
        guard framesUsed > 0 else { return none }
        let syncPattern = Self.syncPattern(key)
        let fft = FFT2D(n: m)
        let syncSpectrum = fft.spectrum(of: syncPattern)
        let exclusion = 2 * WatermarkLayout.binsPerCell

        let base = baseCellSize
        let lower = Int((log(settings.relativeCellSizes.lowerBound) / settings.cellSizeStep).rounded(.down))
        let upper = Int((log(settings.relativeCellSizes.upperBound) / settings.cellSizeStep).rounded(.up))
        let steps = Array(lower...upper)
        let flips = settings.searchMirrored ? [false, true] : [false]
        let hypotheses = Double(steps.count * flips.count * m * m)
        func tail(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }
        func bonferroni(_ z: Double) -> Double { min(1, tail(z) * hypotheses) }

        typealias Peak = (z: Double, p: Double, step: Int, flip: Bool, dx: Int, dy: Int, folded: [Double])
        var peaks: [Peak] = []
        var fixed: Peak?
        for flip in flips {
            for step in steps {
                let folded = fold(cellSize: base * exp(Double(step) * settings.cellSizeStep), flipped: flip)
                let re = fft.crossCorrelation(spectrum: whitenedSpectrum(folded, fft: fft).spectrum, with: syncSpectrum)
                let (z, dx, dy) = Self.peak(re, side: m, exclusion: exclusion)
                peaks.append((z, bonferroni(z), step, flip, dx, dy, folded))
                if step == 0 && !flip {
                    let z0 = Self.zScore(re, side: m, x: 0, y: 0, exclusion: exclusion)
                    fixed = (z0, min(1, tail(z0)), 0, false, 0, 0, folded)
                }
            }
        }
        peaks.sort { $0.z > $1.z }
        guard let best = peaks.first else { return none }
        // Distinct candidates: a peak at a neighbouring scale and nearly the same shift is the same match.
        var candidates: [Peak] = fixed.map { [$0] } ?? []
        for p in peaks where candidates.count < settings.payloadCandidates + (fixed == nil ? 0 : 1) {
            let duplicate = candidates.contains { c in
                c.flip == p.flip && abs(c.step - p.step) <= 2 && Self.cyclicDistance(c.dx, p.dx, m) <= 2
                    && Self.cyclicDistance(c.dy, p.dy, m) <= 2
            }
            if !duplicate { candidates.append(p) }
        }
        let schemes = WatermarkScheme.readable.map { ($0, WatermarkLayout.cells(key, scheme: $0)) }
        let list = max(1, settings.listSize)
        let deepList = max(list, settings.deepListSize)
        // Words in checking order: first `list` per decoding (candidates, then layouts), then the deep search's,
        // interleaved over its `deepSlots` decodings. The numbering is fixed in advance, whatever is checked.
        let firstStageWords = (settings.payloadCandidates + 1) * schemes.count * list
        let deepSlots = 2
        let harmonic = Self.harmonic(firstStageWords + deepSlots * (deepList - list))
        let crcSpace = Double(1 << WatermarkLayout.crcBits)
        var probability = best.p
        var chosen = best
        var payload: WatermarkPayload?
        var scheme: WatermarkScheme?
        var position = 0.0  // the passing word's position k in the checking order
        var deep: [(decoder: WatermarkCode.ListDecoder, candidate: Peak, evidence: [Double])] = []
        /// A word that checks, at place `k` of the checking order, read at candidate `c`.
        func accept(_ read: WatermarkPayload, at k: Double, _ c: Peak, evidence: [Double]) {
            position = k
            probability = min(probability, k * harmonic * c.p / crcSpace)
            payload = read; chosen = c
            scheme = Self.bestFitting(schemes, payload: read, evidence: evidence)
        }
        var checked = 0  // words checked before the current decoding, `list` per decoding
        search: for (index, c) in candidates.enumerated() {
            let evidence = cellEvidence(whitened(c.folded, fft: fft), dx: c.dx, dy: c.dy)
            for (layout, cells) in schemes {
                var decoder = WatermarkCode.ListDecoder(Self.softBits(evidence: evidence, cells: cells),
                                                        messageBits: WatermarkLayout.messageBits)
                for rank in 0..<list {
                    guard let bits = decoder.next() else { break }
                    guard let read = WatermarkLayout.payload(messageBits: bits) else { continue }
                    accept(read, at: Double(checked + rank + 1), c, evidence: evidence)
                    break search
                }
                if layout == .current && index < deepSlots { deep.append((decoder, c, evidence)) }
                checked += list
            }
        }
        // The deep search: the current layout at the fixed geometry and the best peak, listed further, word k kept
        // only while it could still be detected (2·k·H·p_c·2⁻²⁴ within the threshold), so an unmarked file's
        // weak sync stops it at once.
        if payload == nil && !deep.isEmpty {
            let reach = settings.maxFalsePositiveProbability * crcSpace / (2 * harmonic)
            deepSearch: for j in 0..<(deepList - list) {
                var open = false
                for d in deep.indices {
                    let k = Double(firstStageWords + j * deepSlots + d + 1)
                    guard k * deep[d].candidate.p <= reach, let bits = deep[d].decoder.next() else { continue }
                    open = true
                    guard let read = WatermarkLayout.payload(messageBits: bits) else { continue }
                    accept(read, at: k, deep[d].candidate, evidence: deep[d].evidence)
                    break deepSearch
                }
                if !open { break }
            }
        }
        probability = min(1, 2 * probability)
        let detected = probability <= settings.maxFalsePositiveProbability
        return WatermarkDetection(detected: detected, payload: detected ? payload : nil,
                                  falsePositiveProbability: probability, zScore: chosen.z, framesUsed: framesUsed,
                                  cellSize: base * exp(Double(chosen.step) * settings.cellSizeStep),
                                  flipped: chosen.flip, scheme: detected ? scheme?.rawValue : nil,
                                  payloadErrorBound: detected && payload != nil ? min(1, position / crcSpace) : nil)
    }

    /// The sync cells' pattern at detector resolution (`binsPerTile`² values): the sync cells of
    /// `WatermarkScheme.current`, which are sync cells in every readable scheme.
    static func syncPattern(_ key: WatermarkKey) -> [Double] {
        let cells = WatermarkLayout.cells(key, scheme: .current)
        return WatermarkLayout.renderBins(WatermarkLayout.cellValues(cells, code: nil, onlyBit: -1)).map(Double.init)
    }

    /// Diagnosis against a known payload at a known geometry (the unscaled cell size, no shift, not mirrored:
    /// the truth for any uniform rescale or re-encode of a marked file): the sync correlation at that
    /// alignment in units of the surface's RMS, and the coded bits' soft values as a signal-to-noise ratio
    /// (mean of soft·sign over their standard deviation; about 1.2 or more usually decodes).
    public func diagnose(payload: WatermarkPayload, scheme: WatermarkScheme = .current) -> (syncZ: Double, codedBitSNR: Double) {
        let m = WatermarkLayout.binsPerTile
        guard framesUsed > 0 else { return (0, 0) }
        let cells = WatermarkLayout.cells(key, scheme: scheme)
        let fft = FFT2D(n: m)
        let folded = whitened(fold(cellSize: baseCellSize, flipped: false), fft: fft)
        let re = fft.crossCorrelation(spectrum: fft.spectrum(of: folded.bins), with: fft.spectrum(of: Self.syncPattern(key)))
        let soft = Self.softBits(evidence: cellEvidence(folded, dx: 0, dy: 0), cells: cells)
        let truth = WatermarkLayout.codeSigns(payload)
        let products = zip(soft, truth).map { $0 * Double($1) }
        let mean = products.reduce(0, +) / Double(products.count)
        let sd = (products.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(products.count)).squareRoot()
        return (Self.zScore(re, side: m, x: 0, y: 0, exclusion: 2 * WatermarkLayout.binsPerCell), sd > 0 ? mean / sd : 0)
    }

    /// The coded bits' soft values at the known geometry (see `diagnose`), each times its sign in `payload`'s code
    /// (positive: read right); `codedBits` values.
    public func signedSoftBits(payload: WatermarkPayload, scheme: WatermarkScheme = .current) -> [Double] {
        let cells = WatermarkLayout.cells(key, scheme: scheme)
        let soft = Self.softBits(evidence: cellEvidenceAtTruth(), cells: cells)
        return zip(soft, WatermarkLayout.codeSigns(payload)).map { $0 * Double($1) }
    }

    /// Per tile cell (`cellsPerTile`² values), the evidence at the known geometry (unscaled cell size, no shift,
    /// not mirrored) of the frames added: what the payload is read from for any re-encode or uniform rescale.
    func cellEvidenceAtTruth() -> [Double] {
        guard framesUsed > 0 else { return [Double](repeating: 0, count: WatermarkLayout.cellsPerTile * WatermarkLayout.cellsPerTile) }
        return cellEvidence(whitened(fold(cellSize: baseCellSize, flipped: false), fft: FFT2D(n: WatermarkLayout.binsPerTile)), dx: 0, dy: 0)
    }

    static func cyclicDistance(_ a: Int, _ b: Int, _ m: Int) -> Int { min((a - b + m) % m, (b - a + m) % m) }

    /// The accumulator folded onto the tile at `cellSize` pixels per cell: mean per bin, minus the overall mean.
    func fold(cellSize: Double, flipped: Bool) -> [Double] {
        Self.fold(weightedAccumulator(), width: width, height: height, cellSize: cellSize, flipped: flipped)
    }

    /// `plane` (`width` × `height`, row-major) folded onto the tile of `binsPerTile`² bins at `cellSize` pixels
    /// per cell (mirrored left to right when `flipped`): each bin's mean, minus the mean over the bins that
    /// have pixels (empty bins stay 0).
    static func fold(_ plane: [Float], width: Int, height: Int, cellSize: Double, flipped: Bool) -> [Double] {
        let m = WatermarkLayout.binsPerTile
        let bin = cellSize / Double(WatermarkLayout.binsPerCell)
        let columnBin = (0..<width).map { x -> Int in
            let source = flipped ? width - 1 - x : x
            return Int((Double(source) + 0.5) / bin) % m
        }
        let rowBin = (0..<height).map { y in Int((Double(y) + 0.5) / bin) % m * m }
        var sum = [Double](repeating: 0, count: m * m)
        // A bin's pixel count is its rows' count times its columns' (the bins are a grid); the sums are
        // added pixel by pixel in reading order, without bounds checks (this is the search's inner loop:
        // once per scale and mirror hypothesis over every pixel).
        var rowsPerBin = [Int](repeating: 0, count: m), columnsPerBin = [Int](repeating: 0, count: m)
        for r in rowBin { rowsPerBin[r / m] += 1 }
        for c in columnBin { columnsPerBin[c] += 1 }
        let count = (0..<(m * m)).map { rowsPerBin[$0 / m] * columnsPerBin[$0 % m] }
        plane.withUnsafeBufferPointer { acc in
            columnBin.withUnsafeBufferPointer { bins in
                sum.withUnsafeMutableBufferPointer { total in
                    for y in 0..<height {
                        let r = rowBin[y], row = y * width
                        var x = 0
                        // A run of pixels in one bin adds in a register (the same additions in the same
                        // order as adding to the bin each time, without waiting on its store).
                        while x < width {
                            let c = bins[x]
                            var v = total[r + c]
                            repeat { v += Double(acc[row + x]); x += 1 } while x < width && bins[x] == c
                            total[r + c] = v
                        }
                    }
                }
            }
        }
        var total: Double = 0, filled = 0
        for i in 0..<(m * m) where count[i] > 0 { sum[i] /= Double(count[i]); total += sum[i]; filled += 1 }
        let mean = filled > 0 ? total / Double(filled) : 0
        for i in 0..<(m * m) where count[i] > 0 { sum[i] -= mean }
        return sum
    }

    /// A folded tile ready to be read: its bins after spectral whitening, and the whitening's gains per
    /// frequency (nil: none), which the equaliser's kernel includes.
    struct Tile {
        var bins: [Double]
        var filter: [Double]?
    }

    /// A folded tile's spectrum, spectrally whitened (see `Settings.spectralWhitening`), and the whitening's gains
    /// (nil when it is off): the gains come from the tile's own power, so the spectrum is computed once.
    func whitenedSpectrum(_ folded: [Double], fft: FFT2D) -> (spectrum: (re: [Double], im: [Double]), gains: [Double]?) {
        var (re, im) = fft.spectrum(of: folded)
        guard settings.spectralWhitening > 0 else { return ((re, im), nil) }
        let n = re.count
        var power = [Double](repeating: 0, count: n)
        for i in 0..<n { power[i] = re[i] * re[i] + im[i] * im[i] }
        let gains = Self.whiteningGains(power: power, exponent: settings.spectralWhitening, smoothing: settings.spectralSmoothing)
        for i in 0..<n { re[i] *= gains[i]; im[i] *= gains[i] }
        return ((re, im), gains)
    }

    /// A folded tile spectrally whitened, back in bins; as it is when the whitening is off.
    func whitened(_ folded: [Double], fft: FFT2D) -> Tile {
        let (spectrum, gains) = whitenedSpectrum(folded, fft: fft)
        guard let gains else { return Tile(bins: folded, filter: nil) }
        var (re, im) = spectrum
        fft.transform(&re, &im, inverse: true)
        let scale = 1 / Double(re.count)
        return Tile(bins: re.map { $0 * scale }, filter: gains)
    }

    /// The gains from the tile's power spectrum (`binsPerTile`² values): smoothed by a cyclic box of
    /// ±`smoothing` bins (separable running sums), plus a floor of 10⁻⁶ of the mean, to the power `-exponent / 2`.
    static func whiteningGains(power: [Double], exponent: Double, smoothing: Int) -> [Double] {
        let m = WatermarkLayout.binsPerTile, r = min(max(0, smoothing), m / 2 - 1)
        let width = Double(2 * r + 1)
        var rows = [Double](repeating: 0, count: m * m), smooth = rows
        for y in 0..<m {
            let row = y * m
            var sum = 0.0
            for dx in -r...r { sum += power[row + (dx + m) % m] }
            for x in 0..<m {
                rows[row + x] = sum
                sum += power[row + (x + r + 1) % m] - power[row + (x - r + m) % m]
            }
        }
        for x in 0..<m {
            var sum = 0.0
            for dy in -r...r { sum += rows[((dy + m) % m) * m + x] }
            for y in 0..<m {
                smooth[y * m + x] = sum / (width * width)
                sum += rows[((y + r + 1) % m) * m + x] - rows[((y - r + m) % m) * m + x]
            }
        }
        let floor = max(1e-12, smooth.reduce(0, +) / Double(m * m) * 1e-6)
        // x^(-3/4), the default exponent 1.5, without `pow`.
        if exponent == 1.5 { return smooth.map { let v = $0 + floor, q = v.squareRoot(); return 1 / (q * q.squareRoot()) } }
        return smooth.map { pow($0 + floor, -exponent / 2) }
    }

    /// The accumulator divided by its local RMS to `evidenceWeightPower` (see `Settings.evidenceWeightRadiusCells`).
    func weightedAccumulator() -> [Float] {
        if let weightedCache { return weightedCache }
        var out = accumulator
        let cell = baseCellSize
        let radius = Int((settings.evidenceWeightRadiusCells * cell).rounded())
        if radius > 0 && !accumulator.isEmpty {
            let energy = Self.boxMean(accumulator.map { $0 * $0 }, width: width, height: height, radius: radius)
            let floor = max(1e-6, energy.reduce(0, +) / Float(energy.count) * 1e-4)
            let power = Float(settings.evidenceWeightPower) / 2
            for i in 0..<out.count { out[i] /= powf(energy[i] + floor, power) }
        }
        weightedCache = out
        return out
    }

    /// The highest value of a cyclic correlation surface, as a z-score (`zScore`) and its shift.
    static func peak(_ surface: [Double], side m: Int, exclusion: Int) -> (z: Double, dx: Int, dy: Int) {
        var maxIndex = 0
        for i in 1..<surface.count where surface[i] > surface[maxIndex] { maxIndex = i }
        let px = maxIndex % m, py = maxIndex / m
        return (zScore(surface, side: m, x: px, y: py, exclusion: exclusion), px, py)
    }

    /// The value at shift (`x`, `y`) of a cyclic correlation surface in units of the surface's RMS away from
    /// that shift (outside a square of `exclusion` bins around it).
    static func zScore(_ surface: [Double], side m: Int, x px: Int, y py: Int, exclusion: Int) -> Double {
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
        return sigma > 0 ? surface[py * m + px] / sigma : 0
    }

    /// Per-cell evidence of the folded tile shifted by (`dx`, `dy`) bins: its correlation with each cell's
    /// rendering (`WatermarkLayout.cellEvidence`), inter-cell leakage equalised; `cellsPerTile`² values.
    func cellEvidence(_ folded: Tile, dx: Int, dy: Int) -> [Double] {
        let m = WatermarkLayout.binsPerTile
        var shifted = [Double](repeating: 0, count: m * m)
        for y in 0..<m { for x in 0..<m { shifted[y * m + x] = folded.bins[((y + dy) % m) * m + (x + dx) % m] } }
        let spectrum = folded.filter.map { WatermarkLayout.interCellSpectrum(binFilter: $0) } ?? WatermarkLayout.interCellSpectrum
        return WatermarkLayout.equalized(WatermarkLayout.cellEvidence(shifted), spectrum: spectrum, epsilon: settings.equalizerEpsilon)
    }

    /// Soft coded bits: per coded bit, the sum of its cells' evidence times their signs.
    static func softBits(evidence: [Double], cells: WatermarkLayout.Cells) -> [Double] {
        var soft = [Double](repeating: 0, count: WatermarkLayout.codedBits)
        for c in 0..<evidence.count where cells.bit[c] >= 0 { soft[cells.bit[c]] += Double(cells.sign[c]) * evidence[c] }
        return soft
    }

    /// Which layout marked the file, given its payload: the schemes share most cells (a later scheme's data
    /// cells include all of an earlier one's, bit for bit), so either may decode the payload; they differ in the
    /// cells that are sync in one and data in the other. The scheme whose whole tile for `payload` correlates
    /// best with the evidence.
    static func bestFitting(_ schemes: [(WatermarkScheme, WatermarkLayout.Cells)], payload: WatermarkPayload,
                            evidence: [Double]) -> WatermarkScheme? {
        let code = WatermarkLayout.codeSigns(payload)
        var best: (scheme: WatermarkScheme, score: Double)?
        for (scheme, cells) in schemes {
            let values = WatermarkLayout.cellValues(cells, code: code, onlyBit: nil)
            var score = 0.0
            for c in 0..<evidence.count { score += Double(values[c]) * evidence[c] }
            if score > best?.score ?? -Double.infinity { best = (scheme, score) }
        }
        return best?.scheme
    }

    /// 1 + 1/2 + … + 1/n.
    static func harmonic(_ n: Int) -> Double { (1...max(1, n)).reduce(0) { $0 + 1 / Double($1) } }
}
