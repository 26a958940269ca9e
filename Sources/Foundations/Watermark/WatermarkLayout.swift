import Foundation
import FacetCore

/// The secret-free key that lays out Facet's watermark. Facet's key is public on purpose: anyone with Facet
/// must be able to check a file. A different key gives an unrelated pattern (another tool, or tests).
public struct WatermarkKey: Sendable, Hashable {
    public let seed: UInt64
    public init(seed: UInt64) { self.seed = seed }
    /// The key every `swap` output is marked with and `score provenance` looks for.
    public static let facet = WatermarkKey(seed: 0x4661_6365_745F_5731)  // "Facet_W1"
}

/// The 32 bits a watermark carries (for `swap`: the first 8 hex digits of the run's provenance hash).
/// Encoded in JSON as 8 lower-case hex digits.
public struct WatermarkPayload: Sendable, Hashable, Codable, CustomStringConvertible {
    public let value: UInt32
    public init(_ value: UInt32) { self.value = value }

    /// The payload from a hex string's first 8 hex digits (e.g. a SHA-256 in hex); nil when there are fewer
    /// than 8 or they are not hex.
    public init?(hexPrefix hex: String) {
        let digits = hex.prefix(8)
        guard digits.count == 8, let v = UInt32(digits, radix: 16) else { return nil }
        value = v
    }

    /// The 4 bytes, most significant first.
    var bytes: [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> UInt32($0)) } }

    public var description: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let p = WatermarkPayload(hexPrefix: s), s.count == 8 else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "payload must be 8 hex digits, got '\(s)'")
        }
        self = p
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A bit layout of the mark: how the tile's cells are shared between sync and the coded payload bits. Every
/// scheme uses the same key-derived cell order, with the first `syncCells` cells of that order as sync, so a
/// later scheme's sync cells are a subset of an earlier one's and one sync search finds files of both.
public enum WatermarkScheme: String, Sendable, Codable, CaseIterable {
    /// 528 sync cells, 4 cells per coded bit (Facet's swaps until issue 15's third round).
    case ssLuma2 = "facet-ss-luma-2"
    /// 280 sync cells, 6 cells per coded bit: 1.22× the coded bits' signal-to-noise ratio of `ssLuma2` for
    /// 0.73× the sync correlation.
    case ssLuma3 = "facet-ss-luma-3"

    /// The scheme `swap` marks with.
    public static let current = WatermarkScheme.ssLuma3
    /// The schemes the detector reads, in the order tried.
    public static let readable: [WatermarkScheme] = [.ssLuma3, .ssLuma2]

    /// Cells per coded bit, scattered over the tile.
    public var cellsPerCodedBit: Int {
        switch self {
        case .ssLuma2: return 4
        case .ssLuma3: return 6
        }
    }

    /// How many of the tile's cells are sync cells (the rest carry the code).
    public var syncCells: Int {
        WatermarkLayout.cellsPerTile * WatermarkLayout.cellsPerTile - cellsPerCodedBit * WatermarkLayout.codedBits
    }
}

/// The geometry of the mark, shared by embedder and detector.
///
/// The pattern is a torus ("tile") of `cellsPerTile` × `cellsPerTile` cells repeated over the whole frame.
/// A cell is `min(width, height) / cellsPerSide` pixels on a side, so the pattern scales with the picture (a
/// resized copy has the same cells per side) and the whole tile fits across the shorter side of any frame,
/// portrait or landscape. Each cell holds ±1 (a keyed pseudo-random sign); `syncCells` cells ("sync") always
/// carry their sign and locate the tile; the other cells carry it times one of the coded bits (`WatermarkCode`:
/// 32 payload bits + CRC-24 through a rate-1/2 convolutional code, 124 coded bits), the scheme's
/// `cellsPerCodedBit` cells per coded bit scattered across the tile (`WatermarkScheme`). Between cell centres the value is interpolated bilinearly and the
/// result is band-passed (minus its mean over a cell-sized box): periods of about 2 to 4 cells (30-60 px in a
/// 480-px frame, 15-30 px after a 50% downscale), where H.264 and JPEG keep energy and SSIM's small window
/// sees a nearly constant shift.
public enum WatermarkLayout {
    /// Cells along one side of the repeating tile.
    public static let cellsPerTile = 32
    /// Cells per shorter frame side: a cell is `min(width, height) / cellsPerSide` pixels (11 px at 360 lines,
    /// 5.6 after a 50% downscale). Measured on the sample clips (2-s excerpts, 50% downscale, CRF 28), 32 per
    /// side reads the payload better than 24, 40 or 48: smaller cells meet less static picture content at the
    /// mark's frequencies, larger ones survive compression better.
    public static let cellsPerSide = 32.0
    /// Detector bins per cell side when folding frames onto the tile.
    public static let binsPerCell = 4
    /// Detector tile side in bins (`cellsPerTile * binsPerCell`), a power of two for the FFT.
    public static let binsPerTile = cellsPerTile * binsPerCell
    /// Payload bits, CRC bits, message bits (payload + CRC) and coded bits.
    public static let payloadBits = 32
    public static let crcBits = 24
    public static let messageBits = payloadBits + crcBits
    public static let codedBits = WatermarkCode.codedBits(messageBits: messageBits)

