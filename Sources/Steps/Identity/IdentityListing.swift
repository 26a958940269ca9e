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
}

/// `identify list` and `identify remove`.
public enum IdentityListing {
    public static func list(catalog: Catalog) throws -> [IdentitySummary] {
        try catalog.identities().map { identity in
            var origins: [String: Int] = [:]
            if let id = identity.id { for r in try catalog.references(identityId: id) { origins[r.origin, default: 0] += 1 } }
            return IdentitySummary(name: identity.name, consent: identity.consent, references: identity.referenceCount, origins: origins,
                                   createdAt: identity.createdAt, updatedAt: identity.updatedAt)
        }
    }

    /// Removes the identity; throws when none has that name.
    public static func remove(name: String, catalog: Catalog) throws {
        guard try catalog.removeIdentity(named: name) else {
            throw IdentifyError.unknownIdentity(name: name, known: try catalog.identities().map(\.name))
        }
    }
}
