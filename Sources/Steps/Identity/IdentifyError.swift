import FacetCore

/// Errors from `identify`; each names the file or identity and says what to do.
public enum IdentifyError: FacetError, Equatable {
    case badOption(String)
    /// An enrolment image with no face.
    case noFace(path: String)
    /// An enrolment image or manifest with several faces or people, and no `--pick` or `--track`.
    case severalFaces(path: String, count: Int, hint: String)
    /// References that do not look like the identity they are being added to.
    case differentPerson(name: String, path: String, distance: Double, threshold: Double)
    /// New references that agree with each other but, together, not with the identity's stored ones.
    case differentGroup(name: String, count: Int, firstPath: String, distance: Double, threshold: Double)
    /// Labelling or filtering with no identity enrolled.
    case noIdentities(catalog: String)
    case unknownIdentity(name: String, known: [String])
    case unknownCluster(id: Int64)
    case emptyManifest(path: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .badOption: return .usage
        case .noFace, .severalFaces, .differentPerson, .differentGroup, .emptyManifest: return .dataError
        case .noIdentities, .unknownIdentity, .unknownCluster: return .noInput
        }
    }

    public var description: String {
        switch self {
        case .badOption(let m): return m
        case .noFace(let p): return "\(p): no face found; enrol with an image that shows the person's face"
        case .severalFaces(let p, let n, let hint): return "\(p): \(n) faces found, expected one; \(hint)"
        case .differentPerson(let name, let p, let d, let t):
            return "\(p): this face is \(String(format: "%.3f", d)) (median) from the other references of '\(name)' (threshold \(t)): " +
                "it looks like a different person. Leave the file out, use another --name, or --force if it really is the same person"
        case .differentGroup(let name, let n, let p, let d, let t):
            return "\(p) and \(n - 1) more: these \(n) new faces lie \(String(format: "%.3f", d)) (median) from the stored references of " +
                "'\(name)' (threshold \(t)): they look like a different person. Leave them out, use another --name, or --force if it really is the same person"
        case .noIdentities(let c): return "\(c): no identities enrolled; run `identify enroll --name NAME IMAGE...` first"
        case .unknownIdentity(let n, let known):
            return "no identity named '\(n)' (enrolled: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case .unknownCluster(let id): return "no cluster with id \(id); `identify cluster` prints the ids"
        case .emptyManifest(let p): return "\(p): the manifest holds no faces"
        }
    }
}
