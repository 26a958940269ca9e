#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes files so that a reader sees either the old content or the complete new content, never a part.
///
/// The bytes go to a temporary file in the destination's folder, are flushed with `fsync`, and are then
/// renamed over the destination. On any failure (a full disk included) the temporary file is removed and
/// the destination is left as it was. A write killed midway leaves its temporary file, which the next
/// process writing into that folder removes (`TemporaryFile`).
public enum AtomicFile {
    /// Writes `data` to `url` atomically, creating parent folders as needed. `durable` also flushes the
    /// bytes to disk before the rename (manifests); bulk outputs whose hash and size the catalog records
    /// (frames, crops) skip it, since a damaged file is detected and redone on the next run.
    public static func write(_ data: Data, to url: URL, durable: Bool = true) throws {
        try write(to: url, durable: durable) { sink in try sink.append(data) }
    }

    /// Where a streamed atomic write puts its bytes.
    public struct Sink {
        let fd: Int32
        let path: String

        /// Appends `data` to the temporary file.
        public func append(_ data: Data) throws {
            var failure: FileError?
            data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < buffer.count, let base = buffer.baseAddress {
                    let n = Glibc.write(fd, base + offset, buffer.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = AtomicFile.errnoError(path: path, code: errno)
                        return
                    }
                    offset += n
                }
            }
            if let failure { throw failure }
        }
    }

    /// Writes what `produce` appends to `url` atomically (the same guarantees as `write(_:to:durable:)`),
    /// without holding the whole content in memory. If `produce` throws, nothing is left behind.
    public static func write(to url: URL, durable: Bool = true, _ produce: (Sink) throws -> Void) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: directory.path) {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw FileError.writeFailed(path: directory.path, reason: "cannot create folder: \(error.localizedDescription)")
            }
        }
        let temporary: TemporaryFile.Handle
        do { temporary = try TemporaryFile.create(for: url) } catch let error as TemporaryFile.OpenError {
            throw errnoError(path: path, code: error.code)
        }
        let fd = temporary.fd
        var failure: Error?
        do { try produce(Sink(fd: fd, path: path)) } catch { failure = error }
        if failure == nil, durable, fsync(fd) != 0 { failure = errnoError(path: path, code: errno) }
        // Renamed while still open and locked, so no sweep takes it for a dead writer's leftover.
        if failure == nil, rename(temporary.path, path) != 0 { failure = errnoError(path: path, code: errno) }
        if let failure {
            TemporaryFile.discard(temporary)
            throw failure
        }
        if TemporaryFile.finish(temporary) != 0 { throw errnoError(path: path, code: errno) }
    }

    /// Maps an errno from a write to the matching typed error.
    static func errnoError(path: String, code: Int32) -> FileError {
        if code == ENOSPC || code == EDQUOT { return .diskFull(path: path) }
        return .writeFailed(path: path, reason: String(cString: strerror(code)))
    }
}
