import Faces
import Foundation

/// Matches a rendered face's colours to the face it replaces, from statistics inside the face mask only,
/// smoothed along the track so the colour does not flicker from frame to frame.
///
/// Smoothing: each track keeps an exponential moving average of its statistics (weight `smoothing` for the
/// newest frame; 0.3 ≈ a time constant of 3 frames), reset when a track starts. Both the original's and the
/// render's statistics are smoothed, so a steady lighting change still comes through within a few frames.
/// The averages restart at each segment (`--segment-frames`), so segments are independent of each other.
final class ColourMatcher {
    let choice: SwapColorChoice
    let smoothing: Double
    /// Per track: the smoothed statistics (6 means/deviations for Reinhard and average; 3 × 256 LUT entries for
    /// histogram matching).
    private var state: [Int: [Double]] = [:]

    init(choice: SwapColorChoice, smoothing: Double = 0.3) {
        self.choice = choice
        self.smoothing = smoothing
    }

    /// Adjusts `render` (S·S·3 floats 0...1) in place towards `original` (same layout) over the pixels where
    /// `mask` (S·S, 0...1) is above 0.5.
    func match(render: UnsafeMutablePointer<Float>, original: UnsafePointer<Float>, mask: [Float], track: Int) {
        let count = mask.count
        let inside = (0..<count).filter { mask[$0] > 0.5 }
        guard choice != .none, inside.count >= 16 else { return }
        switch choice {
        case .none: return
        case .average: matchAverage(render, original, inside: inside, count: count, track: track)
        case .reinhard: matchReinhard(render, original, inside: inside, count: count, track: track)
        case .histogram: matchHistogram(render, original, inside: inside, count: count, track: track)
        }
    }

    /// Forgets every track's statistics: called at each segment's start, so a segment's frames do not depend on
    /// the segments before it (a resumed or sharded swap gives the same frames as one run).
    func reset() { state.removeAll() }

    private func smoothed(_ fresh: [Double], track: Int) -> [Double] {
        guard let old = state[track], old.count == fresh.count else { state[track] = fresh; return fresh }
        let next = zip(old, fresh).map { $0 + smoothing * ($1 - $0) }
        state[track] = next
        return next
    }

    private func matchAverage(_ render: UnsafeMutablePointer<Float>, _ original: UnsafePointer<Float>, inside: [Int], count: Int, track: Int) {
        var sums = [Double](repeating: 0, count: 6)
        for i in inside { for c in 0..<3 { sums[c] += Double(original[3 * i + c]); sums[3 + c] += Double(render[3 * i + c]) } }
        let stats = smoothed(sums.map { $0 / Double(inside.count) }, track: track)
        for i in 0..<count { for c in 0..<3 { render[3 * i + c] = min(max(render[3 * i + c] + Float(stats[c] - stats[3 + c]), 0), 1) } }
    }

    private func matchReinhard(_ render: UnsafeMutablePointer<Float>, _ original: UnsafePointer<Float>, inside: [Int], count: Int, track: Int) {
        var labO = [Float](repeating: 0, count: count * 3), labR = labO
        labO.withUnsafeMutableBufferPointer { LabColour.toLab(original, count: count, into: $0.baseAddress!) }
        labR.withUnsafeMutableBufferPointer { LabColour.toLab(UnsafePointer(render), count: count, into: $0.baseAddress!) }
        // Means and standard deviations of L*, a*, b*: original (0...2, 6...8), render (3...5, 9...11).
        var mean = [Double](repeating: 0, count: 6), square = [Double](repeating: 0, count: 6)
        for i in inside {
            for c in 0..<3 {
                let o = Double(labO[3 * i + c]), r = Double(labR[3 * i + c])
                mean[c] += o; square[c] += o * o; mean[3 + c] += r; square[3 + c] += r * r
            }
        }
        let n = Double(inside.count)
        var fresh = [Double](repeating: 0, count: 12)
        for c in 0..<6 {
            let m = mean[c] / n
            fresh[c] = m
            fresh[6 + c] = max(square[c] / n - m * m, 0).squareRoot()
        }
        let s = smoothed(fresh, track: track)
        for i in 0..<count {
            for c in 0..<3 {
                let ratio = min(max(s[6 + c] / max(s[9 + c], 1e-3), 0.5), 2)
                labR[3 * i + c] = Float((Double(labR[3 * i + c]) - s[3 + c]) * ratio + s[c])
            }
        }
        labR.withUnsafeBufferPointer { LabColour.toRGB($0.baseAddress!, count: count, into: render) }
    }

    private func matchHistogram(_ render: UnsafeMutablePointer<Float>, _ original: UnsafePointer<Float>, inside: [Int], count: Int, track: Int) {
        var lut = [Double](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            var ho = [Double](repeating: 0, count: 256), hr = ho
            for i in inside {
                ho[Int(min(max(original[3 * i + c], 0), 1) * 255 + 0.5)] += 1
                hr[Int(min(max(render[3 * i + c], 0), 1) * 255 + 0.5)] += 1
            }
            var co = [Double](repeating: 0, count: 256), cr = co, ao = 0.0, ar = 0.0
            for v in 0..<256 { ao += ho[v]; ar += hr[v]; co[v] = ao; cr[v] = ar }
            var j = 0
            for v in 0..<256 {
                let target = cr[v] / max(ar, 1) * max(ao, 1)
                while j < 255 && co[j] < target { j += 1 }
                lut[c * 256 + v] = Double(j) / 255
            }
        }
        let s = smoothed(lut, track: track)
        for i in 0..<count {
            for c in 0..<3 {
                let x = Double(min(max(render[3 * i + c], 0), 1)) * 255
                let lo = Int(x), hi = min(lo + 1, 255), t = x - Double(lo)
                render[3 * i + c] = Float(s[c * 256 + lo] * (1 - t) + s[c * 256 + hi] * t)
            }
        }
    }
}
