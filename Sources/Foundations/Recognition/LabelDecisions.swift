import Foundation

/// Who each face is, from its distances to the enrolled identities.
///
/// **Per face:** the nearest identity, if its distance is at most `threshold`; otherwise unknown.
///
/// **Per track** (faces of one video track, which `detect` links across consecutive frames): the track's
/// identity is the one whose *median* distance over the track's faces is smallest, if that median is at
/// most `threshold`; otherwise the whole track is unknown. Every face of a labelled track takes the track's
/// identity unless its own distance to it exceeds `threshold + outlierMargin` — then it is unknown (never
/// another person). So one odd frame (motion blur, a profile, a hand over the face) can neither flip a
/// person nor pull a bystander into a track, and a track's label cannot come from a minority of frames.
/// Faces of image inputs have no tracks and are decided alone.
///
/// **Small faces:** a face under `minFaceSize` (√(box area), frame pixels) is too small to recognise: alone it
/// is unknown, and in a track it does not vote (it still takes its track's label under the rule above). On
/// the LFW test images, blurred 26–30 px bystanders came within 0.59 of an enrolled person while every face of
/// 40 px or more was recognised correctly.
public struct LabelDecider: Sendable {
    public var threshold: Double
    public var outlierMargin: Double
    public var minFaceSize: Double
    public var names: [String]

    public init(threshold: Double, outlierMargin: Double = 0.1, minFaceSize: Double = 36, names: [String]) {
        self.threshold = threshold; self.outlierMargin = outlierMargin; self.minFaceSize = minFaceSize; self.names = names
    }

    /// One face's decision.
    public struct Decision: Equatable, Sendable {
        /// Index into `names`; nil = unknown.
        public var identity: Int?
        public var distance: Double?
        public var nearest: Int?
        public var nearestDistance: Double?
        public var faceDecision: Int?
        public var byTrack: Bool
    }

    /// A track's vote.
    public struct TrackVote: Equatable, Sendable {
        public var identity: Int?
        public var medianDistance: Double?
        public var outliers: Int
    }

    /// The face-alone decision for one face's distances (one per identity) and its size.
    public func decideFace(_ distances: [Double], faceSize: Double) -> Decision {
        let nearest = Self.argmin(distances)
        let nd = nearest.map { distances[$0] }
        let own = (nd ?? .infinity) <= threshold && faceSize >= minFaceSize ? nearest : nil
        return Decision(identity: own, distance: own.map { distances[$0] }, nearest: nearest, nearestDistance: nd, faceDecision: own, byTrack: false)
    }

    /// Decisions for the faces of one track (`distances[face][identity]`, `faceSizes[face]`) and the track's vote.
    public func decideTrack(_ distances: [[Double]], faceSizes: [Double]) -> (faces: [Decision], vote: TrackVote) {
        var alone = distances.indices.map { decideFace(distances[$0], faceSize: faceSizes[$0]) }
        let voters = distances.indices.filter { faceSizes[$0] >= minFaceSize }
        guard !voters.isEmpty, !names.isEmpty else {
            for f in alone.indices { alone[f].byTrack = true }
            return (alone, TrackVote(identity: nil, medianDistance: nil, outliers: 0))
        }
        let medians = (0..<names.count).map { k in Self.median(voters.map { distances[$0][k] }) }
        guard let best = Self.argmin(medians) else { return (alone, TrackVote(identity: nil, medianDistance: nil, outliers: 0)) }
        let accepted = medians[best] <= threshold
        var outliers = 0
        for f in alone.indices {
            alone[f].byTrack = true
            if accepted && distances[f][best] <= threshold + outlierMargin {
                alone[f].identity = best
                alone[f].distance = distances[f][best]
            } else {
                if accepted { outliers += 1 }
                alone[f].identity = nil
                alone[f].distance = nil
            }
        }
        return (alone, TrackVote(identity: accepted ? best : nil, medianDistance: medians[best], outliers: outliers))
    }

    static func argmin(_ values: [Double]) -> Int? {
        var best: Int?
        for (i, v) in values.enumerated() where v.isFinite { if best.map({ v < values[$0] }) ?? true { best = i } }
        return best
    }

    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .infinity }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
