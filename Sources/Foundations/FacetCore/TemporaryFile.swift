#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The temporary files of atomic writes (`.<name>.<pid>[.<n>][.join].tmp` beside the destination), and the
/// removal of those a killed process left behind.
///
/// Every temporary file is created with an exclusive `flock` held by its writer until it is renamed into place
/// (rename before close) or removed. A process killed with SIGKILL leaves the file but the kernel drops its
/// lock, so the first write of a later process into the same folder removes every temporary file whose lock it
/// can take (`sweep`): leftovers of killed runs disappear on the rerun, while the files of live writers (shards
/// of the same run, on this machine or another sharing the folder) stay. A writer checks after taking its lock
/// that its name still names its file, and starts again under a new name if a sweep removed it in between.
public enum TemporaryFile {
    /// An open, locked temporary file for `destination`. Close it with `finish` (after renaming) or `discard`.
    public struct Handle {
        public let fd: Int32
        public let path: String
    }

    /// Creates and locks a temporary file beside `destination` (whose folder must exist), sweeping the folder
    /// of dead writers' leftovers first if this process has not written there yet.
    /// - Parameter suffix: inserted before `.tmp` (e.g. `join`).
    /// - Throws: the `errno` of `open` (the caller maps it to its own error).
    public static func create(for destination: URL, suffix: String? = nil) throws -> Handle {
        let directory = destination.deletingLastPathComponent()
        sweepOnce(directory)
        for _ in 0..<8 {
            let name = ".\(destination.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max))" + (suffix.map { ".\($0)" } ?? "") + ".tmp"
            let path = directory.appendingPathComponent(name).path
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                if errno == EEXIST { continue }
                throw OpenError(code: errno)
            }
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
            // A sweep may have removed the name between open and flock: then start again.
            var mine = stat(), named = stat()
            if fstat(fd, &mine) == 0, stat(path, &named) == 0, mine.st_ino == named.st_ino, mine.st_dev == named.st_dev {
                return Handle(fd: fd, path: path)
            }
            close(fd)
        }
        throw OpenError(code: EEXIST)
    }

    /// The `errno` of a failed `open`.
    public struct OpenError: Error {
        public let code: Int32
    }

    /// Closes a temporary file that was renamed into place (or removed). Returns `close`'s result.
    @discardableResult
    public static func finish(_ handle: Handle) -> Int32 { close(handle.fd) }

    /// Removes a temporary file that will not be renamed, and closes it.
    public static func discard(_ handle: Handle) {
        unlink(handle.path)
        close(handle.fd)
    }

    /// Removes the temporary files in `folder` that no live process holds (leftovers of killed writers).
    /// Returns their names.
    @discardableResult
    public static func sweep(_ folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var removed: [String] = []
        for name in names where isTemporaryName(name) {
            let path = folder.appendingPathComponent(name).path
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0, unlink(path) == 0 { removed.append(name) }
            close(fd)
        }
        return removed
    }

    /// `.<name>.<pid>[.<n>][.join].tmp`: the names `create` (and the older writers before it) give.
    static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return false }
        var parts = name.dropFirst().dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
        if parts.last == "join" { parts.removeLast() }
        let numeric = parts.reversed().prefix { !$0.isEmpty && $0.allSatisfy(\.isNumber) }.count
        return numeric >= 1 && numeric <= 2 && parts.count > numeric
    }

    private static let swept = SweptFolders()

    private static func sweepOnce(_ folder: URL) {
        if swept.insert(folder.standardizedFileURL.path) { sweep(folder) }
    }
}

/// A temporary file owned by one object (a writer whose initialiser may still throw): removed when released
/// unless `commit` renamed it into place, so every path out of the owner, a failed initialiser included, cleans up
/// exactly once.
public final class OwnedTemporaryFile {
    public let handle: TemporaryFile.Handle
    private var committed = false

    public init(for destination: URL, suffix: String? = nil) throws {
        handle = try TemporaryFile.create(for: destination, suffix: suffix)
    }

    public var path: String { handle.path }

    /// Renames the file to `destination` (still locked, see `TemporaryFile`); returns 0 or the `errno`.
    public func commit(to destination: String) -> Int32 {
        guard rename(handle.path, destination) == 0 else { return errno }
        committed = true
        return 0
    }

    deinit {
        if committed { TemporaryFile.finish(handle) } else { TemporaryFile.discard(handle) }
    }
}

/// The folders this process has swept (writes come from several threads).
private final class SweptFolders: @unchecked Sendable {
    private let lock = NSLock()
    private var paths: Set<String> = []

    /// True when `path` was not in the set.
    func insert(_ path: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return paths.insert(path).inserted
    }
}