    /// Cell size in pixels for a `width` × `height` frame: its shorter side over `cellsPerSide`.
    public static func cellSize(width: Int, height: Int) -> Double { Double(min(width, height)) / cellsPerSide }

    /// Cell size, in pixels, of the tiled mark on large stills: the tile (256 px) repeats over the picture, so the
    /// detector's folding averages the picture's own interference over the repeats, and the cells sit at spatial
    /// frequencies where photos carry less energy than at a 32nd of their side (`StillWatermark`).
    public static let stillCellSize = 8.0

    /// Whether a still of this size is marked with the tiled layout: its shorter side at least 320 px (a 32nd of
    /// it, the video layout's cell, would be 10 px or more: lower frequencies, where pictures interfere more).
    public static func tilesStill(width: Int, height: Int) -> Bool { min(width, height) >= 320 }

    /// The keyed cell roles: `sign[cell]` ±1, and `bit[cell]` the coded bit index or -1 for sync cells
    /// (cells numbered row-major, `row * cellsPerTile + column`).
    struct Cells {
        let sign: [Float]
        let bit: [Int]
    }

    /// The cell roles of `scheme` under `key`: a keyed sign per cell and a keyed cell order; the first
    /// `scheme.syncCells` cells of the order are sync, the k-th data cell after them carries coded bit
    /// k mod `codedBits`.
    static func cells(_ key: WatermarkKey, scheme: WatermarkScheme) -> Cells {
        let syncCells = scheme.syncCells
        var rng = SeededRandom(seed: key.seed)
        let n = cellsPerTile * cellsPerTile
        var sign = [Float](repeating: 1, count: n)
        for i in 0..<n { sign[i] = rng.next() & 1 == 0 ? -1 : 1 }
        var order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        var bit = [Int](repeating: -1, count: n)
        for (rank, cell) in order.enumerated() where rank >= syncCells {
            bit[cell] = (rank - syncCells) % codedBits
        }
        return Cells(sign: sign, bit: bit)
    }

    /// The 56 message bits (0/1): payload bits (most significant first), then CRC-24/OpenPGP of the payload's
    /// 4 bytes (big-endian).
    static func messageBits(_ payload: WatermarkPayload) -> [Int] {
        let word = (UInt64(payload.value) << 24) | UInt64(crc24(payload.bytes))
        return (0..<messageBits).map { i in Int((word >> UInt64(messageBits - 1 - i)) & 1) }
    }

    /// The payload of 56 message bits when their CRC-24 checks, else nil.
    static func payload(messageBits bits: [Int]) -> WatermarkPayload? {
        guard bits.count == messageBits else { return nil }
        var word: UInt64 = 0
        for b in bits { word = (word << 1) | UInt64(b & 1) }
        let value = WatermarkPayload(UInt32(truncatingIfNeeded: word >> 24))
        return UInt32(word & 0xFF_FFFF) == crc24(value.bytes) ? value : nil
    }

    /// The coded bits as ±1 (the convolutional code of the message bits).
    static func codeSigns(_ payload: WatermarkPayload) -> [Float] {
        WatermarkCode.encode(messageBits(payload)).map { $0 == 1 ? 1 : -1 }
    }

