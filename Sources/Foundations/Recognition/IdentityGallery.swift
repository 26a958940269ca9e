import Catalog
import Foundation

/// How a face's distance to an identity is measured.
public enum DistanceRule: String, CaseIterable, Sendable {
    /// Distance to the identity's nearest reference descriptor (dlib's own pairwise rule; the default).
    case nearest
    /// Distance to the mean of the identity's reference descriptors.
    case centroid
}

/// How faces are decided: the open-set default (`calibrated`) or one fixed threshold on a distance rule.
public enum DecisionRule: String, CaseIterable, Sendable {
    /// Centroid distance against a threshold per identity calibrated on its own references, with a margin to
    /// the runner-up (see `OpenSetCalibration`). Never names a stranger on lfw-open's development part.
    case calibrated
    /// Nearest reference within one threshold (dlib's rule; 0.6 by default).
    case nearest
    /// Centroid within one threshold.
    case centroid

    /// The distance the rule measures.
    public var distance: DistanceRule { self == .nearest ? .nearest : .centroid }
}

/// The calibrated open-set rule's constants, chosen on lfw-open's development part only
/// (`benchmarks/identify/open_set.py`, `OPEN_SET.md`).
///
/// An identity's *leave-one-out spread* is the median, over its references, of each reference's distance to
/// the centroid of the others: a sample of how far its genuine faces fall from its centroid. Its threshold is
/// `ratio × spread`, clamped to `floor...cap`: a tight identity (all references alike) gets a tight threshold,
/// so faces merely resembling it (dlib packs some populations closely) are not taken for it; a loose one gets
/// more room, never beyond `cap`. One reference has no spread, and its genuine faces fall farther from one photo
/// than from a mean of several: it gets `single` (chosen on the development part enrolled from one photo).
/// A video track whose median is taken over at least `trackFaces` faces gets a little more room than one photo:
/// frames of a video lie farther from photo references than photos do (Lin-Manuel Miranda's two tracks on the
/// stage clip lie 0.48 and 0.57 from his one photo). The room is `singleTrackBonus` for an identity with one
/// reference, whose threshold is itself a guess, and `trackBonus` for one with several; never beyond `trackCap`
/// (dlib's verification threshold), and the track's medians must still clear the margin. A track's median does
/// not average a stranger away: on lfw-open's test part, tracks of 5 photos of people never enrolled were named
/// as someone 17 times in 111 with 0.1 for every identity, 3 times with 0.05 (`benchmarks/identify/tracks.py`).
///
/// References that are all copies of one photo (the same image at another size or compression: 0.017-0.079 apart
/// for the test images, while two different photos of one person were never under 0.20 apart among lfw-open's
/// first five of each of 96 people) count as one reference: all within `duplicate` of their centroid. Otherwise
/// a photo enrolled twice would look like a perfectly consistent person and get the tightest threshold.
public struct OpenSetCalibration: Equatable, Sendable {
    public var ratio: Double
    public var floor: Double
    public var cap: Double
    /// The threshold of an identity with one reference.
    public var single: Double
    /// The best identity must be at least this much nearer than the second best.
    public var margin: Double

    /// Extra room for a track of an identity with several references, and with one (see above).
    public var trackBonus: Double
    public var singleTrackBonus: Double
    public var trackFaces: Int
    public var trackCap: Double
    /// References all within this distance of their centroid are copies of one photo.
    public var duplicate: Double

    public init(ratio: Double = 1.5, floor: Double = 0.40, cap: Double = 0.46, single: Double = 0.48, margin: Double = 0.05,
                trackBonus: Double = 0.05, singleTrackBonus: Double = 0.1, trackFaces: Int = 5, trackCap: Double = 0.6,
                duplicate: Double = 0.06) {
        self.ratio = ratio; self.floor = floor; self.cap = cap; self.single = single; self.margin = margin
        self.trackBonus = trackBonus; self.singleTrackBonus = singleTrackBonus; self.trackFaces = trackFaces; self.trackCap = trackCap
        self.duplicate = duplicate
    }

