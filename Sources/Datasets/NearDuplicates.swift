import Foundation

/// When two faces count as near-duplicates. All four conditions must hold, either for the two faces as they
/// are or for one of them mirrored (then its yaw and roll change sign and its eyes swap).
public struct DuplicateSettings: Sendable, Equatable, Codable {
    /// Largest Hamming distance between the crops' 63-bit perceptual hashes (0...15).
    public var maxHashDistance: Int
    /// Largest Euclidean distance between the crops' unit DCT descriptors (0...2).
    public var maxDescriptorDistance: Double
    /// Largest yaw and pitch difference in degrees (roll may differ twice as much: alignment removes it).
    public var maxPoseGap: Double
    /// Largest expression difference, in units of `expressionScales` (the largest over the measures).
    public var maxExpressionGap: Double
    /// Keep the faces at both ends of the yaw and pitch ranges whatever their quality: they go first, so no
    /// better-scored neighbour can absorb them, and the dataset keeps the whole range of poses it was given.
    public var keepPoseExtremes: Bool

    public init(maxHashDistance: Int = 10, maxDescriptorDistance: Double = 0.25, maxPoseGap: Double = 4, maxExpressionGap: Double = 1,
                keepPoseExtremes: Bool = true) {
        self.maxHashDistance = maxHashDistance; self.maxDescriptorDistance = maxDescriptorDistance; self.maxPoseGap = maxPoseGap
        self.maxExpressionGap = maxExpressionGap; self.keepPoseExtremes = keepPoseExtremes
    }

    /// Expression differences that count as one unit: mouth openness 0.06, each eye's openness 0.05, smile
    /// width 0.06, brow raise 0.03 (about the 90th percentile of frame-to-frame changes in talking-head video).
    public static let expressionScales = (mouth: 0.06, eye: 0.05, smile: 0.06, brow: 0.03)

    /// The expression gap between two faces in units of `expressionScales`.
    public static func expressionGap(_ a: FaceTraits, _ b: FaceTraits) -> Double {
        let s = expressionScales
        return max(abs(a.mouthOpenness - b.mouthOpenness) / s.mouth, abs(a.leftEyeOpenness - b.leftEyeOpenness) / s.eye,
                   abs(a.rightEyeOpenness - b.rightEyeOpenness) / s.eye, abs(a.smileWidth - b.smileWidth) / s.smile,
                   abs(a.browRaise - b.browRaise) / s.brow)
    }

    /// Whether pose and expression of `a` and `b` are close enough.
    @inline(__always)
    func traitsClose(_ a: FaceTraits, _ b: FaceTraits) -> Bool {
        abs(a.yaw - b.yaw) <= maxPoseGap && abs(a.pitch - b.pitch) <= maxPoseGap && abs(a.roll - b.roll) <= 2 * maxPoseGap
            && Self.expressionGap(a, b) <= maxExpressionGap
    }
}

/// Why a face was grouped with a kept one.
public struct DuplicateMatch: Sendable, Equatable, Codable {
    /// Index (among the faces given to `NearDuplicateGrouper.group`) of the kept face.
    public var keeper: Int
    public var hashDistance: Int
    public var descriptorDistance: Double
    /// The face matched the kept one's mirror image.
    public var mirrored: Bool
}

/// Greedy leader grouping: faces are visited best first (by `keepScore`, ties by a seeded hash; the faces at
/// the ends of the yaw and pitch ranges are kept unconditionally first when asked); a face that is a near-duplicate of an already kept face joins the
/// closest such face's group, otherwise it is kept. Groups therefore never chain: every member is within the
/// thresholds of its group's kept face, so a slow head turn keeps one face every few degrees instead of
/// collapsing into one group.
///
/// Kept faces are indexed by multi-index hashing: the 64-bit hash is cut into four 16-bit bands with a bucket
/// table each; if two hashes differ in at most H bits, one band differs in at most ⌊H/4⌋, so probing every
/// bucket within ⌊H/4⌋ bits of each band finds every kept face within H exactly (137 probes a band for
/// H = 10). A query touches only kept faces whose hash is close, so the work grows with the number of faces
/// times the number of similar kept faces, not with the square of the number of faces.
public enum NearDuplicateGrouper {
    /// Groups `traits.count` faces. `signatures` hold each face's hash, mirror hash and descriptor;
    /// `tieBreaks` order faces of equal score. Returns, per face, nil when kept, else its match.
    public static func group(traits: [FaceTraits], signatures: SignatureTable, tieBreaks: [UInt64],
                             settings: DuplicateSettings) -> [DuplicateMatch?] {
        let n = traits.count
        precondition(signatures.count == n && tieBreaks.count == n, "NearDuplicateGrouper: inputs differ in length")
        var result = [DuplicateMatch?](repeating: nil, count: n)
        guard n > 0 else { return result }
        let (order, protected) = visitOrder(traits: traits, tieBreaks: tieBreaks, keepExtremes: settings.keepPoseExtremes)
        let radius = min(3, max(0, settings.maxHashDistance) / 4)
        var index = BandIndex(capacity: n, radius: radius)
        var seenStamp = [Int32](repeating: -1, count: n)
        let maxHash = settings.maxHashDistance
        let maxDescriptor = Float(settings.maxDescriptorDistance)
        signatures.descriptors.withUnsafeBufferPointer { descriptors in
            guard let base = descriptors.baseAddress else { return }
            let length = FaceSignature.descriptorLength
            for (step, face) in order.enumerated() {
                if step < protected {
                    index.insert(face, hash: signatures.hashes[face])
                    continue
                }
                var best: DuplicateMatch?
                let mine = base + face * length
                let mirroredTraits = traits[face].mirrored
                for mirrored in [false, true] {
                    let query = mirrored ? signatures.mirrorHashes[face] : signatures.hashes[face]
                    let stamp = Int32(truncatingIfNeeded: 2 * step + (mirrored ? 1 : 0))
                    index.forEachCandidate(of: query) { kept in
                        // A kept face can share several bands with the query: look at it once per pass.
                        if seenStamp[kept] == stamp { return }
                        seenStamp[kept] = stamp
                        let distance = FaceSignature.hammingDistance(query, signatures.hashes[kept])
                        guard distance <= maxHash else { return }
                        let theirs = base + kept * length
                        let descriptorDistance = mirrored ? FaceSignature.mirroredDistance(theirs, mine) : FaceSignature.distance(mine, theirs)
                        guard descriptorDistance <= maxDescriptor,
                              settings.traitsClose(mirrored ? mirroredTraits : traits[face], traits[kept]) else { return }
                        let candidate = DuplicateMatch(keeper: kept, hashDistance: distance, descriptorDistance: Double(descriptorDistance),
                                                       mirrored: mirrored)
                        if let current = best {
                            if (candidate.descriptorDistance, candidate.keeper) < (current.descriptorDistance, current.keeper) { best = candidate }
                        } else {
                            best = candidate
                        }
                    }
                }
                if let best {
                    result[face] = best
                } else {
                    index.insert(face, hash: signatures.hashes[face])
                }
            }
        }
        return result
    }