    /// CRC-24/OpenPGP (RFC 4880: polynomial 0x864CFB, initial value 0xB704CE, no reflection, no final XOR).
    static func crc24(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xB7_04CE
        for byte in bytes {
            crc ^= UInt32(byte) << 16
            for _ in 0..<8 {
                crc <<= 1
                if crc & 0x100_0000 != 0 { crc ^= 0x186_4CFB }
            }
        }
        return crc & 0xFF_FFFF
    }

    /// Cell values of the tile: sign × (1 for sync cells, the coded bit's sign for data cells).
    /// `onlyBit`: nil for the whole mark (needs `code`), -1 for sync cells only, k for coded bit k's cells only
    /// (with sign +1, the others zero).
    static func cellValues(_ cells: Cells, code: [Float]?, onlyBit: Int?) -> [Float] {
        var v = [Float](repeating: 0, count: cells.sign.count)
        for i in 0..<v.count {
            let b = cells.bit[i]
            if let only = onlyBit {
                if b == only { v[i] = cells.sign[i] }
            } else {
                v[i] = b < 0 ? cells.sign[i] : cells.sign[i] * (code?[b] ?? 0)
            }
        }
        return v
    }

    /// Bilinear interpolation of tile cell values at tile coordinates (`a` across, `b` down, in cells;
    /// cell centres at half-integers), wrapping around the tile.
    @inline(__always)
    static func sample(_ v: UnsafeBufferPointer<Float>, a: Double, b: Double) -> Float {
        let n = cellsPerTile
        let fa = a - 0.5, fb = b - 0.5
        let ia = fa.rounded(.down), ib = fb.rounded(.down)
        let ta = Float(fa - ia), tb = Float(fb - ib)
        let i0 = ((Int(ia) % n) + n) % n, j0 = ((Int(ib) % n) + n) % n
        let i1 = (i0 + 1) % n, j1 = (j0 + 1) % n
        let top = v[j0 * n + i0] * (1 - ta) + v[j0 * n + i1] * ta
        let bottom = v[j1 * n + i0] * (1 - ta) + v[j1 * n + i1] * ta
        return top * (1 - tb) + bottom * tb
    }

    /// The pattern is band-passed (minus its mean over a cell-sized box), spending no energy on low frequencies
    /// that natural images fill and the detector discards.
    static let bandPass = true

    /// The tile rendered at detector resolution: `binsPerTile`² values, row-major, bin centres sampled.
    static func renderBins(_ values: [Float]) -> [Float] {
        let m = binsPerTile, r = Double(binsPerCell)
        var out = [Float](repeating: 0, count: m * m)
        values.withUnsafeBufferPointer { v in
            for y in 0..<m {
                for x in 0..<m {
                    out[y * m + x] = sample(v, a: (Double(x) + 0.5) / r, b: (Double(y) + 0.5) / r)
                }
            }
        }
        if bandPass {
            let blurred = boxBlur(out.map(Double.init))
            for i in 0..<(m * m) { out[i] -= Float(blurred[i]) }
        }
        return out
    }

    /// Cyclic mean over a `(2·binsPerCell+1)²` box on the `binsPerTile`² grid (symmetric, so its own adjoint).
    static func boxBlur(_ grid: [Double]) -> [Double] {
        let m = binsPerTile, r = binsPerCell
        var horizontal = [Double](repeating: 0, count: m * m), out = horizontal
        for y in 0..<m { for x in 0..<m {
            var sum: Double = 0
            for dx in -r...r { sum += grid[y * m + (x + dx + m) % m] }
            horizontal[y * m + x] = sum
        } }
        let area = Double((2 * r + 1) * (2 * r + 1))
        for y in 0..<m { for x in 0..<m {
            var sum: Double = 0
            for dy in -r...r { sum += horizontal[((y + dy + m) % m) * m + x] }
            out[y * m + x] = sum / area
        } }
        return out
    }

