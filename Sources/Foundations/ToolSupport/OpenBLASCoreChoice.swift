#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// OpenBLAS chooses its kernels when it loads, from the CPU model, and on some CPUs an older family is
/// faster (on Zen 4 its AVX2 `Haswell` kernels beat the AVX-512 `Cooperlake` ones it picks). `make setup`
/// measures every family the CPU runs and records the fastest (scripts/pick-openblas-core.sh); a tool that
/// uses OpenBLAS calls `applyRecordedChoice()` first thing, which restarts the process once with
/// `OPENBLAS_CORETYPE` set to it. An explicit `OPENBLAS_CORETYPE` in the environment always wins.
public enum OpenBLASCoreChoice {
    /// Where setup records the choice.
    public static var recordURL: URL {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".cache")
        return cache.appendingPathComponent("facet/openblas-coretype")
    }

    /// The recorded kernel family, if setup measured one (a plain name such as `Haswell`).
    public static var recorded: String? {
        guard let text = try? String(contentsOf: recordURL, encoding: .utf8),
              let first = text.split(separator: "\n").first.map(String.init),
              !first.isEmpty, first.allSatisfy({ $0.isLetter || $0.isNumber }) else { return nil }
        return first
    }

    /// Re-executes this process with `OPENBLAS_CORETYPE` set to the recorded family, when it is not set
    /// already. Returns normally when there is nothing to do or the restart is impossible.
    public static func applyRecordedChoice() {
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv("FACET_OPENBLAS_RESTARTED") == nil, let core = recorded else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("FACET_OPENBLAS_RESTARTED", "1", 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // execv only returns on failure: carry on with OpenBLAS's own choice.
        for pointer in argv { free(pointer) }
    }
}
