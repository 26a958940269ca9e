import Foundation

/// The pose and expression bins that dataset selection balances and the audit counts.
///
/// Pose: a yaw × pitch grid of `poseBinDegrees` cells over yaw −90°...90° and pitch −60°...60°; a value
/// outside falls into the outermost cell. Expression: 18 classes, mouth × eyes × smile:
/// - mouth: `closed` (openness < 0.05), `open` (< 0.25), `wide` (≥ 0.25), openness = inner-lip gap / eye distance;
/// - eyes: `closed` (mean openness < 0.15), `narrow` (< 0.25), `open` (≥ 0.25), openness = lid gap / eye width;
/// - smile: `smile` when the mouth-corner distance / eye distance is ≥ 0.95, else `neutral`.
/// The cut points sit between the values talking-head video gives at rest and in motion (sample clips: mouth
/// median 0.02–0.14, eyes 0.28–0.36, smile width 0.71–0.86 at rest, up to 1.1 smiling).
public struct CoverageBins: Sendable, Equatable, Codable {
    public var poseBinDegrees: Double

    public static let yawRange = -90.0...90.0
    public static let pitchRange = -60.0...60.0
    public static let mouthCuts = (closed: 0.05, open: 0.25)
    public static let eyeCuts = (closed: 0.15, narrow: 0.25)
    public static let smileCut = 0.95

    public init(poseBinDegrees: Double = 10) {
        self.poseBinDegrees = poseBinDegrees
    }

    public var yawBins: Int { max(1, Int((Self.yawRange.upperBound - Self.yawRange.lowerBound) / poseBinDegrees).clamped(1, 360)) }
    public var pitchBins: Int { max(1, Int((Self.pitchRange.upperBound - Self.pitchRange.lowerBound) / poseBinDegrees).clamped(1, 360)) }
    /// Number of pose cells (`yawBins × pitchBins`).
    public var poseCells: Int { yawBins * pitchBins }

    /// The pose cell of a face: `pitchIndex × yawBins + yawIndex`, indices counting up from −90° yaw and −60° pitch.
    public func poseCell(_ face: FaceTraits) -> Int {
        let y = Self.index(face.yaw, range: Self.yawRange, bins: yawBins, width: poseBinDegrees)
        let p = Self.index(face.pitch, range: Self.pitchRange, bins: pitchBins, width: poseBinDegrees)
        return p * yawBins + y
    }

    static func index(_ value: Double, range: ClosedRange<Double>, bins: Int, width: Double) -> Int {
        guard value.isFinite else { return bins / 2 }
        return Int(((value - range.lowerBound) / width).rounded(.down)).clamped(0, bins - 1)
    }

    /// Yaw and pitch ranges of a cell in degrees (the outermost cells also hold everything beyond them).
    public func poseRanges(of cell: Int) -> (yaw: ClosedRange<Double>, pitch: ClosedRange<Double>) {
        let y = cell % yawBins, p = cell / yawBins
        let y0 = Self.yawRange.lowerBound + Double(y) * poseBinDegrees, p0 = Self.pitchRange.lowerBound + Double(p) * poseBinDegrees
        return (y0...(y0 + poseBinDegrees), p0...(p0 + poseBinDegrees))
    }

    /// A cell's name, e.g. `yaw 10..20 pitch -10..0` (degrees, lower bound included).
    public func poseLabel(of cell: Int) -> String {
        let r = poseRanges(of: cell)
        func f(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(format: "%.1f", x) }
        return "yaw \(f(r.yaw.lowerBound))..\(f(r.yaw.upperBound)) pitch \(f(r.pitch.lowerBound))..\(f(r.pitch.upperBound))"
    }

    /// Number of expression classes.
    public static let expressionClasses = 18

    /// The expression class of a face: `mouth × 6 + eyes × 2 + smile`.
    public static func expressionClass(_ face: FaceTraits) -> Int {
        let mouth = face.mouthOpenness < mouthCuts.closed ? 0 : face.mouthOpenness < mouthCuts.open ? 1 : 2
        let eyes = face.eyeOpenness < eyeCuts.closed ? 0 : face.eyeOpenness < eyeCuts.narrow ? 1 : 2
        let smile = face.smileWidth >= smileCut ? 1 : 0
        return mouth * 6 + eyes * 2 + smile
    }

    /// A class's name, e.g. `mouth open, eyes open, smile`.
    public static func expressionLabel(of cls: Int) -> String {
        let mouth = ["closed", "open", "wide"][(cls / 6).clamped(0, 2)]
        let eyes = ["closed", "narrow", "open"][(cls / 2 % 3).clamped(0, 2)]
        return "mouth \(mouth), eyes \(eyes), \(cls % 2 == 1 ? "smile" : "neutral")"
    }
}

extension Comparable {
    func clamped(_ low: Self, _ high: Self) -> Self { min(max(self, low), high) }
}

/// Shares quotas out over bins in proportion to weights, never giving a bin more than it holds.
public enum WaterFill {
    /// Quotas `q[i] ≤ available[i]` summing to `min(total, Σ available)`: bins that hold less than their
    /// weighted share get all they have, and what they leave is shared among the rest by weight again;
    /// rounding goes to the largest remainders (ties to the lower index). Bins of weight 0 share only what
    /// the weighted bins cannot take, evenly.
    public static func quotas(available: [Int], weights: [Double], total: Int) -> [Int] {
        precondition(available.count == weights.count, "WaterFill: available and weights differ in length")
        var quota = [Int](repeating: 0, count: available.count)
        var remaining = min(max(0, total), available.reduce(0) { $0 + max(0, $1) })
        for pass in 0..<2 where remaining > 0 {
            // Pass 0: bins of positive weight by weight; pass 1: whatever is left, evenly.
            var active = available.indices.filter { available[$0] > quota[$0] && (pass == 1 || weights[$0] > 0) }
            while remaining > 0 && !active.isEmpty {
                let w = active.map { pass == 0 ? weights[$0] : 1 }
                let sum = w.reduce(0, +)
                let shares = w.map { Double(remaining) * $0 / sum }
                let saturated = active.indices.filter { Double(available[active[$0]] - quota[active[$0]]) <= shares[$0] }
                if !saturated.isEmpty {
                    for j in saturated {
                        remaining -= available[active[j]] - quota[active[j]]
                        quota[active[j]] = available[active[j]]
                    }
                    let full = Set(saturated.map { active[$0] })
                    active.removeAll { full.contains($0) }
                    continue
                }
                var given = 0
                for (j, i) in active.enumerated() {
                    let whole = Int(shares[j].rounded(.down))
                    quota[i] += whole
                    given += whole
                }
                remaining -= given
                let byRemainder = active.indices.sorted { a, b in
                    let ra = shares[a] - shares[a].rounded(.down), rb = shares[b] - shares[b].rounded(.down)
                    return ra != rb ? ra > rb : active[a] < active[b]
                }
                for j in byRemainder where remaining > 0 {
                    quota[active[j]] += 1
                    remaining -= 1
                }
                active.removeAll()
            }
        }
        return quota
    }
}
