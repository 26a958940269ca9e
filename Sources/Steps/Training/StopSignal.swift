#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// SIGINT and SIGTERM for a training run: the first one is recorded (training stops after the current
/// iteration and writes its checkpoint and model); the handler then restores the default action, so a
/// second signal ends the process at once (checkpoints are written atomically, so the previous one survives).
public enum StopSignal {
    static let received = Atomic<Int32>(0)

    /// Installs the handlers (once, before training).
    public static func install() {
        _ = received.load(ordering: .relaxed)   // initialise the global before any handler can run
        for number in [SIGINT, SIGTERM] {
            signal(number) { caught in
                StopSignal.received.store(caught, ordering: .relaxed)
                signal(caught, SIG_DFL)
            }
        }
    }

    /// The signal received, if any.
    public static var pending: Int32? {
        let value = received.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }
}
