import FacetCore
import GRDB

/// Errors from the catalog; each names the catalog file.
public enum CatalogError: FacetError, Equatable {
    /// Another process holds the write lock longer than the busy timeout.
    case locked(path: String, waitedSeconds: Double)
    /// The file is not a SQLite database, or is damaged.
    case notACatalog(path: String, reason: String)
    /// The catalog was made by a newer Facet (it has migrations this build does not know).
    case newerSchema(path: String, unknown: [String])
    /// The disk is full.
    case diskFull(path: String)
    /// Any other database failure.
    case failed(path: String, reason: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .notACatalog, .newerSchema: return .dataError
        case .locked, .diskFull, .failed: return .failure
        }
    }

    public var description: String {
        switch self {
        case .locked(let p, let s):
            return "\(p): catalog is locked by another process (waited \(String(format: "%.0f", s)) s); nothing was lost, run again when it is free or raise --busy-timeout"
        case .notACatalog(let p, let r): return "\(p): not a Facet catalog: \(r)"
        case .newerSchema(let p, let u): return "\(p): catalog was written by a newer Facet (unknown migrations: \(u.joined(separator: ", ")))"
        case .diskFull(let p): return "\(p): disk full while writing the catalog; the last complete transaction is kept"
        case .failed(let p, let r): return "\(p): catalog error: \(r)"
        }
    }

    /// Maps a GRDB/SQLite error to a catalog error.
    static func from(_ error: Error, path: String, busyTimeout: Double) -> Error {
        if error is CatalogError { return error }
        guard let db = error as? DatabaseError else { return CatalogError.failed(path: path, reason: "\(error)") }
        switch db.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED: return CatalogError.locked(path: path, waitedSeconds: busyTimeout)
        case .SQLITE_NOTADB, .SQLITE_CORRUPT: return CatalogError.notACatalog(path: path, reason: db.message ?? "damaged database")
        case .SQLITE_FULL: return CatalogError.diskFull(path: path)
        default: return CatalogError.failed(path: path, reason: db.message ?? "\(db)")
        }
    }
}
