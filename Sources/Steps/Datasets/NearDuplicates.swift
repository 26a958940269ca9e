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
/// the ends of the yaw and pitch ranges are kept unconditionally first when asked); a face that is a
/// near-duplicate of an already kept face joins the closest such face's group, otherwise it is kept. Groups
/// therefore never chain: every member is within the thresholds of its group's kept face, so a slow head turn
/// keeps one face every few degrees instead of collapsing into one group.
///
/// Kept faces are indexed by a pose grid whose cells are `maxPoseGap` degrees of yaw by `maxPoseGap` of pitch:
/// a near-duplicate is within the gap in both, so it lies in the face's cell or one of the eight around it
/// (around the mirrored yaw for mirrored matches). Each cell keeps its faces' hashes in one contiguous array,
/// scanned with XOR and popcount (8 bytes a face); only faces within the Hamming distance get the descriptor,
/// pose and expression checks. The work is the number of faces times the number of kept faces of similar
/// pose, which stays bounded as a video gets longer (a pose only has so many distinct looks), instead of the
/// square of the number of faces. (A multi-index table over 16-bit hash bands, tried first, degrades on real
/// faces: aligned crops share most low-frequency structure, so their hashes crowd into a few bands.)
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
        var index = PoseGridIndex(cellDegrees: max(0.5, settings.maxPoseGap))
        let maxHash = settings.maxHashDistance
        let maxDescriptor = Float(settings.maxDescriptorDistance)
        signatures.descriptors.withUnsafeBufferPointer { descriptors in
            guard let base = descriptors.baseAddress else { return }
            let length = FaceSignature.descriptorLength
            for (step, face) in order.enumerated() {
                if step < protected {
                    index.insert(face, yaw: traits[face].yaw, pitch: traits[face].pitch, hash: signatures.hashes[face])
                    continue
                }
                var best: DuplicateMatch?
                let mine = base + face * length
                for mirrored in [false, true] {
                    let query = mirrored ? signatures.mirrorHashes[face] : signatures.hashes[face]
                    let seen = mirrored ? traits[face].mirrored : traits[face]
                    index.forEachCandidate(yaw: seen.yaw, pitch: seen.pitch, hash: query, maxDistance: maxHash) { kept, distance in
                        // Pose and expression first: they reject most candidates for a few comparisons.
                        guard settings.traitsClose(seen, traits[kept]) else { return }
                        let theirs = base + kept * length
                        let descriptorDistance = mirrored ? FaceSignature.mirroredDistance(theirs, mine) : FaceSignature.distance(mine, theirs)
                        guard descriptorDistance <= maxDescriptor else { return }
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
                    index.insert(face, yaw: traits[face].yaw, pitch: traits[face].pitch, hash: signatures.hashes[face])
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
        let order = Array(0..<n).sorted { a, b in
            if scores[a] != scores[b] { return scores[a] > scores[b] }
            if tieBreaks[a] != tieBreaks[b] { return tieBreaks[a] < tieBreaks[b] }
            return a < b
        }
        guard keepExtremes else { return (order, 0) }
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

/// Kept faces by pose cell (`cellDegrees` of yaw × `cellDegrees` of pitch), each cell's hashes contiguous.
struct PoseGridIndex {
    let cellDegrees: Double
    private var slotOfCell: [Int: Int] = [:]
    private var hashes: [[UInt64]] = []
    private var members: [[Int32]] = []

    init(cellDegrees: Double) { self.cellDegrees = cellDegrees }

    @inline(__always) private func cell(_ degrees: Double) -> Int {
        guard degrees.isFinite else { return 0 }
        return Int((degrees / cellDegrees).rounded(.down)).clamped(-100_000, 100_000)
    }

    @inline(__always) private static func key(_ y: Int, _ p: Int) -> Int { (y + 200_000) * 400_001 + (p + 200_000) }

    mutating func insert(_ face: Int, yaw: Double, pitch: Double, hash: UInt64) {
        let k = Self.key(cell(yaw), cell(pitch))
        if let slot = slotOfCell[k] {
            hashes[slot].append(hash)
            members[slot].append(Int32(face))
        } else {
            slotOfCell[k] = hashes.count
            hashes.append([hash])
            members.append([Int32(face)])
        }
    }

    /// Calls `body(face, distance)` for every kept face in the 3×3 cells around (`yaw`, `pitch`) whose hash is
    /// within `maxDistance` bits of `hash`.
    func forEachCandidate(yaw: Double, pitch: Double, hash: UInt64, maxDistance: Int, _ body: (Int, Int) -> Void) {
        let y = cell(yaw), p = cell(pitch)
        for dy in -1...1 {
            for dp in -1...1 {
                guard let slot = slotOfCell[Self.key(y + dy, p + dp)] else { continue }
                hashes[slot].withUnsafeBufferPointer { cellHashes in
                    members[slot].withUnsafeBufferPointer { cellMembers in
                        var i = 0
                        while i < cellHashes.count {
                            let distance = (cellHashes[i] ^ hash).nonzeroBitCount
                            if distance <= maxDistance { body(Int(cellMembers[i]), distance) }
                            i += 1
                        }
                    }
                }
            }
        }
    }
}
