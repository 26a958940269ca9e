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

/// The geometry of the mark, shared by embedder and detector.
///
/// The pattern is a torus ("tile") of `cellsPerTile` × `cellsPerTile` cells repeated over the whole frame.
/// A cell is `frameHeight / cellsPerHeight` pixels on a side, so the pattern scales with the picture: a
/// resized copy has the same number of cells per picture height. Each cell holds ±1 (a keyed pseudo-random
/// sign); half the cells ("sync") always carry their sign, the other half carry it times one of the 48 code
/// bits (32 payload bits + CRC-16), each code bit spread over ~10 cells scattered across the tile. Between
/// cell centres the value is interpolated bilinearly and the result is band-passed (minus its mean over a
/// cell-sized box): periods of about 2 to 4 cells, where H.264 and JPEG keep energy, SSIM's small window sees
/// a nearly constant shift, and natural images have less content than at lower frequencies.
public enum WatermarkLayout {
    /// Cells along one side of the repeating tile.
    public static let cellsPerTile = 32
    /// Cells per frame height: a cell is `height / cellsPerHeight` pixels (15 px at 360 lines, 7.5 after a
    /// 50% downscale), large enough to survive H.264 at small sizes.
    public static let cellsPerHeight = 24.0
    /// Detector bins per cell side when folding frames onto the tile.
    public static let binsPerCell = 4
    /// Detector tile side in bins (`cellsPerTile * binsPerCell`), a power of two for the FFT.
    public static let binsPerTile = cellsPerTile * binsPerCell
    /// Payload bits, CRC bits and all code bits.
    public static let payloadBits = 32
    public static let crcBits = 16
    public static let codeBits = payloadBits + crcBits
    /// How many of the tile's cells are sync cells (the rest carry code bits).
    public static let syncCells = cellsPerTile * cellsPerTile / 2

    /// Cell size in pixels for a frame `height` pixels high.
    public static func cellSize(frameHeight height: Int) -> Double { Double(height) / cellsPerHeight }

    /// The keyed cell roles: `sign[cell]` ±1, and `bit[cell]` the code bit index or -1 for sync cells
    /// (cells numbered row-major, `row * cellsPerTile + column`).
    struct Cells {
        let sign: [Float]
        let bit: [Int]
    }

    static func cells(_ key: WatermarkKey) -> Cells {
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
            bit[cell] = (rank - syncCells) % codeBits
        }
        return Cells(sign: sign, bit: bit)
    }

    /// The 48 code bits as ±1: payload bits (most significant first), then CRC-16/CCITT of the payload bytes.
    static func codeSigns(_ payload: WatermarkPayload) -> [Float] {
        let word = (UInt64(payload.value) << 16) | UInt64(crc16(payload.value))
        return (0..<codeBits).map { i in (word >> UInt64(codeBits - 1 - i)) & 1 == 1 ? 1 : -1 }
    }

    /// CRC-16/CCITT-FALSE of the payload's 4 bytes, big-endian.
    static func crc16(_ value: UInt32) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for shift in [24, 16, 8, 0] {
            crc ^= UInt16((value >> UInt32(shift)) & 0xFF) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }

    /// Cell values of the tile: sign × (1 for sync cells, the code bit's sign for data cells).
    /// `onlyBit`: nil for the whole mark (needs `code`), -1 for sync cells only, k for code bit k's cells only
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
            let r = binsPerCell
            var blurred = [Float](repeating: 0, count: m * m)
            for y in 0..<m { for x in 0..<m {
                var sum: Float = 0
                for dy in -r...r { for dx in -r...r { sum += out[((y + dy + m) % m) * m + (x + dx + m) % m] } }
                blurred[y * m + x] = sum / Float((2 * r + 1) * (2 * r + 1))
            } }
            for i in 0..<(m * m) { out[i] -= blurred[i] }
        }
        return out
    }
}
