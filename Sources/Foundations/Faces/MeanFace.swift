import Foundation
import Models

/// The mean face used for alignment: where the 51 stable landmarks (dlib indices 17..<68, see
/// `LandmarkSubsets.stableRange`) sit on an average upright face, in a unit square (x right, y down).
///
/// ## Derivation (reproduced by `FacesAlignmentMeanFaceTests.testMeanFaceMatchesCommittedConstants`)
///
/// * Data: the 100 LFW images of `shared/faces/identities/<Name>/*.jpg` (10 people × 10, 250×250 px).
/// * One face per image: BlazeFace full range, `minScore` 0.5, the detection whose box centre is nearest the
///   image centre; then `FaceMesh.roi(for:)` → `FaceMesh.landmarks(in:roi:)` → `LandmarkSubsets.points68`
///   → the 51 stable points.
/// * Generalized Procrustes analysis (`generalizedProcrustes`): every shape is centred and scaled to unit
///   Frobenius norm; the reference starts as the first shape; each round aligns every shape to the reference
///   with a least-squares similarity (Umeyama), averages, re-normalises the average and turns it back onto the
///   previous reference (so the orientation cannot drift), until the reference moves by less than 1e-12 RMS.
/// * Canonical frame (`toUnitSquare`): turned so the line from the image-left eye's centre (mean of dlib
///   36–41) to the image-right eye's (42–47) points along +x, scaled so the bounding box's longer side is 1,
///   and its bounding box centred on (0.5, 0.5).
///
/// Result on the 100 images (100 faces found, 6 rounds): the RMS distance of a Procrustes-aligned face's point
/// to its mean point is 0.0368 unit-square units (≈ 5.9 px in a 256 px `.face` crop; LFW has real pose and
/// expression spread). The box is 1 wide (x 0…1) by 0.929 tall (y 0.036…0.964).
///
/// The test recomputes the constants from every 4th image by default (25 faces, ~11 s in a debug build; within
/// 0.012 of the constants) and from all 100 with `FACET_FULL_DERIVATION=1` (~45 s in a debug build; within 5e-7).
public enum MeanFace {
    /// The 51 mean points (dlib order 17..<68) in the unit square, x and y in [0, 1].
    public static let points51: [SIMD2<Double>] = [
        // Brows, dlib 17–26.
        SIMD2(0.000000, 0.111436), SIMD2(0.054633, 0.062311), SIMD2(0.137978, 0.035562), SIMD2(0.257135, 0.086885),
        SIMD2(0.386216, 0.127853), SIMD2(0.600354, 0.128114), SIMD2(0.729681, 0.087148), SIMD2(0.850691, 0.035881),
        SIMD2(0.938704, 0.062302), SIMD2(1.000000, 0.111520),
        // Nose, dlib 27–35.
        SIMD2(0.493735, 0.204978), SIMD2(0.492160, 0.340296), SIMD2(0.490972, 0.465616), SIMD2(0.492008, 0.602096),
        SIMD2(0.379444, 0.618486), SIMD2(0.428774, 0.653877), SIMD2(0.496977, 0.655399), SIMD2(0.566022, 0.653927),
        SIMD2(0.615576, 0.618395),
        // Eyes, dlib 36–47.
        SIMD2(0.105537, 0.236622), SIMD2(0.164854, 0.206202), SIMD2(0.258190, 0.200902), SIMD2(0.348697, 0.250921),
        SIMD2(0.272821, 0.267337), SIMD2(0.181372, 0.266363), SIMD2(0.648160, 0.250862), SIMD2(0.739180, 0.200981),
        SIMD2(0.833537, 0.206426), SIMD2(0.895883, 0.236727), SIMD2(0.817202, 0.266122), SIMD2(0.724944, 0.267228),
        // Outer lip, dlib 48–59.
        SIMD2(0.262121, 0.833123), SIMD2(0.356795, 0.782464), SIMD2(0.427948, 0.769594), SIMD2(0.498759, 0.779224),
        SIMD2(0.569732, 0.769458), SIMD2(0.643786, 0.782312), SIMD2(0.748653, 0.833149), SIMD2(0.688246, 0.896981),
        SIMD2(0.575246, 0.957551), SIMD2(0.503391, 0.964438), SIMD2(0.431880, 0.957039), SIMD2(0.320951, 0.896680),
        // Inner lip, dlib 60–67.
        SIMD2(0.294164, 0.831038), SIMD2(0.446060, 0.827045), SIMD2(0.501283, 0.829936), SIMD2(0.556974, 0.827124),
        SIMD2(0.716125, 0.830908), SIMD2(0.560807, 0.876717), SIMD2(0.501895, 0.880121), SIMD2(0.443789, 0.876846),
    ]

    /// The outcome of `generalizedProcrustes`.
    public struct Procrustes: Sendable {
        /// The mean shape, centred, unit Frobenius norm (in the orientation of the first input shape).
        public var mean: [SIMD2<Double>]
        /// Every input shape aligned onto `mean` (same units as `mean`).
        public var aligned: [[SIMD2<Double>]]
        /// RMS over all shapes and points of the distance from an aligned point to its mean point.
        public var rmsResidual: Double
        /// Rounds run.
        public var iterations: Int
    }

