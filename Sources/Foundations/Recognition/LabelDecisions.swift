import Foundation

/// Who each face is, from its distances to the enrolled identities: the one rule `identify label`,
/// `identify cluster` and `swap`'s target filter share.
///
/// **Entry point:** `LabelDecider(gallery:rule:)` then `decideVideo(tracks:faceSizes:overlaps:)` (or
/// `decideTrack` / `decideFace` for one track or face); distances come from `gallery.distances(_:rule:)`
/// with `rule.distance`.
///
/// **Per face:** the nearest identity, if its distance is at most that identity's threshold (`thresholds`;
/// one `threshold` for all under the old fixed rules) and it is at least `margin` nearer than the second
/// nearest; otherwise unknown. Under the default `calibrated` rule each identity's threshold comes from its
/// own references' spread (`OpenSetCalibration`).
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
    /// Per identity (in `names` order), the distance at which a face (or a track's median) can take it.
    public var thresholds: [Double]
    /// The nearest identity must be at least this much nearer than the second (0 for the fixed rules).
    public var margin: Double
    /// A track with at least `trackFaces` voting faces gets each identity's threshold raised by that identity's
    /// `trackBonuses` entry, up to `trackCap` (calibrated rule; none for the fixed rules).
    public var trackBonuses: [Double]
    public var trackFaces: Int
    public var trackCap: Double

    /// One fixed threshold for every identity, no margin (the `nearest` and `centroid` rules).
    public init(threshold: Double, outlierMargin: Double = 0.1, minFaceSize: Double = 36, names: [String]) {
        self.threshold = threshold; self.outlierMargin = outlierMargin; self.minFaceSize = minFaceSize; self.names = names
        self.thresholds = Array(repeating: threshold, count: names.count)
        self.margin = 0
        self.trackBonuses = []; self.trackFaces = 1; self.trackCap = threshold
    }

    /// The decider of `rule` for `gallery`: per-identity thresholds and a margin for `calibrated` (`threshold`,
    /// when given, replaces the calibration's cap), `threshold` (default 0.6) for every identity otherwise.
    public init(gallery: IdentityGallery, rule: DecisionRule = .calibrated, threshold: Double? = nil, minFaceSize: Double = 36,
                calibration: OpenSetCalibration = .standard) {
        let names = gallery.entries.map(\.name)
        switch rule {
        case .calibrated:
            var c = calibration
            if let threshold { c.cap = threshold; c.single = threshold; c.floor = min(c.floor, threshold) }
            self.init(threshold: max(c.cap, c.single), minFaceSize: minFaceSize, names: names)
            thresholds = gallery.thresholds(c)
            margin = c.margin
            trackBonuses = gallery.trackBonuses(c); trackFaces = c.trackFaces; trackCap = max(c.trackCap, c.cap, c.single)
        case .nearest, .centroid:
            self.init(threshold: threshold ?? 0.6, minFaceSize: minFaceSize, names: names)
        }
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
        let own = nearest.flatMap { accepts($0, distances) } == true && faceSize >= minFaceSize ? nearest : nil
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
        let trackLimit = self.trackLimit(best, voters: voters.count)
        let accepted = accepts(best, medians, limit: trackLimit)
        var outliers = 0
        for f in alone.indices {
            alone[f].byTrack = true
            if accepted && distances[f][best] <= trackLimit + outlierMargin {
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

    /// Decisions for the tracks of one video (`distances[track][face][identity]`). Tracks seen in the same
    /// frame are two different people (`overlaps(a, b)`), so each is the other's cohort: when several such
    /// tracks take one identity, only the one with the smallest median distance keeps it and the others
    /// become unknown. `overlaps` nil: tracks are not compared.
    public func decideVideo(_ distances: [[[Double]]], faceSizes: [[Double]],
                            overlaps: ((Int, Int) -> Bool)? = nil) -> [(faces: [Decision], vote: TrackVote)] {
        var out = distances.indices.map { decideTrack(distances[$0], faceSizes: faceSizes[$0]) }
        guard let overlaps else { return out }
        for a in out.indices {
            guard let k = out[a].vote.identity, let da = out[a].vote.medianDistance else { continue }
            let beaten = out.indices.contains { b in
                b != a && out[b].vote.identity == k && overlaps(a, b)
                    && ((out[b].vote.medianDistance ?? .infinity) < da || ((out[b].vote.medianDistance ?? .infinity) == da && b < a))
            }
            guard beaten else { continue }
            out[a].vote.identity = nil
            for f in out[a].faces.indices { out[a].faces[f].identity = nil; out[a].faces[f].distance = nil }
        }
        return out
    }

    /// Of the tracks whose vote named nobody (`votes`, as `decideVideo` returned them), the one whose median
    /// distance to identity `k` over its voting faces is smallest, among tracks of at least `trackFaces` voters:
    /// where identity `k`, when no track was named `k`, most likely is (the person in harder light or pose than the
    /// references, or a look-alike; only a person looking can tell). Returns the track's index, that median and
    /// the most a track's median may be to be named `k`; nil when no such track lies `within` (dlib's same-person
    /// distance by default) of `k`.
    public func nearestUnnamedTrack(to k: Int, distances: [[[Double]]], faceSizes: [[Double]], votes: [TrackVote],
                                    within: Double = 0.6) -> (track: Int, median: Double, limit: Double)? {
        var best: (track: Int, median: Double, limit: Double)?
        for t in distances.indices where votes.indices.contains(t) && votes[t].identity == nil {
            let voters = distances[t].indices.filter {
                faceSizes[t].indices.contains($0) && faceSizes[t][$0] >= minFaceSize && distances[t][$0].indices.contains(k) && distances[t][$0][k].isFinite
            }
            guard voters.count >= trackFaces else { continue }
            let median = Self.median(voters.map { distances[t][$0][k] })
            if median <= within && median < (best?.median ?? .infinity) { best = (t, median, trackLimit(k, voters: voters.count)) }
        }
        return best
    }

    /// The threshold of identity `k`.
    public func limit(_ k: Int) -> Double { thresholds.indices.contains(k) ? thresholds[k] : threshold }

    /// The threshold of identity `k` for a track's median over `voters` faces: `limit(k)`, plus `k`'s track
    /// bonus for a track of at least `trackFaces` voters, never beyond `trackCap` (nor below `limit(k)`).
    public func trackLimit(_ k: Int, voters: Int) -> Double {
        let bonus = voters >= trackFaces && trackBonuses.indices.contains(k) ? trackBonuses[k] : 0
        return max(limit(k), min(trackCap, limit(k) + bonus))
    }

    /// Whether identity `k` wins with these distances (one per identity): within its threshold and `margin`
    /// nearer than every other.
    func accepts(_ k: Int, _ distances: [Double], limit: Double? = nil) -> Bool {
        guard distances[k] <= (limit ?? self.limit(k)) else { return false }
        guard margin > 0 else { return true }
        return distances.indices.allSatisfy { $0 == k || distances[$0] - distances[k] >= margin }
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
