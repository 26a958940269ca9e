import FacetCore
import Foundation
import Media

/// Content hashing with the catalog as a cache: a video whose path, size and modification time match
/// the catalog's record is not read again.
public enum ContentHasher {
    public static func fileFacts(_ url: URL) throws -> (bytes: Int64, modified: Double) {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            let bytes = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return (bytes, modified)
        } catch {
            throw MediaError.missing(path: url.path)
        }
    }

    public static func videoHash(_ url: URL, catalog: Catalog) throws -> (sha: String, bytes: Int64, modified: Double) {
        let facts = try fileFacts(url)
        if facts.bytes == 0 { throw MediaError.emptyFile(path: url.path) }
        if let cached = try catalog.cachedHash(path: url.path, bytes: facts.bytes, modifiedAt: facts.modified) {
            return (cached, facts.bytes, facts.modified)
        }
        return (try SHA256.hex(fileAt: url), facts.bytes, facts.modified)
    }

    /// Hash of an image set: SHA-256 over "name<TAB>sha256<LF>" lines of its files in order.
    public static func imageSetHash(_ files: [URL]) throws -> (sha: String, bytes: Int64, fileHashes: [String]) {
        var lines = ""
        var total: Int64 = 0
        var hashes: [String] = []
        for file in files {
            let sha = try SHA256.hex(fileAt: file)
            hashes.append(sha)
            total += try fileFacts(file).bytes
            lines += "\(file.lastPathComponent)\t\(sha)\n"
        }
        return (SHA256.hex(Data(lines.utf8)), total, hashes)
    }
}

extension Catalog {
    /// Records (or refreshes) a video source from its content hash and stream facts.
    public func registerVideo(_ url: URL, info: VideoInfo, hash: (sha: String, bytes: Int64, modified: Double)) throws -> SourceRecord {
        try upsertSource(SourceRecord(
            sha256: hash.sha, path: url.path, kind: "video", bytes: hash.bytes, modifiedAt: hash.modified,
            container: info.container, codec: info.codec, width: info.displayWidth, height: info.displayHeight,
            rotation: info.rotation, frameRate: info.frameRate, durationSeconds: info.durationSeconds,
            frameCount: info.frameCount, hasAudio: info.hasAudio, addedAt: timestamp()))
    }
}
