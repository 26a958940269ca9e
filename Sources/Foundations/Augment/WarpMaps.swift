import Faces
import FacetCore
import Foundation
import Models

/// Where each pixel of one augmented sample is read from.
///
/// Coordinates: *output* points are continuous, `U = u + 0.5` for output pixel column u (0…S); *processing*
/// points are pixels of the face at processing size P, pixel centres at +0.5. The random affine works in
/// the *transformed* image `T(p) = I(A⁻¹(F(p)))`: A rotates and scales about the crop centre and shifts,
/// F mirrors left-right when the sample is flipped (DeepFakes' `random_transform`).
///
/// - Input (DeepFakes' `random_warp`): a 5×5 grid of control points spanning the covered square of T
///   (centre ± r, r = coverage·P/2), each moved by Gaussian noise, is interpolated bilinearly over the
///   output: output point U sits at grid coordinate 4U/S, so the grid's corners are the output's corners.
///   With warp-to-landmarks the grid stays regular and a thin-plate spline moves the face's landmarks onto
///   those of a similar face instead.
/// - Target: the least-squares similarity from the grid's output positions (k·S/4, l·S/4) to the noisy
///   control points: the same region, unwarped. Without noise it is exactly the input's map.
public struct WarpPlan: Sendable {
    public let geometry: AugmentGeometry
    /// Transformed-image point → processing point (A⁻¹ ∘ F).
    public let sourceFromTransformed: AffineMatrix2x3
    /// The input's 25 control points in the transformed image, row-major.
    public let inputGrid: [SIMD2<Double>]
    /// Output point → transformed-image point, for the target.
    public let targetMap: AffineMatrix2x3
    /// With warp-to-landmarks: transformed-image points of a lattice every `latticeStep` output pixels
    /// (`latticeSide`² points, row-major), read through the target map and then the spline.
    let lattice: [SIMD2<Double>]?
    let latticeSide: Int
    let latticeStep: Double

    /// The plan for `draw`. `landmarks` (68 processing points) and `partner` (68 points of the face to warp
    /// onto) are used only with `settings.warpToLandmarks`; without them, or when the spline cannot be fitted,
    /// the input is unwarped.
    public init(draw: AugmentDraw, geometry: AugmentGeometry, settings: AugmentSettings,
                landmarks: [SIMD2<Double>]? = nil, partner: [SIMD2<Double>]? = nil) {
        self.geometry = geometry
        let p = Double(geometry.processingSize), s = Double(geometry.outputSize), r = geometry.radius
        let centre = SIMD2(p / 2, p / 2)
        // A: q ↦ s·R(θ)·(q − c) + c + shift, θ counter-clockwise on screen (y down), as OpenCV's getRotationMatrix2D.
        let theta = draw.rotationDegrees * Double.pi / 180
        let alpha = draw.scale * cos(theta), beta = draw.scale * sin(theta)
        let forward = AffineMatrix2x3(a: alpha, b: beta, tx: centre.x + draw.shift.x - alpha * centre.x - beta * centre.y,
                                      c: -beta, d: alpha, ty: centre.y + draw.shift.y + beta * centre.x - alpha * centre.y)
        let flip = draw.flip ? AffineMatrix2x3(a: -1, b: 0, tx: p, c: 0, d: 1, ty: 0) : .identity
        let inverse = forward.inverse ?? .identity
        sourceFromTransformed = inverse.concatenating(flip)

        var base: [SIMD2<Double>] = [], grid: [SIMD2<Double>] = [], outputPoints: [SIMD2<Double>] = []
        let useLandmarks = settings.warpToLandmarks && landmarks?.count == 68 && partner?.count == 68
        for row in 0..<5 {
            for column in 0..<5 {
                let point = SIMD2(centre.x - r + Double(column) * r / 2, centre.y - r + Double(row) * r / 2)
                base.append(point)
                grid.append(useLandmarks ? point : point + draw.warpNoise[row * 5 + column])
                outputPoints.append(SIMD2(Double(column) * s / 4, Double(row) * s / 4))
            }
        }
        inputGrid = grid
        if grid == base {
            targetMap = AffineMatrix2x3(a: 2 * r / s, b: 0, tx: centre.x - r, c: 0, d: 2 * r / s, ty: centre.y - r)
        } else {
            targetMap = AffineMatrix2x3(DlibAffineTransform.similarity(from: outputPoints, to: grid))
        }

        latticeStep = 4
        latticeSide = Int((s / latticeStep).rounded(.up)) + 1
        if useLandmarks, let landmarks, let partner {
            // This face's landmarks in the transformed image; flipped faces swap left and right points so that
            // point i still means the same feature as the partner's point i.
            let toTransformed = flip.concatenating(forward)
            var own = landmarks.map { toTransformed.apply($0) }
            if draw.flip { own = Landmarks68.mirrorOrder.map { own[$0] } }
            let used = Landmarks68.warpPoints
            var from = used.map { partner[$0] }, to = used.map { own[$0] }
            // Border anchors keep the image's edges where they are.
            for (x, y) in [(0.0, 0.0), (0.5, 0), (1, 0), (0, 0.5), (1, 0.5), (0, 1), (0.5, 1), (1, 1)] {
                from.append(SIMD2(x * p, y * p)); to.append(SIMD2(x * p, y * p))
            }
            if let spline = ThinPlateSpline(from: from, to: to, scale: p) {
                var points: [SIMD2<Double>] = []
                points.reserveCapacity(latticeSide * latticeSide)
                for i in 0..<latticeSide {
                    for j in 0..<latticeSide {
                        let u = min(Double(j) * latticeStep, s), v = min(Double(i) * latticeStep, s)
                        points.append(spline.apply(targetMap.apply(SIMD2(u, v))))
                    }
                }
                lattice = points
            } else {
                lattice = nil
            }
        } else {
            lattice = nil
        }
    }

