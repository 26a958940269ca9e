import Catalog
import Foundation
import Recognition

/// One enrolled identity as `identify list` shows it.
public struct IdentitySummary: Codable, Sendable {
    public var name: String
    public var consent: String
    public var references: Int
    /// Where the references came from: `image`, `faces`, `cluster` → count.
    public var origins: [String: Int]
    public var createdAt: String
    public var updatedAt: String
    /// Median pairwise distance of the references (nil with fewer than two).
    public var spread: Double?
    /// The reference least like the others, and its median distance to them.
    public var worstReference: String?
    public var worstDistance: Double?
    /// The references disagree: spread above 0.5, or one of three or more is an outlier (above 0.6); see
    /// `ReferenceChecks`. Re-enrol the identity from photos of the person alone.
    public var loose: Bool
    /// The centroid distance within which `identify label`'s default rule (`calibrated`, see `LabelDecider`)
    /// names a face as this identity: its references' spread × ratio within floor and cap, or the one-reference
    /// threshold (`OpenSetCalibration`). The same number `label`, the track vote and `swap`'s filter use.
    public var threshold: Double
    /// The same for the median of a video track of at least 5 recognisable faces (`LabelDecider.trackLimit`).
    public var trackThreshold: Double
}

/// `identify list` and `identify remove`.
public enum IdentityListing {
    public static func list(catalog: Catalog) throws -> [IdentitySummary] {
        // The thresholds come from the decider `identify label` builds, so the list shows the rule's own numbers.
        let gallery = try IdentityGallery(catalog: catalog)
        let decider = LabelDecider(gallery: gallery, rule: .calibrated)
        var thresholds: [Int64: (photo: Double, track: Double)] = [:]
        for (k, entry) in gallery.entries.enumerated() {
            thresholds[entry.id] = (decider.limit(k), decider.trackLimit(k, voters: decider.trackFaces))
        }
        return try catalog.identities().map { identity in
            var origins: [String: Int] = [:]
            let references = try identity.id.map { try catalog.references(identityId: $0) } ?? []
            for r in references { origins[r.origin, default: 0] += 1 }
            let spread = ReferenceChecks.spread(references.map { IdentityGallery.floats($0.embedding) })
            return IdentitySummary(name: identity.name, consent: identity.consent, references: identity.referenceCount, origins: origins,
                                   createdAt: identity.createdAt, updatedAt: identity.updatedAt, spread: spread.map { round4($0.median) },
                                   worstReference: spread.map { references[$0.worst].path }, worstDistance: spread.map { round4($0.worstDistance) },
                                   loose: spread?.loose ?? false,
                                   threshold: round4(identity.id.flatMap { thresholds[$0]?.photo } ?? OpenSetCalibration.standard.single),
                                   trackThreshold: round4(identity.id.flatMap { thresholds[$0]?.track } ?? OpenSetCalibration.standard.single))
        }
    }

    /// Removes the identity; throws when none has that name.
    public static func remove(name: String, catalog: Catalog) throws {
        guard try catalog.removeIdentity(named: name) else {
            throw IdentifyError.unknownIdentity(name: name, known: try catalog.identities().map(\.name))
        }
    }
}
