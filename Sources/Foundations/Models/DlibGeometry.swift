import Foundation

/// A 2-D affine map `p ↦ m·p + b` in Double, as dlib's `point_transform_affine`.
public struct DlibAffineTransform: Equatable, Sendable {
    /// The 2×2 matrix `[[m00, m01], [m10, m11]]`; `b` is the translation.
    public var m00: Double, m01: Double, m10: Double, m11: Double
    public var b: SIMD2<Double>

    public init(m00: Double, m01: Double, m10: Double, m11: Double, b: SIMD2<Double>) {
        self.m00 = m00; self.m01 = m01; self.m10 = m10; self.m11 = m11; self.b = b
    }

    public static let identity = DlibAffineTransform(m00: 1, m01: 0, m10: 0, m11: 1, b: .zero)

    /// `m·p + b`, evaluated in dlib's order.
    @inline(__always)
    public func apply(_ p: SIMD2<Double>) -> SIMD2<Double> {
        SIMD2(m00 * p.x + m01 * p.y + b.x, m10 * p.x + m11 * p.y + b.y)
    }

    /// The similarity transform (rotation, uniform scale, translation) that maps `from` onto `to` with
    /// least squares, like dlib's `find_similarity_transform` (Umeyama 1991, eqs. 34-43). For 2-D points
    /// Umeyama's SVD has a closed form: with the covariance `C = [[a, b], [c, d]]`, the best rotation is the
    /// one by `atan2(c − b, a + d)` and `trace(DS) = hypot(a + d, c − b)`, so `c·R = [[p, −q], [q, p]] / σ²`
    /// with `p = a + d`, `q = c − b` and σ² the variance of `from`. Means, variance and covariance are
    /// accumulated in Double in dlib's order.
    public static func similarity(from: [SIMD2<Double>], to: [SIMD2<Double>]) -> DlibAffineTransform {
        precondition(from.count == to.count && from.count >= 1, "similarity: point lists must be non-empty and of equal length")
        let n = Double(from.count)
        var meanFrom = SIMD2<Double>.zero, meanTo = SIMD2<Double>.zero
        for i in 0..<from.count { meanFrom += from[i]; meanTo += to[i] }
        meanFrom /= n
        meanTo /= n
        var sigmaFrom = 0.0
        var a = 0.0, b = 0.0, c = 0.0, d = 0.0    // cov = Σ (to − mt)(from − mf)ᵀ / n
        for i in 0..<from.count {
            let f = from[i] - meanFrom, t = to[i] - meanTo
            sigmaFrom += f.x * f.x + f.y * f.y
            a += t.x * f.x; b += t.x * f.y
            c += t.y * f.x; d += t.y * f.y
        }
        sigmaFrom /= n
        a /= n; b /= n; c /= n; d /= n
        let p = a + d, q = c - b
        var m00: Double, m01: Double, m10: Double, m11: Double
        if sigmaFrom != 0 {
            m00 = p / sigmaFrom; m01 = -q / sigmaFrom; m10 = q / sigmaFrom; m11 = p / sigmaFrom
        } else {
            // dlib keeps scale 1 when the source points coincide; the rotation is then the identity.
            let h = (p * p + q * q).squareRoot()
            if h == 0 { (m00, m01, m10, m11) = (1, 0, 0, 1) } else { (m00, m01, m10, m11) = (p / h, -q / h, q / h, p / h) }
        }
        let t = SIMD2(meanTo.x - (m00 * meanFrom.x + m01 * meanFrom.y), meanTo.y - (m10 * meanFrom.x + m11 * meanFrom.y))
        return DlibAffineTransform(m00: m00, m01: m01, m10: m10, m11: m11, b: t)
    }
}

/// dlib's conversion of a real coordinate to a pixel, `floor(v + 0.5)` (clamped far outside any image
/// instead of trapping on NaN or huge values).
@inline(__always)
func dlibRound(_ v: Double) -> Int {
    let r = (v + 0.5).rounded(.down)
    return r.isNaN ? Int.min / 2 : Int(max(min(r, 4.0e18), -4.0e18))
}