    /// The transformed-image point the input reads at output point (U, V).
    @inline(__always)
    public func inputTransformedPoint(_ u: Double, _ v: Double) -> SIMD2<Double> {
        let s = Double(geometry.outputSize)
        if let lattice {
            let gx = min(max(u / latticeStep, 0), Double(latticeSide - 1)), gy = min(max(v / latticeStep, 0), Double(latticeSide - 1))
            let j = min(Int(gx), latticeSide - 2), i = min(Int(gy), latticeSide - 2)
            let fx = gx - Double(j), fy = gy - Double(i)
            let k = i * latticeSide + j
            let top = lattice[k] * (1 - fx) + lattice[k + 1] * fx
            let bottom = lattice[k + latticeSide] * (1 - fx) + lattice[k + latticeSide + 1] * fx
            return top * (1 - fy) + bottom * fy
        }
        let gx = min(max(4 * u / s, 0), 4), gy = min(max(4 * v / s, 0), 4)
        let j = min(Int(gx), 3), i = min(Int(gy), 3)
        let fx = gx - Double(j), fy = gy - Double(i)
        let k = i * 5 + j
        let top = inputGrid[k] * (1 - fx) + inputGrid[k + 1] * fx
        let bottom = inputGrid[k + 5] * (1 - fx) + inputGrid[k + 6] * fx
        return top * (1 - fy) + bottom * fy
    }

    /// The processing-image point the input reads at output point (U, V).
    @inline(__always)
    public func inputPoint(_ u: Double, _ v: Double) -> SIMD2<Double> {
        sourceFromTransformed.apply(inputTransformedPoint(u, v))
    }

    /// The processing-image point the target (and its masks) read at output point (U, V).
    @inline(__always)
    public func targetPoint(_ u: Double, _ v: Double) -> SIMD2<Double> {
        sourceFromTransformed.apply(targetMap.apply(SIMD2(u, v)))
    }
}

