#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An exclusive advisory lock (`flock`) on a small sidecar file, held across processes until `release()`
/// or deinit. The lock file is created if needed and never deleted (deleting a lock file races with the
/// next process opening it).
///
/// Never lock a SQLite database file itself with this: closing any descriptor of a database file drops the
/// process's POSIX locks on it. Use a separate path such as `catalog.sqlite.lock`.
public final class FileLock {
    public let path: String
    private var fd: Int32

    /// Waits up to `timeout` seconds (polling every 5 ms) for the lock at `path`.
    /// Throws `FileLockError.timedOut` when another process still holds it, `FileError.writeFailed`
    /// when the lock file cannot be created.
    public init(path: String, timeout: Double) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                close(fd)
                throw FileError.writeFailed(path: path, reason: "cannot lock: \(String(cString: strerror(code)))")
            }
            if Date() >= deadline {
                close(fd)
                throw FileLockError.timedOut(path: path, waitedSeconds: timeout)
            }
            usleep(5_000)
        }
    }

    /// Releases the lock (idempotent).
    public func release() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}

/// Another process held a `FileLock` for longer than the caller was willing to wait.
public enum FileLockError: FacetError, Equatable {
    case timedOut(path: String, waitedSeconds: Double)

    public var exitStatus: ExitStatus { .failure }

    public var description: String {
        switch self {
        case .timedOut(let p, let s): return "\(p): locked by another process (waited \(s) s)"
        }
    }
}