    /// Generalized Procrustes analysis of `shapes` (each the same number ≥ 2 of points, any units); nil for no
    /// shapes, unequal lengths, fewer than 2 points, or degenerate (all coincident) shapes.
    public static func generalizedProcrustes(_ shapes: [[SIMD2<Double>]], maxIterations: Int = 100,
                                             tolerance: Double = 1e-12) -> Procrustes? {
        guard let first = shapes.first, first.count >= 2, shapes.allSatisfy({ $0.count == first.count }) else { return nil }
        guard var reference = normalized(first) else { return nil }
        var aligned: [[SIMD2<Double>]] = []
        var iterations = 0
        for round in 1...max(1, maxIterations) {
            iterations = round
            aligned = shapes.map { s in
                let t = DlibAffineTransform.similarity(from: s, to: reference)
                return s.map { t.apply($0) }
            }
            var mean = [SIMD2<Double>](repeating: .zero, count: first.count)
            for s in aligned { for i in s.indices { mean[i] += s[i] } }
            for i in mean.indices { mean[i] /= Double(aligned.count) }
            guard let centred = normalized(mean) else { return nil }
            // Turn the new mean back onto the reference so only the shape, not the pose, can change.
            let back = DlibAffineTransform.similarity(from: centred, to: reference)
            guard let next = normalized(centred.map { back.apply($0) }) else { return nil }
            let change = rms(next, reference)
            reference = next
            if change < tolerance { break }
        }
        aligned = shapes.map { s in
            let t = DlibAffineTransform.similarity(from: s, to: reference)
            return s.map { t.apply($0) }
        }
        var sum = 0.0
        for s in aligned { for i in s.indices { let d = s[i] - reference[i]; sum += d.x * d.x + d.y * d.y } }
        let residual = (sum / Double(aligned.count * first.count)).squareRoot()
        return Procrustes(mean: reference, aligned: aligned, rmsResidual: residual, iterations: iterations)
    }

    /// A 51-point stable shape (dlib 17..<68) in the canonical unit-square frame: eyes level (image-left eye
    /// centre → image-right eye centre along +x), bounding box's longer side 1, box centred on (0.5, 0.5).
    /// Returns the shape and the scale applied (unit-square units per input unit); nil unless 51 points.
    public static func toUnitSquare(_ shape51: [SIMD2<Double>]) -> (points: [SIMD2<Double>], scale: Double)? {
        guard shape51.count == 51 else { return nil }
        // dlib 36–41 and 42–47 are 19..<25 and 25..<31 in the stable subset.
        let left = shape51[19..<25].reduce(SIMD2<Double>.zero, +) / 6
        let right = shape51[25..<31].reduce(SIMD2<Double>.zero, +) / 6
        let eye = right - left
        let length = (eye * eye).sum().squareRoot()
        guard length > 0, length.isFinite else { return nil }
        let c = eye.x / length, s = eye.y / length
        // Rotate by −angle: (x, y) ↦ (c·x + s·y, −s·x + c·y).
        let turned = shape51.map { SIMD2(c * $0.x + s * $0.y, -s * $0.x + c * $0.y) }
        var lo = SIMD2(Double.infinity, Double.infinity), hi = -lo
        for p in turned { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        let extent = max(hi.x - lo.x, hi.y - lo.y)
        guard extent > 0 else { return nil }
        let centre = (lo + hi) / 2
        return (turned.map { ($0 - centre) / extent + SIMD2(0.5, 0.5) }, 1 / extent)
    }

    /// The whole derivation from 51-point stable shapes (image pixels): Procrustes, then the unit-square frame.
    /// `rmsResidual` is re-measured in unit-square units (each shape aligned to the final mean by similarity).
    public static func derive(from shapes51: [[SIMD2<Double>]]) -> (points51: [SIMD2<Double>], rmsResidual: Double, iterations: Int)? {
        guard shapes51.allSatisfy({ $0.count == 51 }),
              let gpa = generalizedProcrustes(shapes51), let unit = toUnitSquare(gpa.mean) else { return nil }
        return (unit.points, gpa.rmsResidual * unit.scale, gpa.iterations)
    }

    /// Centred, unit Frobenius norm; nil when all points coincide.
    private static func normalized(_ shape: [SIMD2<Double>]) -> [SIMD2<Double>]? {
        let mean = shape.reduce(SIMD2<Double>.zero, +) / Double(shape.count)
        let centred = shape.map { $0 - mean }
        let norm = centred.reduce(0.0) { $0 + ($1 * $1).sum() }.squareRoot()
        guard norm > 0, norm.isFinite else { return nil }
        return centred.map { $0 / norm }
    }

    private static func rms(_ a: [SIMD2<Double>], _ b: [SIMD2<Double>]) -> Double {
        var sum = 0.0
        for i in a.indices { let d = a[i] - b[i]; sum += (d * d).sum() }
        return (sum / Double(a.count)).squareRoot()
    }
}
