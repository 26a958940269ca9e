import Faces
import Foundation

/// The colour augmentation of a draw, in L*a*b* (`Faces.LabColour`).
extension LabColour {
    /// Applies a draw's lightness, contrast and a*/b* changes to `pixels` (`count` RGB pixels, 0…1 floats,
    /// interleaved) in place. Contrast scales L* about `meanL`; the result is clamped to 0…1.
    static func adjust(_ pixels: UnsafeMutablePointer<Float>, count: Int, draw: AugmentDraw, meanL: Float) {
        let lightness = Float(draw.lightness), contrast = 1 + Float(draw.contrast)
        let shiftA = Float(draw.colourA), shiftB = Float(draw.colourB)
        /// faceswap's rule on an 8-bit-style 0…1 channel: towards 1 for r ≥ 0, towards 0 for r < 0.
        @inline(__always) func move(_ x: Float, _ r: Float) -> Float { r >= 0 ? x + (1 - x) * r : x * (1 + r) }
        toLinearTable.withUnsafeBufferPointer { lin in toEncodedTable.withUnsafeBufferPointer { enc in fTable.withUnsafeBufferPointer { ft in
            for k in 0..<count {
                let p = pixels + 3 * k
                var (l, a, b) = lab(p[0], p[1], p[2], lin, ft)
                l = meanL + (l - meanL) * contrast
                l = move(min(max(l / 100, 0), 1), lightness) * 100
                a = move(min(max((a + 128) / 255, 0), 1), shiftA) * 255 - 128
                b = move(min(max((b + 128) / 255, 0), 1), shiftB) * 255 - 128
                let (r, g, bl) = rgb(l, a, b, enc)
                p[0] = r; p[1] = g; p[2] = bl
            }
        } } }
    }

    /// Mean L* of `count` RGB pixels.
    static func meanLightness(_ pixels: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Double = 0
        toLinearTable.withUnsafeBufferPointer { lin in fTable.withUnsafeBufferPointer { ft in
            for k in 0..<count { sum += Double(lab(pixels[3 * k], pixels[3 * k + 1], pixels[3 * k + 2], lin, ft).0) }
        } }
        return count > 0 ? Float(sum / Double(count)) : 0
    }

}