    public static let standard = OpenSetCalibration()

    /// The threshold of an identity with these references (centroid distance).
    public func threshold(references: [[Float]]) -> Double {
        guard !isOnePhoto(references), let spread = IdentityGallery.leaveOneOutSpread(references) else { return single }
        return min(cap, max(floor, ratio * spread))
    }

    /// The extra room a long track of an identity with these references gets (distance units).
    public func trackBonus(references: [[Float]]) -> Double {
        isOnePhoto(references) ? singleTrackBonus : trackBonus
    }

    /// Whether the references are one photo: fewer than two, or all copies of one image (within `duplicate` of
    /// their centroid).
    public func isOnePhoto(_ references: [[Float]]) -> Bool {
        guard references.count >= 2 else { return true }
        let centroid = IdentityGallery.mean(references)
        return references.allSatisfy { IdentityGallery.distance($0, centroid) <= duplicate }
    }
}

/// The enrolled identities with their reference descriptors, ready to compare faces with.
public struct IdentityGallery: Sendable {
    public struct Entry: Sendable {
        public var id: Int64
        public var name: String
        public var consent: String
        /// 128-d descriptors of the references.
        public var references: [[Float]]
        /// Their mean.
        public var centroid: [Float]
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Loads every identity of the catalog.
    public init(catalog: Catalog) throws {
        var entries: [Entry] = []
        for identity in try catalog.identities() {
            guard let id = identity.id else { continue }
            let refs = try catalog.references(identityId: id).map { Self.floats($0.embedding) }
            entries.append(Entry(id: id, name: identity.name, consent: identity.consent, references: refs, centroid: Self.floats(identity.centroid)))
        }
        self.entries = entries
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Distances from `descriptor` to every identity under `rule`, in `entries` order.
    public func distances(_ descriptor: [Float], rule: DistanceRule) -> [Double] {
        entries.map { entry in
            switch rule {
            case .centroid: return Self.distance(descriptor, entry.centroid)
            case .nearest: return entry.references.map { Self.distance(descriptor, $0) }.min() ?? .infinity
            }
        }
    }

    /// Median over the references of each one's distance to the centroid of the others (nil for fewer than two).
    public static func leaveOneOutSpread(_ references: [[Float]]) -> Double? {
        guard references.count >= 2 else { return nil }
        let n = Double(references.count)
        let total = mean(references).map { Double($0) * n }
        return LabelDecider.median(references.map { r in
            var s = 0.0
            for i in r.indices { let others = (total[i] - Double(r[i])) / (n - 1); let d = Double(r[i]) - others; s += d * d }
            return s.squareRoot()
        })
    }

    /// Per identity (in `entries` order), its open-set threshold under `calibration`.
    public func thresholds(_ calibration: OpenSetCalibration = .standard) -> [Double] {
        entries.map { calibration.threshold(references: $0.references) }
    }

    /// Per identity (in `entries` order), the extra room a long track gets under `calibration`.
    public func trackBonuses(_ calibration: OpenSetCalibration = .standard) -> [Double] {
        entries.map { calibration.trackBonus(references: $0.references) }
    }

    /// Euclidean distance between two descriptors (in Double).
    public static func distance(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var s = 0.0
        for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); s += d * d }
        return s.squareRoot()
    }

    /// The element-wise mean of descriptors (empty for none).
    public static func mean(_ vectors: [[Float]]) -> [Float] {
        guard let n = vectors.first?.count else { return [] }
        var sum = [Double](repeating: 0, count: n)
        for v in vectors where v.count == n { for i in 0..<n { sum[i] += Double(v[i]) } }
        return sum.map { Float($0 / Double(vectors.count)) }
    }

    public static func floats(_ blob: Data) -> [Float] { Float32Blob.unpack(blob).map { Float($0) } }
    public static func blob(_ vector: [Float]) -> Data { Float32Blob.pack(vector.map { Double($0) }) }
}