    /// Visit order: the faces with the smallest and largest yaw and pitch first (when `keepExtremes`; they are
    /// kept without a query, `protected` of them), then by `keepScore` (highest first), ties by `tieBreaks`
    /// then index.
    static func visitOrder(traits: [FaceTraits], tieBreaks: [UInt64], keepExtremes: Bool) -> (order: [Int], protected: Int) {
        let n = traits.count
        let scores = traits.map(\.keepScore)
        var order = Array(0..<n).sorted { a, b in
            if scores[a] != scores[b] { return scores[a] > scores[b] }
            if tieBreaks[a] != tieBreaks[b] { return tieBreaks[a] < tieBreaks[b] }
            return a < b
        }
        if keepExtremes {
            var first: [Int] = []
            for key in [\FaceTraits.yaw, \FaceTraits.pitch] {
                // Among equal values the earliest in the quality order wins.
                var low = order[0], high = order[0]
                for i in order {
                    if traits[i][keyPath: key] < traits[low][keyPath: key] { low = i }
                    if traits[i][keyPath: key] > traits[high][keyPath: key] { high = i }
                }
                for i in [low, high] where !first.contains(i) { first.append(i) }
            }
            let set = Set(first)
            return (first + order.filter { !set.contains($0) }, first.count)
        }
        return (order, 0)
    }
}

/// Hashes and descriptors of many faces in flat arrays (`descriptors` holds `count × 63` floats).
public struct SignatureTable: Sendable {
    public var hashes: [UInt64] = []
    public var mirrorHashes: [UInt64] = []
    public var descriptors: [Float] = []

    public init() {}

    public init(_ signatures: [FaceSignature]) {
        reserve(signatures.count)
        for s in signatures { append(s) }
    }

    public var count: Int { hashes.count }

    public mutating func reserve(_ n: Int) {
        hashes.reserveCapacity(n)
        mirrorHashes.reserveCapacity(n)
        descriptors.reserveCapacity(n * FaceSignature.descriptorLength)
    }

    public mutating func append(_ s: FaceSignature) {
        precondition(s.descriptor.count == FaceSignature.descriptorLength, "SignatureTable: descriptor of the wrong length")
        hashes.append(s.hash)
        mirrorHashes.append(s.mirrorHash)
        descriptors.append(contentsOf: s.descriptor)
    }
}

/// Multi-index hash table over four 16-bit bands: `heads[band][bucket]` starts a linked list through `next`.
struct BandIndex {
    private var heads: [Int32]
    private var next: [Int32]
    /// Every 16-bit mask with at most `radius` bits set, smallest popcount first.
    private let probes: [UInt16]

    init(capacity: Int, radius: Int) {
        heads = [Int32](repeating: -1, count: 4 << 16)
        next = [Int32](repeating: -1, count: 4 * max(1, capacity))
        var masks: [UInt16] = []
        for value in 0...Int(UInt16.max) where value.nonzeroBitCount <= radius { masks.append(UInt16(value)) }
        probes = masks.sorted { ($0.nonzeroBitCount, $0) < ($1.nonzeroBitCount, $1) }
    }

    @inline(__always) private static func band(_ hash: UInt64, _ b: Int) -> Int { Int((hash >> UInt64(16 * b)) & 0xFFFF) }

    mutating func insert(_ face: Int, hash: UInt64) {
        for b in 0..<4 {
            let slot = b << 16 | Self.band(hash, b)
            next[4 * face + b] = heads[slot]
            heads[slot] = Int32(face)
        }
    }

    /// Calls `body` with every kept face sharing a band within the probe radius of `hash` (a face can come
    /// more than once, once per matching band).
    func forEachCandidate(of hash: UInt64, _ body: (Int) -> Void) {
        heads.withUnsafeBufferPointer { heads in
            next.withUnsafeBufferPointer { next in
                for b in 0..<4 {
                    let value = Self.band(hash, b)
                    for mask in probes {
                        var face = heads[b << 16 | (value ^ Int(mask))]
                        while face >= 0 {
                            body(Int(face))
                            face = next[4 * Int(face) + b]
                        }
                    }
                }
            }
        }
    }
}
