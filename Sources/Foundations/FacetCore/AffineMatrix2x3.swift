import Foundation

/// A 2-D affine map as a 2×3 matrix `[[a, b, tx], [c, d, ty]]`: `(x, y) ↦ (a·x + b·y + tx, c·x + d·y + ty)`.
/// Units are whatever the two sides are in (for `FaceAlignment`, image pixels and crop pixels, both in the
/// pixel-centre convention: pixel (row i, column j) covers [j, j+1) × [i, i+1)).
public struct AffineMatrix2x3: Equatable, Sendable, Codable {
    public var a: Double, b: Double, tx: Double
    public var c: Double, d: Double, ty: Double

    public init(a: Double, b: Double, tx: Double, c: Double, d: Double, ty: Double) {
        self.a = a; self.b = b; self.tx = tx; self.c = c; self.d = d; self.ty = ty
    }

    public static let identity = AffineMatrix2x3(a: 1, b: 0, tx: 0, c: 0, d: 1, ty: 0)

    /// The two rows, `[[a, b, tx], [c, d, ty]]` (OpenCV's `warpAffine` layout).
    public var rows: [[Double]] { [[a, b, tx], [c, d, ty]] }

    // MARK: The one serialisation: six numbers `[a, b, tx, c, d, ty]`, row-major. Manifests hold it as a
    // JSON array of numbers (`FaceItem.matrix`), the catalog as that array's text (`faces.matrix`).

    /// `[a, b, tx, c, d, ty]`.
    public var elements: [Double] { [a, b, tx, c, d, ty] }

    /// From `[a, b, tx, c, d, ty]`; nil unless there are exactly six numbers.
    public init?(elements e: [Double]) {
        guard e.count == 6 else { return nil }
        self.init(a: e[0], b: e[1], tx: e[2], c: e[3], d: e[4], ty: e[5])
    }

    /// The elements as JSON text, `[a, b, tx, c, d, ty]` (Swift's shortest round-trip form of each number).
    public var jsonText: String { "[\(a), \(b), \(tx), \(c), \(d), \(ty)]" }

    /// From `jsonText`'s form; nil unless it is a JSON array of exactly six numbers.
    public init?(jsonText: String) {
        guard let e = try? JSONDecoder().decode([Double].self, from: Data(jsonText.utf8)) else { return nil }
        self.init(elements: e)
    }

    /// The determinant of the linear part, `a·d − b·c`.
    public var determinant: Double { a * d - b * c }

    @inline(__always)
    public func apply(_ p: SIMD2<Double>) -> SIMD2<Double> {
        SIMD2(a * p.x + b * p.y + tx, c * p.x + d * p.y + ty)
    }

    /// The inverse map; nil when the linear part is singular or not finite.
    public var inverse: AffineMatrix2x3? {
        let det = determinant
        guard det != 0, det.isFinite else { return nil }
        let ia = d / det, ib = -b / det, ic = -c / det, id = a / det
        let inv = AffineMatrix2x3(a: ia, b: ib, tx: -(ia * tx + ib * ty), c: ic, d: id, ty: -(ic * tx + id * ty))
        return [inv.a, inv.b, inv.tx, inv.c, inv.d, inv.ty].allSatisfy(\.isFinite) ? inv : nil
    }

    /// `self ∘ other`: first `other`, then `self`.
    public func concatenating(_ other: AffineMatrix2x3) -> AffineMatrix2x3 {
        AffineMatrix2x3(a: a * other.a + b * other.c, b: a * other.b + b * other.d, tx: a * other.tx + b * other.ty + tx,
                        c: c * other.a + d * other.c, d: c * other.b + d * other.d, ty: c * other.tx + d * other.ty + ty)
    }
}
