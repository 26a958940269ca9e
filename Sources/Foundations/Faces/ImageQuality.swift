import FacetCore
import Foundation
import Media

/// Why an image-quality measure could not be taken.
/// Bad input data (exit 65).
public enum ImageQualityError: FacetError, Equatable, Sendable {
    /// The mask does not have one byte per pixel.
    case maskSizeMismatch(expected: Int, got: Int)
    /// The luma buffer does not have `width * height` values.
    case lumaSizeMismatch(expected: Int, got: Int)
    /// The image or the mask selects no pixel.
    case emptyRegion

    public var exitStatus: ExitStatus { .dataError }

    public var description: String {
        switch self {
        case .maskSizeMismatch(let expected, let got): return "mask has \(got) bytes, the image \(expected) pixels"
        case .lumaSizeMismatch(let expected, let got): return "luma has \(got) values, expected \(expected)"
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
    public init(image: RGBImage, mask: [UInt8]? = nil) throws {
        try self.init(luma: image.luma(), width: image.width, height: image.height, mask: mask)
    }

    /// Measures a luma plane of `width * height` values (row-major, 0...255), within `mask` when given.
    public init(luma: [Float], width: Int, height: Int, mask: [UInt8]? = nil) throws {
        let count = max(0, width) * max(0, height)
        guard luma.count == count else { throw ImageQualityError.lumaSizeMismatch(expected: count, got: luma.count) }
        if let mask, mask.count != count { throw ImageQualityError.maskSizeMismatch(expected: count, got: mask.count) }
        // Pointer loops (the same sums in the same order as a plain per-pixel loop): this runs on every aligned crop.
        let all = [UInt8](repeating: 1, count: mask == nil ? count : 0)
        let selection = mask ?? all
        var n = 0
        var sum = 0.0, squares = 0.0
        var lapN = 0
        var lapSum = 0.0, lapSquares = 0.0
        luma.withUnsafeBufferPointer { l in
            selection.withUnsafeBufferPointer { m in
                // Brightness and contrast: two passes over the selected pixels (mean first, for accuracy).
                for i in 0..<count where m[i] != 0 { sum += Double(l[i]); n += 1 }
                guard n > 0 else { return }
                let mean = sum / Double(n)
                for i in 0..<count where m[i] != 0 { let d = Double(l[i]) - mean; squares += d * d }
                // Laplacian variance over interior selected pixels.
                guard width >= 3 && height >= 3 else { return }
                for y in 1..<(height - 1) {
                    for x in 1..<(width - 1) {
                        let i = y * width + x
                        guard m[i] != 0 else { continue }
                        let v = Double(l[i - width]) + Double(l[i + width]) + Double(l[i - 1]) + Double(l[i + 1]) - 4 * Double(l[i])
                        lapSum += v; lapSquares += v * v; lapN += 1
                    }
                }
            }
        }
        guard n > 0 else { throw ImageQualityError.emptyRegion }
        let mean = sum / Double(n)
        var sharpness = 0.0
        if lapN > 0 {
            let lapMean = lapSum / Double(lapN)
            sharpness = max(0, lapSquares / Double(lapN) - lapMean * lapMean)
        }
        self.init(sharpness: sharpness, brightness: mean, contrast: (squares / Double(n)).squareRoot(), pixelCount: n)
    }
}
