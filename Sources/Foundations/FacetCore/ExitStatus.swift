/// The documented process exit codes shared by every Facet tool (sysexits.h values).
public enum ExitStatus: Int32, Sendable, Codable {
    /// Everything asked for was done.
    case ok = 0
    /// Work failed for a reason that is not the input's fault (I/O error, locked catalog, full disk).
    case failure = 1
    /// A check ran to completion and did not find what it looks for (`score provenance`: no Facet watermark
    /// in the file). Not an error: the answer is "no". (2 is left alone: shells use it for misuse.)
    case notFound = 3
    /// A quality gate the caller set failed (`score --fail-if`): the work was done, the result is not good enough.
    case gateFailed = 4
    /// The command line is wrong.
    case usage = 64
    /// An input exists but its data is bad: a damaged video, an image with no face, an unknown manifest version.
    case dataError = 65
    /// An input file, folder or model is missing.
    case noInput = 66
}

extension ExitStatus {
    /// How bad a status is, for a run over several inputs: 0 < 3 (checked, not found) < 4 (a quality gate failed) < 64 (usage) < 65 (bad
    /// data) < 66 (missing input) < 1 (failure: the work itself broke, whatever the input). README "Exit codes".
    public var severity: Int {
        switch self {
        case .ok: return 0
        case .notFound: return 1
        case .gateFailed: return 2
        case .usage: return 3
        case .dataError: return 4
        case .noInput: return 5
        case .failure: return 6
        }
    }

    /// The most severe of `statuses` (`.ok` when there are none): what a run over several inputs exits with.
    public static func mostSevere<S: Sequence>(_ statuses: S) -> ExitStatus where S.Element == ExitStatus {
        statuses.reduce(ExitStatus.ok) { $1.severity > $0.severity ? $1 : $0 }
    }
}

/// An error that knows which exit code it maps to and how to say itself to a person.
///
/// Every error a Facet library throws on bad input conforms, so an executable's `main` can turn any of
/// them into a one-line message on stderr and the documented exit code.
public protocol FacetError: Error, CustomStringConvertible {
    var exitStatus: ExitStatus { get }
}

/// Generic file-system errors raised by Facet's own I/O helpers.
public enum FileError: FacetError, Equatable {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case diskFull(path: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .missing: return .noInput
        case .unreadable: return .noInput
        case .writeFailed, .diskFull: return .failure
        }
    }

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such file or folder"
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .writeFailed(let p, let r): return "\(p): cannot write: \(r)"
        case .diskFull(let p): return "\(p): disk full (no space left on device); nothing already written was lost"
        }
    }
}