/// Index tables for the iBUG 68-point layout.
public enum Landmarks68 {
    /// For each point, the point that takes its place in a left-right mirrored face.
    public static let mirrorOrder: [Int] = {
        var order = Array(0..<68)
        for a in 0..<8 { order[a] = 16 - a; order[16 - a] = a }            // jaw
        for a in 17...21 { order[a] = 43 - a; order[43 - a] = a }          // brows
        let pairs: [(Int, Int)] = [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
                                   (48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
        for (a, b) in pairs { order[a] = b; order[b] = a }
        return order
    }()

    /// The points the landmark warp follows: all but the inner lips (which meet when the mouth is closed).
    public static let warpPoints: [Int] = Array(0..<60)
    /// Eyes (36–41 and 42–47, one hull each) and the outer lips (48–59).
    public static let leftEye = Array(36...41), rightEye = Array(42...47), mouth = Array(48...59)
}

/// A 2-D thin-plate spline through point pairs (kernel r²·log r², a small smoothing term), fitted in units
/// of `scale` pixels for conditioning.
struct ThinPlateSpline {
    let centres: [SIMD2<Double>]
    /// Kernel weights per centre, then the affine part (1, x, y), for x and y.
    let weights: [SIMD2<Double>]
    let scale: Double

    init?(from: [SIMD2<Double>], to: [SIMD2<Double>], scale: Double, smoothing: Double = 1e-4) {
        let n = from.count
        guard n == to.count, n >= 3, scale > 0, (from + to).allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return nil }
        self.scale = scale
        centres = from.map { $0 / scale }
        let m = n + 3
        var a = [Double](repeating: 0, count: m * m)
        var rhs = [SIMD2<Double>](repeating: .zero, count: m)
        for i in 0..<n {
            for j in 0..<n { a[i * m + j] = i == j ? smoothing : Self.kernel(centres[i], centres[j]) }
            a[i * m + n] = 1; a[i * m + n + 1] = centres[i].x; a[i * m + n + 2] = centres[i].y
            a[n * m + i] = 1; a[(n + 1) * m + i] = centres[i].x; a[(n + 2) * m + i] = centres[i].y
            rhs[i] = to[i] / scale
        }
        guard let solution = Self.solve(&a, &rhs, m) else { return nil }
        weights = solution
    }

    @inline(__always)
    static func kernel(_ p: SIMD2<Double>, _ q: SIMD2<Double>) -> Double {
        let d = p - q
        let r2 = d.x * d.x + d.y * d.y
        return r2 > 0 ? r2 * log(r2) : 0
    }

    func apply(_ point: SIMD2<Double>) -> SIMD2<Double> {
        let p = point / scale, n = centres.count
        var out = weights[n] + weights[n + 1] * p.x + weights[n + 2] * p.y
        for i in 0..<n { out += weights[i] * Self.kernel(p, centres[i]) }
        return out * scale
    }

    /// Gaussian elimination with partial pivoting; nil when the system is singular.
    static func solve(_ a: inout [Double], _ b: inout [SIMD2<Double>], _ m: Int) -> [SIMD2<Double>]? {
        for column in 0..<m {
            var pivot = column
            for row in column..<m where abs(a[row * m + column]) > abs(a[pivot * m + column]) { pivot = row }
            guard abs(a[pivot * m + column]) > 1e-12 else { return nil }
            if pivot != column {
                for k in 0..<m { a.swapAt(column * m + k, pivot * m + k) }
                b.swapAt(column, pivot)
            }
            let d = a[column * m + column]
            for row in (column + 1)..<m {
                let f = a[row * m + column] / d
                if f == 0 { continue }
                for k in column..<m { a[row * m + k] -= f * a[column * m + k] }
                b[row] -= b[column] * f
            }
        }
        var x = [SIMD2<Double>](repeating: .zero, count: m)
        for row in stride(from: m - 1, through: 0, by: -1) {
            var sum = b[row]
            for k in (row + 1)..<m { sum -= x[k] * a[row * m + k] }
            x[row] = sum / a[row * m + row]
        }
        return x.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) ? x : nil
    }
}
