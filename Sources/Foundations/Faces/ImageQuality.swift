import FacetCore
import Foundation
import Media

/// Why an image-quality measure could not be taken.
/// Bad input data (exit 65).
public enum ImageQualityError: FacetError, Equatable, Sendable {
    /// The mask does not have one byte per pixel.
    case maskSizeMismatch(expected: Int, got: Int)
    /// The image or the mask selects no pixel.
    case emptyRegion

    public var exitStatus: ExitStatus { .dataError }

    public var description: String {
        switch self {
        case .maskSizeMismatch(let expected, let got): return "mask has \(got) bytes, the image \(expected) pixels"
        case .emptyRegion: return "no pixel to measure (empty image or empty mask)"
        }
    }
}

/// Sharpness, brightness and contrast of an image (meant for the aligned face crop), on luma with
/// BT.601 weights (0.299 R + 0.587 G + 0.114 B, 0...255), optionally within a mask.
///
/// - sharpness: the variance of the 3×3 Laplacian `[0 1 0; 1 -4 1; 0 1 0]` of the luma, in luma²
///   units, over the interior pixels (one pixel in from each edge) whose mask byte is non-zero. A
///   constant image has 0; blurring lowers it. 0 when no interior pixel is selected (images narrower
///   or shorter than 3 pixels).
/// - brightness: the mean luma of the selected pixels, 0...255.
/// - contrast: the (population) standard deviation of the selected pixels' luma, 0...127.5.
public struct ImageQuality: Equatable, Sendable, Codable {
    /// Variance of the Laplacian, luma² (0...; typically 10–2000 for photos).
    public var sharpness: Double
    /// Mean luma, 0...255.
    public var brightness: Double
    /// Standard deviation of luma, 0...127.5.
    public var contrast: Double
    /// Number of pixels brightness and contrast were taken over.
    public var pixelCount: Int

    public init(sharpness: Double, brightness: Double, contrast: Double, pixelCount: Int) {
        self.sharpness = sharpness; self.brightness = brightness; self.contrast = contrast; self.pixelCount = pixelCount
    }

    /// Measures `image`, within `mask` when given: `width * height` bytes, 0 = outside, anything else =
    /// inside (0/255 by convention). Throws `ImageQualityError` on a mask of the wrong size or one that
    /// selects nothing, and on an empty image.
    ///
    /// Computed on luma × 1000 as integers (299 R + 587 G + 114 B is exact), so every sum is exact whatever its
    /// order: the loops are free to vectorise (this runs on every aligned crop) and the figures do not depend on it.
    public init(image: RGBImage, mask: [UInt8]? = nil) throws {
        let width = max(0, image.width), height = max(0, image.height)
        let count = width * height
        guard image.pixels.count >= 3 * count else { throw ImageQualityError.emptyRegion }
        if let mask, mask.count != count { throw ImageQualityError.maskSizeMismatch(expected: count, got: mask.count) }
        var luma = [Int32](repeating: 0, count: count)
        image.pixels.withUnsafeBufferPointer { p in
            luma.withUnsafeMutableBufferPointer { l in
                for i in 0..<count { l[i] = 299 * Int32(p[3 * i]) + 587 * Int32(p[3 * i + 1]) + 114 * Int32(p[3 * i + 2]) }
            }
        }
        let all = [UInt8](repeating: 1, count: mask == nil ? count : 0)
        let selection = mask ?? all
        // Each row's sums in 64 bits (a row's squares stay below 2⁶³ for any width under 8 million pixels), the
        // image's in 128.
        var n = 0, sum: Int128 = 0, squares: Int128 = 0
        var lapN = 0, lapSum: Int128 = 0, lapSquares: Int128 = 0
        luma.withUnsafeBufferPointer { l in
            selection.withUnsafeBufferPointer { m in
                for y in 0..<height {
                    var rowN = 0, rowSum: Int64 = 0, rowSquares: Int64 = 0
                    for i in (y * width)..<(y * width + width) {
                        // Selected or 0, in 32 bits (luma × 1000 < 2¹⁸), squared in 64: the loop vectorises.
                        let v: Int32 = m[i] != 0 ? l[i] : 0
                        rowN &+= m[i] != 0 ? 1 : 0; rowSum &+= Int64(v); rowSquares &+= Int64(v) &* Int64(v)
                    }
                    n &+= rowN; sum += Int128(rowSum); squares += Int128(rowSquares)
                }
                guard width >= 3 && height >= 3 else { return }
                guard let lumaStart = l.baseAddress, let maskStart = m.baseAddress else { return }
                for y in 1..<(height - 1) {
                    var rowN = 0, rowSum: Int64 = 0, rowSquares: Int64 = 0
                    // Row pointers (checked-free offsets): the pixel's row and the ones above and below it.
                    let up = lumaStart + (y - 1) * width, centre = up + width, down = centre + width, selectedRow = maskStart + y * width
                    for x in 1..<(width - 1) {
                        // |Laplacian| ≤ 4 × 255 000 < 2²¹: exact in 32 bits.
                        let laplacian = up[x] &+ down[x] &+ centre[x &- 1] &+ centre[x &+ 1] &- 4 &* centre[x]
                        let v: Int32 = selectedRow[x] != 0 ? laplacian : 0
                        rowN &+= selectedRow[x] != 0 ? 1 : 0; rowSum &+= Int64(v); rowSquares &+= Int64(v) &* Int64(v)
                    }
                    lapN &+= rowN; lapSum += Int128(rowSum); lapSquares += Int128(rowSquares)
                }
            }
        }
        guard n > 0 else { throw ImageQualityError.emptyRegion }
        self.init(sharpness: Self.variance(sum: lapSum, squares: lapSquares, count: lapN),
                  brightness: Double(sum) / (1000 * Double(n)),
                  contrast: Self.variance(sum: sum, squares: squares, count: n).squareRoot(), pixelCount: n)
    }

    /// The population variance, in the values' own units squared, of `count` values given ×1000 by the exact sums of
    /// them and of their squares: (n Σx² − (Σx)²) / n² / 1000², the numerator exact; 0 for no value.
    static func variance(sum: Int128, squares: Int128, count: Int) -> Double {
        guard count > 0 else { return 0 }
        let n = Int128(count)
        let numerator = n * squares - sum * sum  // ≥ 0 (Cauchy–Schwarz)
        return max(0, Double(numerator) / (Double(count) * Double(count) * 1_000_000))
    }
}
