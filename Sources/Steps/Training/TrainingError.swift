import FacetCore
import Foundation

/// Errors from pairing training data, resuming, initialising and exporting; each names the file and the
/// problem, and maps to the documented exit code. (Loading a side's faces throws `AugmentError`.)
public enum TrainingError: FacetError, Equatable {
    /// The two datasets' crops are framed differently (size or centering).
    case framingMismatch(pathA: String, framingA: String, pathB: String, framingB: String)
    /// The output folder already holds a checkpoint and neither --resume nor --force was given.
    case checkpointExists(path: String)
    /// A checkpoint that is not a `train` checkpoint, or whose run does not fit what was asked.
    case resumeMismatch(path: String, problems: [String])
    /// An `--init-from` model that does not fit the model being trained.
    case initMismatch(path: String, reason: String)
    /// A command-line value out of range.
    case invalidOption(String)
    /// The loss became infinite or NaN.
    case diverged(iteration: Int, lossA: Float, lossB: Float)

    public var exitStatus: ExitStatus {
        switch self {
        case .checkpointExists, .invalidOption: return .usage
        case .diverged: return .failure
        case .framingMismatch, .resumeMismatch, .initMismatch: return .dataError
        }
    }

    public var description: String {
        switch self {
        case .framingMismatch(let a, let fa, let b, let fb):
            return "\(a) has \(fa) crops but \(b) has \(fb): both datasets must be cut the same way (detect --size and --centering)"
        case .checkpointExists(let path):
            return "\(path) exists: pass --resume to continue that run, or --force to start a new one over it"
        case .resumeMismatch(let path, let problems):
            return "\(path): cannot resume: " + problems.joined(separator: "; ")
        case .initMismatch(let path, let reason): return "\(path): cannot initialise from this model: \(reason)"
        case .invalidOption(let reason): return reason
        case .diverged(let iteration, let a, let b):
            return "training diverged at iteration \(iteration) (loss A \(a), B \(b)); the last checkpoint is kept: start again with a lower --learning-rate"
        }
    }
}
