import FacetCore
import Foundation

/// `score`'s errors; each names the file it is about.
public enum ScoringError: FacetError, Equatable {
    /// A video or image a swap manifest names is not there.
    case inputMissing(manifest: String, path: String, role: String)
    /// An input could not be decoded, or output and source disagree in size.
    case badMedia(path: String, reason: String)
    /// A `--fail-if` expression or other option is malformed.
    case badOption(String)
    /// A run given to `compare` is neither a score.json, a folder holding one, nor a swap manifest.
    case notARun(path: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .inputMissing: return .noInput
        case .badMedia: return .dataError
        case .badOption: return .usage
        case .notARun: return .dataError
        }
    }

    public var description: String {
        switch self {
        case .inputMissing(let m, let p, let role): return "\(m): the \(role) \(p) is missing"
        case .badMedia(let p, let r): return "\(p): \(r)"
        case .badOption(let m): return m
        case .notARun(let p): return "\(p): not a score.json, a folder holding one, or a facet.swap manifest"
        }
    }
}
