import Foundation

/// How well an identity's reference descriptors agree with each other: the checks `identify enroll` runs
/// before it stores references and `identify list` reports, and the spread the open-set rule calibrates with.
///
/// Every figure is a Euclidean distance between dlib 128-d descriptors (same person typically 0.2–0.5,
/// different people 0.6–1.0).
public enum ReferenceChecks {
    /// A reference whose median distance to the identity's other references exceeds this is not the same
    /// person in dlib's sense (its verification threshold). On lfw-open's development people (first five
    /// photos, central face) 3 of 480 genuine references exceed it and 99% of other people's faces do.
    public static let outlierDistance = 0.6
    /// An identity whose median pairwise reference distance exceeds this is *loose*: its references are
    /// unusually far apart (a mix of people, or very poor photos), and `identify list` flags it.
    public static let looseSpread = 0.5

    /// Median distance from `vector` to each of `others` (infinity for none).
    public static func consensusDistance(_ vector: [Float], to others: [[Float]]) -> Double {
        median(others.map { IdentityGallery.distance(vector, $0) })
    }

    /// For each reference, its median distance to the other references (infinity with fewer than two).
    public static func consensus(_ references: [[Float]]) -> [Double] {
        references.indices.map { i in
            consensusDistance(references[i], to: references.indices.filter { $0 != i }.map { references[$0] })
        }
    }

    /// Summary of an identity's references.
    public struct Spread: Equatable, Sendable {
        /// Median of all pairwise distances.
        public var median: Double
        /// The reference least like the others (index) and its median distance to them.
        public var worst: Int
        public var worstDistance: Double
        /// `median > looseSpread`, or the worst reference is an outlier (with three or more references).
        public var loose: Bool
    }

    /// The spread of two or more references (nil for fewer).
    public static func spread(_ references: [[Float]]) -> Spread? {
        guard references.count >= 2 else { return nil }
        var pairs: [Double] = []
        for i in references.indices { for j in references.indices where j > i { pairs.append(IdentityGallery.distance(references[i], references[j])) } }
        let per = consensus(references)
        var worst = 0
        for i in per.indices where per[i] > per[worst] { worst = i }
        let m = median(pairs)
        return Spread(median: m, worst: worst, worstDistance: per[worst],
                      loose: m > looseSpread || (references.count >= 3 && per[worst] > outlierDistance))
    }

    /// Which of an image's faces (`candidates`, descriptors) is the person: the one with the smallest median
    /// distance to `consensus` (descriptors known or believed to be the person), when that distance is at
    /// most `limit` and clearly smaller than the runner-up's (by `margin`). Nil when nothing decides.
    public static func pick(_ candidates: [[Float]], consensus: [[Float]], limit: Double = outlierDistance,
                            margin: Double = 0.05) -> (index: Int, distance: Double)? {
        guard !consensus.isEmpty, !candidates.isEmpty else { return nil }
        let scores = candidates.map { consensusDistance($0, to: consensus) }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        let best = order[0]
        guard scores[best] <= limit else { return nil }
        if order.count > 1, scores[order[1]] - scores[best] < margin { return nil }
        return (best, scores[best])
    }

    /// Median of `values` (infinity for none).
    public static func median(_ values: [Double]) -> Double { LabelDecider.median(values) }
}
