import Crypto
import Foundation

/// SHA-256 (FIPS 180-4), used for the content hashes that manifests and the catalog record: swift-crypto's
/// implementation (BoringSSL, with the CPU's SHA instructions where present; benchmarks/sha256 measured it
/// 3–4× faster than the hand-written one it replaced), behind the API the rest of Facet already uses.
public struct SHA256: @unchecked Sendable {   // swift-crypto's hasher is a value (copy-on-write) but not marked Sendable
    private var hasher = Crypto.SHA256()

    public init() {}

    /// Feeds more bytes.
    public mutating func update(_ data: Data) {
        hasher.update(data: data)
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    /// Finishes and returns the 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }

    /// Lowercase hex digest of `bytes`.
    static func hex(digest bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex digest of `data`.
    public static func hex(_ data: Data) -> String {
        hex(digest: Array(Crypto.SHA256.hash(data: data)))
    }

    /// Lowercase hex digest of a file's content, read in 1 MiB chunks (memory stays flat).
    public static func hex(fileAt url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            if FileManager.default.fileExists(atPath: url.path) {
                throw FileError.unreadable(path: url.path, reason: "permission denied or not a regular file")
            }
            throw FileError.missing(path: url.path)
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw FileError.unreadable(path: url.path, reason: error.localizedDescription)
            }
            if chunk.isEmpty { break }
            hasher.update(chunk)
        }
        return hex(digest: hasher.finalize())
    }
}
