import Foundation
import Media

/// The perceptual signature of an aligned face crop, for finding near-duplicates without comparing pixels.
///
/// The crop's luma (BT.601) is area-averaged to 32×32 and transformed with a 2-D DCT-II; the 8×8 lowest
/// frequencies without the DC term give 63 coefficients `c[v][u]` (v vertical, u horizontal frequency),
/// stored in row order (v, then u, index `v·8 + u − 1`). From them:
/// - `hash`: bit `k` is set when coefficient `k` is above the median of the 63 (a pHash); bit 63 is 0.
///   Re-encoding leaves it almost unchanged (0–2 bits at JPEG quality 10), a 4-pixel shift of a 256-pixel
///   crop moves it by 4–8 bits, another pose or another person by 15–30.
/// - `descriptor`: the 63 coefficients scaled to unit length, so brightness (the DC term, left out) and
///   contrast (the scale) do not matter; compared by Euclidean distance (0 identical, √2 unrelated, 2 opposite).
/// - `mirrorHash`: the hash of the crop mirrored left to right. Mirroring negates the coefficients of odd
///   horizontal frequency u, so it needs no second transform; `mirroredDistance` compares a descriptor with
///   another's mirror image the same way.
public struct FaceSignature: Sendable, Equatable {
    /// Coefficients in a descriptor.
    public static let descriptorLength = 63
    /// Side of the luma thumbnail the DCT runs on.
    public static let thumbnailSide = 32

    public var hash: UInt64
    public var mirrorHash: UInt64
    /// `descriptorLength` values, unit length (all zero for a flat image).
    public var descriptor: [Float]

    public init(hash: UInt64, mirrorHash: UInt64, descriptor: [Float]) {
        self.hash = hash
        self.mirrorHash = mirrorHash
        self.descriptor = descriptor
    }

    /// The signature of `image` (any size; crops are square, other shapes are squeezed to 32×32).
    public init(image: RGBImage) {
        self.init(coefficients: Self.lowFrequencies(of: Self.thumbnail(image)))
    }

    /// The signature of 63 low-frequency DCT coefficients in `c[v][u]` row order without the DC term.
    public init(coefficients: [Float]) {
        precondition(coefficients.count == Self.descriptorLength, "FaceSignature: need \(Self.descriptorLength) coefficients")
        hash = Self.medianHash(coefficients)
        var mirrored = coefficients
        for k in 0..<mirrored.count where Self.isOddHorizontal(k) { mirrored[k] = -mirrored[k] }
        mirrorHash = Self.medianHash(mirrored)
        var norm: Float = 0
        for value in coefficients { norm += value * value }
        norm = norm.squareRoot()
        descriptor = norm > 0 ? coefficients.map { $0 / norm } : coefficients.map { _ in 0 }
    }

    /// Whether descriptor index `k` has an odd horizontal frequency (its sign flips when mirrored).
    @inline(__always) public static func isOddHorizontal(_ k: Int) -> Bool { (k + 1) % 8 % 2 == 1 }

    /// Number of differing bits.
    @inline(__always) public static func hammingDistance(_ a: UInt64, _ b: UInt64) -> Int { (a ^ b).nonzeroBitCount }

    /// Euclidean distance between two descriptors stored at `a` and `b` (`descriptorLength` floats each).
    @inline(__always)
    public static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        var sum: Float = 0
        for k in 0..<descriptorLength {
            let d = a[k] - b[k]
            sum += d * d
        }
        return sum.squareRoot()
    }

    /// Euclidean distance between descriptor `a` and the mirror image of descriptor `b`.
    @inline(__always)
    public static func mirroredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        var sum: Float = 0
        for k in 0..<descriptorLength {
            let d = isOddHorizontal(k) ? a[k] + b[k] : a[k] - b[k]
            sum += d * d
        }
        return sum.squareRoot()
    }

    /// Bit k set when value k is above the median of the values.
    static func medianHash(_ values: [Float]) -> UInt64 {
        let median = values.sorted()[values.count / 2]
        var hash: UInt64 = 0
        for (k, value) in values.enumerated() where value > median { hash |= 1 << UInt64(k) }
        return hash
    }

    /// Luma area-averaged to `thumbnailSide`² values, row-major: each output pixel is the mean of the source
    /// pixels whose centres fall in its cell (nearest pixel for images smaller than the thumbnail).
    static func thumbnail(_ image: RGBImage) -> [Float] {
        let side = thumbnailSide
        var out = [Float](repeating: 0, count: side * side)
        guard image.width > 0, image.height > 0 else { return out }
        var sums = [Float](repeating: 0, count: side * side)
        var counts = [Float](repeating: 0, count: side * side)
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<image.height {
                let cy = y * side / image.height
                for x in 0..<image.width {
                    let cx = x * side / image.width
                    let o = (y * image.width + x) * 3
                    sums[cy * side + cx] += 0.299 * Float(p[o]) + 0.587 * Float(p[o + 1]) + 0.114 * Float(p[o + 2])
                    counts[cy * side + cx] += 1
                }
            }
            for cy in 0..<side {
                for cx in 0..<side {
                    let i = cy * side + cx
                    if counts[i] > 0 {
                        out[i] = sums[i] / counts[i]
                    } else {
                        let y = min(image.height - 1, (cy * image.height) / side), x = min(image.width - 1, (cx * image.width) / side)
                        let o = (y * image.width + x) * 3
                        out[i] = 0.299 * Float(p[o]) + 0.587 * Float(p[o + 1]) + 0.114 * Float(p[o + 2])
                    }
                }
            }
        }
        return out
    }

    /// Orthonormal DCT-II basis rows 0..<8 over 32 samples: `basis[k * 32 + x]`.
    static let basis: [Float] = {
        let n = thumbnailSide
        var rows = [Float](repeating: 0, count: 8 * n)
        for k in 0..<8 {
            let scale = k == 0 ? (1 / Double(n)).squareRoot() : (2 / Double(n)).squareRoot()
            for x in 0..<n { rows[k * n + x] = Float(scale * cos(Double.pi * Double(2 * x + 1) * Double(k) / Double(2 * n))) }
        }
        return rows
    }()

    /// The 8×8 lowest DCT-II frequencies of a 32×32 thumbnail without the DC term (63 values, `c[v][u]` order).
    static func lowFrequencies(of thumbnail: [Float]) -> [Float] {
        let n = thumbnailSide
        // rows[v][x] = Σ_y basis[v][y] · t[y][x]; then c[v][u] = Σ_x rows[v][x] · basis[u][x].
        var rows = [Float](repeating: 0, count: 8 * n)
        for v in 0..<8 {
            for y in 0..<n {
                let b = basis[v * n + y]
                for x in 0..<n { rows[v * n + x] += b * thumbnail[y * n + x] }
            }
        }
        var out = [Float]()
        out.reserveCapacity(descriptorLength)
        for v in 0..<8 {
            for u in 0..<8 where !(v == 0 && u == 0) {
                var sum: Float = 0
                for x in 0..<n { sum += rows[v * n + x] * basis[u * n + x] }
                out.append(sum)
            }
        }
        return out
    }
}