    /// The adjoint of `renderBins` (band-pass, then bilinear spreading back onto cells): for a `binsPerTile`²
    /// grid `bins`, entry c is the inner product of `bins` with the rendering of a tile whose only non-zero
    /// cell is c (value 1). So the correlation of `bins` with any rendered tile is Σ value[c]·evidence[c].
    static func cellEvidence(_ bins: [Double]) -> [Double] {
        let m = binsPerTile, n = cellsPerTile, r = Double(binsPerCell)
        var g = bins
        if bandPass {
            let blurred = boxBlur(bins)
            for i in 0..<(m * m) { g[i] -= blurred[i] }
        }
        var evidence = [Double](repeating: 0, count: n * n)
        for y in 0..<m {
            let fb = (Double(y) + 0.5) / r - 0.5, ib = fb.rounded(.down), tb = fb - ib
            let j0 = ((Int(ib) % n) + n) % n, j1 = (j0 + 1) % n
            for x in 0..<m {
                let fa = (Double(x) + 0.5) / r - 0.5, ia = fa.rounded(.down), ta = fa - ia
                let i0 = ((Int(ia) % n) + n) % n, i1 = (i0 + 1) % n
                let v = g[y * m + x]
                evidence[j0 * n + i0] += v * (1 - ta) * (1 - tb)
                evidence[j0 * n + i1] += v * ta * (1 - tb)
                evidence[j1 * n + i0] += v * (1 - ta) * tb
                evidence[j1 * n + i1] += v * ta * tb
            }
        }
        return evidence
    }
}

extension WatermarkLayout {
    /// Regularisation of the equaliser, relative to the kernel spectrum's largest squared value.
    static let equalizerEpsilon = 0.1

    /// The spectrum (real: the kernel is symmetric) of the tile's inter-cell kernel `cellEvidence ∘ renderBins`
    /// on the `cellsPerTile`² torus: how much a unit cell leaks into the evidence of each neighbour.
    static let interCellSpectrum: [Double] = interCellSpectrum(binFilter: nil)

    /// The same kernel when the bins pass through a filter first (`binFilter`: real, even gains on the
    /// `binsPerTile`² frequency grid, as `WatermarkDetector`'s spectral whitening applies), nil: none.
    static func interCellSpectrum(binFilter: [Double]?) -> [Double] {
        let n = cellsPerTile
        var impulse = [Float](repeating: 0, count: n * n)
        impulse[0] = 1
        var bins = renderBins(impulse).map(Double.init)
        if let binFilter { bins = filtered(bins, gains: binFilter) }
        var re = cellEvidence(bins), im = [Double](repeating: 0, count: n * n)
        FFT2D(n: n).transform(&re, &im, inverse: false)
        return re
    }

    /// `bins` (`binsPerTile`²) through a filter of real gains per frequency (cyclic convolution).
    static func filtered(_ bins: [Double], gains: [Double]) -> [Double] {
        let m = binsPerTile
        let fft = FFT2D(n: m)
        var re = bins, im = [Double](repeating: 0, count: m * m)
        fft.transform(&re, &im, inverse: false)
        for i in 0..<(m * m) { re[i] *= gains[i]; im[i] *= gains[i] }
        fft.transform(&re, &im, inverse: true)
        return re.map { $0 / Double(m * m) }
    }

    /// Cell evidence with the inter-cell leakage undone (a regularised inverse of the kernel whose spectrum is
    /// `spectrum`, Wiener-style, `epsilon` relative to its largest squared value): neighbouring cells' values no
    /// longer add self-noise to each cell's soft value.
    static func equalized(_ evidence: [Double], spectrum: [Double] = interCellSpectrum, epsilon: Double = equalizerEpsilon) -> [Double] {
        guard epsilon > 0 else { return evidence }
        let n = cellsPerTile
        let fft = FFT2D(n: n)
        var re = evidence, im = [Double](repeating: 0, count: n * n)
        fft.transform(&re, &im, inverse: false)
        let peak = spectrum.reduce(0) { max($0, $1 * $1) }
        for i in 0..<(n * n) {
            let g = spectrum[i] / (spectrum[i] * spectrum[i] + epsilon * peak)
            re[i] *= g; im[i] *= g
        }
        fft.transform(&re, &im, inverse: true)
        return re.map { $0 / Double(n * n) }
    }
}
