import Foundation

/// Choosing at most `count` faces that cover poses and expressions as evenly as the faces allow, or in the
/// proportions of a reference set (the faces of the video to be swapped).
///
/// 1. Pose cells get quotas by water-filling (`WaterFill`): weight `w·r + (1 − w)/k` for a cell holding
///    share `r` of the reference faces, with `k` occupied cells and `w` the reference weight (without a
///    reference, `w = 0`: every occupied cell counts the same). A cell with fewer faces than its share gives
///    all it has, and the rest is shared again: rare poses are kept whole, common ones thinned.
/// 2. Inside a cell, the quota is shared over the expression classes present the same way (reference
///    expression shares, or evenly).
/// 3. Inside a (cell, class), faces are taken best first (`keepScore`, ties by the seeded tie-break), one
///    track at a time in turn, so the picks spread over shots and sources.
///
/// Unlike DeepFaceLab's "sort final" (yaw bins only, then sharpness), this balances yaw and pitch jointly
/// and expressions within each pose, and can follow the target video's own distribution.
public enum CoverageSelector {
    /// How the quota of one pose cell came out.
    public struct CellQuota: Sendable, Equatable, Codable {
        public var cell: String
        public var available: Int
        public var quota: Int
        /// Share of the reference faces in this cell (nil without a reference).
        public var referenceShare: Double?
    }

    /// The selection: `selected[i]` for each face given, and the pose quotas (cells with faces, in cell order).
    public struct Result: Sendable {
        public var selected: [Bool]
        public var quotas: [CellQuota]
        public var cellOf: [Int]
    }

    public static func select(traits: [FaceTraits], tracks: [Int64], tieBreaks: [UInt64], count: Int, bins: CoverageBins,
                              reference: [FaceTraits]?, referenceWeight: Double) -> Result {
        let n = traits.count
        let cells = traits.map { bins.poseCell($0) }
        let classes = traits.map { CoverageBins.expressionClass($0) }
        var selected = [Bool](repeating: false, count: n)
        let weight = reference == nil || reference?.isEmpty == true ? 0 : min(max(referenceWeight, 0), 1)
        var referenceCells = [Double](repeating: 0, count: bins.poseCells)
        var referenceClasses = [Double](repeating: 0, count: CoverageBins.expressionClasses)
        if let reference, !reference.isEmpty {
            for face in reference {
                referenceCells[bins.poseCell(face)] += 1 / Double(reference.count)
                referenceClasses[CoverageBins.expressionClass(face)] += 1 / Double(reference.count)
            }
        }
        var byCell = [[Int]](repeating: [], count: bins.poseCells)
        for i in 0..<n { byCell[cells[i]].append(i) }
        let occupied = byCell.indices.filter { !byCell[$0].isEmpty }
        let cellWeights = occupied.map { weight * referenceCells[$0] + (1 - weight) / Double(occupied.count) }
        let cellQuotas = WaterFill.quotas(available: occupied.map { byCell[$0].count }, weights: cellWeights, total: count)
        let scores = traits.map(\.keepScore)
        var report: [CellQuota] = []
        for (j, cell) in occupied.enumerated() {
            let members = byCell[cell]
            report.append(CellQuota(cell: bins.poseLabel(of: cell), available: members.count, quota: cellQuotas[j],
                                    referenceShare: reference == nil ? nil : referenceCells[cell]))
            if cellQuotas[j] >= members.count {
                for i in members { selected[i] = true }
                continue
            }
            var byClass = [[Int]](repeating: [], count: CoverageBins.expressionClasses)
            for i in members { byClass[classes[i]].append(i) }
            let present = byClass.indices.filter { !byClass[$0].isEmpty }
            let classWeights = present.map { weight * referenceClasses[$0] + (1 - weight) / Double(present.count) }
            let classQuotas = WaterFill.quotas(available: present.map { byClass[$0].count }, weights: classWeights, total: cellQuotas[j])
            for (k, cls) in present.enumerated() {
                for i in pickSpread(byClass[cls], take: classQuotas[k], scores: scores, tieBreaks: tieBreaks, tracks: tracks) {
                    selected[i] = true
                }
            }
        }
        return Result(selected: selected, quotas: report, cellOf: cells)
    }

    /// `take` of `faces`: best first, one track at a time in turn (tracks ordered by their best face).
    static func pickSpread(_ faces: [Int], take: Int, scores: [Double], tieBreaks: [UInt64], tracks: [Int64]) -> [Int] {
        guard take < faces.count else { return faces }
        let ranked = faces.sorted { a, b in
            if scores[a] != scores[b] { return scores[a] > scores[b] }
            if tieBreaks[a] != tieBreaks[b] { return tieBreaks[a] < tieBreaks[b] }
            return a < b
        }
        var trackOrder: [Int64] = []
        var queues: [Int64: [Int]] = [:]
        for i in ranked {
            if queues[tracks[i]] == nil { trackOrder.append(tracks[i]) }
            queues[tracks[i], default: []].append(i)
        }
        var picked: [Int] = []
        var depth = 0
        while picked.count < take {
            var any = false
            for track in trackOrder {
                guard let queue = queues[track], depth < queue.count else { continue }
                any = true
                picked.append(queue[depth])
                if picked.count == take { break }
            }
            if !any { break }
            depth += 1
        }
        return picked
    }
}
