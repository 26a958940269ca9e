import Catalog
import Foundation

/// How a face's distance to an identity is measured.
public enum DistanceRule: String, CaseIterable, Sendable {
    /// Distance to the identity's nearest reference descriptor (dlib's own pairwise rule; the default).
    case nearest
    /// Distance to the mean of the identity's reference descriptors.
    case centroid
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
