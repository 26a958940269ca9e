import FacetCore

/// Errors from computing face descriptors; each names the file and says what to do.
public enum RecognitionError: FacetError, Equatable {
    /// Crop files named by a faces manifest are gone.
    case cropsMissing(manifest: String, missing: Int, total: Int, first: String)
    /// A crop that exists but cannot be decoded.
    case badCrop(path: String, reason: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .badCrop: return .dataError
        case .cropsMissing: return .noInput
        }
    }

    public var description: String {
        switch self {
        case .cropsMissing(let m, let n, let t, let first):
            return "\(m): \(n) of \(t) face crops are missing (first: \(first)); re-run detect to recreate them"
        case .badCrop(let p, let r): return "\(p): cannot read the face crop: \(r)"
        }
    }
}
