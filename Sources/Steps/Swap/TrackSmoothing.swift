import FacetCore
import Faces
import Foundation

/// Smooths each track's alignment over time with a quadratic Savitzky–Golay filter.
///
/// Why this filter: swap runs offline over the whole clip, so the filter may look ahead as well as back. A
/// symmetric window has no phase lag at all (a causal filter such as the One-Euro or a Kalman filter trades
/// jitter against lag), and a local *quadratic* fit is exact for motion of constant velocity and constant
/// acceleration, so a fast head turn is followed rather than rounded off, while landmark jitter (independent
/// from frame to frame) is averaged away: with the default radius 3 (7 frames) the jitter's standard deviation
/// drops to √(7/21) ≈ 0.58 of its raw value. The window never crosses a track's end (a cut or a lost face
/// starts a new track): near an end it shrinks symmetrically, and a face with fewer than two neighbours on
/// each side keeps its own alignment.
///
/// What is smoothed: the similarity's log-scale, its (unwrapped) angle and the frame position of the crop's
/// centre — the four numbers of a similarity transform, so the result is again an exact similarity.
enum AlignmentSmoother {
    /// Savitzky–Golay weights of a quadratic fit over positions −m...m, evaluated at 0.
    static func weights(radius m: Int) -> [Double] {
        guard m >= 2 else { return m == 1 ? [0, 1, 0] : [1] }
        let denominator = Double((2 * m + 3) * (2 * m + 1) * (2 * m - 1))
        return (-m...m).map { j in (3 * Double(3 * m * m + 3 * m - 1) - 15 * Double(j * j)) / denominator }
    }

    /// The smoothed alignments (frame pixels → crop pixels) of `raw[frame][face]`, where `tracks[frame][face]`
    /// names each face's track. Nil entries (no alignment) break a track's run.
    static func smooth(raw: [[AffineMatrix2x3?]], tracks: [[Int]], cropSize: Int, radius: Int) -> [[AffineMatrix2x3?]] {
        guard radius >= 2 else { return raw }
        var out = raw
        // Runs: consecutive frames of one track.
        var runs: [[(Int, Int)]] = []
        var open: [Int: Int] = [:]   // track → index into runs
        var lastFrame: [Int: Int] = [:]
        for f in raw.indices {
            for k in raw[f].indices {
                let track = tracks[f][k]
                guard raw[f][k] != nil else { open[track] = nil; continue }
                if let r = open[track], lastFrame[track] == f - 1 {
                    runs[r].append((f, k))
                } else {
                    runs.append([(f, k)])
                    open[track] = runs.count - 1
                }
                lastFrame[track] = f
            }
        }
        let half = Double(cropSize) / 2
        for run in runs where run.count >= 5 {
            // Parameters per face: log scale, angle (unwrapped along the run), crop-centre position.
            var params: [SIMD4<Double>] = []
            var previousAngle: Double?
            for (f, k) in run {
                guard let m = raw[f][k], let inv = m.inverse else { params.append(.zero); continue }
                let scale = abs(m.determinant).squareRoot()
                var angle = atan2(m.c, m.a)
                if let p = previousAngle {
                    while angle - p > .pi { angle -= 2 * .pi }
                    while angle - p < -.pi { angle += 2 * .pi }
                }
                previousAngle = angle
                let centre = inv.apply(SIMD2(half, half))
                params.append(SIMD4(log(max(scale, 1e-12)), angle, centre.x, centre.y))
            }
            for i in run.indices {
                let reach = min(radius, i, run.count - 1 - i)
                guard reach >= 2 else { continue }
                let w = weights(radius: reach)
                var p = SIMD4<Double>.zero
                for j in -reach...reach { p += w[j + reach] * params[i + j] }
                let s = exp(p.x), cosA = cos(p.y), sinA = sin(p.y)
                let a = s * cosA, b = -s * sinA, c = s * sinA, d = s * cosA
                let tx = half - (a * p.z + b * p.w), ty = half - (c * p.z + d * p.w)
                let (f, k) = run[i]
                out[f][k] = AffineMatrix2x3(a: a, b: b, tx: tx, c: c, d: d, ty: ty)
            }
        }
        return out
    }
}
