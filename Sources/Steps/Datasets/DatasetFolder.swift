import Dispatch
import FacetCore
import Foundation
import Manifest
import Media

/// How a dataset folder compares with its manifest.
public struct DatasetIntegrity: Codable, Sendable, Equatable {
    /// The dataset manifest checked, absolute.
    public var manifest: String
    /// Items in the manifest.
    public var items: Int
    /// Crops or masks the manifest names that are not on disk (paths relative to the manifest).
    public var missing: [String]
    /// Crops whose bytes no longer have the manifest's SHA-256.
    public var changed: [String]
    /// Image files in the crops' folders that the manifest does not name (added by hand).
    public var unexpected: [String]

    public var intact: Bool { missing.isEmpty && changed.isEmpty && unexpected.isEmpty }

    /// One line per problem, missing first.
    public var problems: [String] {
        missing.map { "\($0) is missing" } + changed.map { "\($0) was changed" } + unexpected.map { "\($0) is not in the manifest" }
    }
}

/// The files of a dataset folder: `dataset.json`, `faces/<crop>` (+ `<crop>_mask.png`), `dedupe-report.json`,
/// and `audit/` when audited.
public enum DatasetFolder {
    /// The file name a face's crop gets in the dataset: `<source>-<input>-<frame, 6 digits>-<face index>.<ext>`,
    /// unique within a build and the same in every build that includes the face.
    public static func cropName(_ face: FaceRef, originalExtension ext: String) -> String {
        "\(face.source)-\(face.input)-\(zeroPadded(face.frameNumber, width: 6))-\(face.faceIndex).\(ext.isEmpty ? "png" : ext.lowercased())"
    }

    /// The mask name beside a crop: `<crop without extension>_mask.png`.
    public static func maskName(forCrop crop: String) -> String {
        (crop as NSString).deletingPathExtension + "_mask.png"
    }

    /// Checks every item's crop against its SHA-256 and that its mask exists, and looks for image files the
    /// manifest does not name in the folders its crops are in. Throws only when the manifest cannot be read.
    public static func verify(manifestAt url: URL, threads: Int = 0) throws -> DatasetIntegrity {
        let manifest = try ManifestIO.read(DatasetManifest.self, from: url)
        return verify(manifest, at: url, threads: threads)
    }

    public static func verify(_ manifest: DatasetManifest, at url: URL, threads: Int = 0) -> DatasetIntegrity {
        let items = manifest.items
        let outcomes = parallelMap(items.count, threads: threads) { i -> (missing: [String], changed: Bool) in
            let item = items[i]
            var missing: [String] = []
            let crop = ManifestIO.resolve(item.crop, relativeToManifest: url)
            var changed = false
            if let sha = try? SHA256.hex(fileAt: crop) { changed = sha != item.sha256 } else { missing.append(item.crop) }
            if let mask = item.mask, !FileManager.default.fileExists(atPath: ManifestIO.resolve(mask, relativeToManifest: url).path) {
                missing.append(mask)
            }
            return (missing, changed)
        }
        var integrity = DatasetIntegrity(manifest: url.path, items: items.count, missing: [], changed: [], unexpected: [])
        for (item, outcome) in zip(items, outcomes) {
            integrity.missing += outcome.missing
            if outcome.changed { integrity.changed.append(item.crop) }
        }
        // Image files beside the crops that the manifest does not name.
        var named = Set<String>()
        var folders = Set<String>()
        for item in items {
            let crop = ManifestIO.resolve(item.crop, relativeToManifest: url)
            named.insert(crop.standardizedFileURL.path)
            folders.insert(crop.deletingLastPathComponent().standardizedFileURL.path)
            if let mask = item.mask { named.insert(ManifestIO.resolve(mask, relativeToManifest: url).standardizedFileURL.path) }
        }
        if items.isEmpty { folders.insert(url.deletingLastPathComponent().appendingPathComponent("faces").path) }
        for folder in folders.sorted() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") && isImageName(name) {
                let path = URL(fileURLWithPath: folder).appendingPathComponent(name).standardizedFileURL.path
                if !named.contains(path) {
                    integrity.unexpected.append(ManifestIO.relativePath(of: URL(fileURLWithPath: path), fromManifest: url))
                }
            }
        }
        return integrity
    }

    static func isImageName(_ name: String) -> Bool {
        ["png", "jpg", "jpeg", "webp", "bmp"].contains((name as NSString).pathExtension.lowercased())
    }

    /// Copies `origin` to `destination` unless a file with the same bytes is already there; returns the
    /// bytes' SHA-256. Atomic (temporary file, rename); not flushed to disk, since a damaged copy is found
    /// by its hash. The very bytes copied are first decoded as an image of `side` x `side` pixels, so a
    /// crafted manifest cannot smuggle any other file into a dataset (`MediaError`, exit 65, otherwise).
    static func copy(_ origin: URL, to destination: URL, side: Int) throws -> String {
        let data: Data
        do { data = try Data(contentsOf: origin) } catch {
            if !FileManager.default.fileExists(atPath: origin.path) { throw FileError.missing(path: origin.path) }
            throw FileError.unreadable(path: origin.path, reason: error.localizedDescription)
        }
        let image = try ImageDecoder.decode(data, path: origin.path, maxPixels: max(side, 1) * max(side, 1))
        guard image.width == side, image.height == side else {
            throw MediaError.undecodable(path: origin.path, reason: "is \(image.width)x\(image.height), not the \(side) px square the manifest says")
        }
        let sha = SHA256.hex(data)
        if let size = (try? FileManager.default.attributesOfItem(atPath: destination.path))?[.size] as? NSNumber,
           size.intValue == data.count, (try? SHA256.hex(fileAt: destination)) == sha {
            return sha
        }
        try AtomicFile.write(data, to: destination, durable: false)
        return sha
    }

    /// Removes image files in `folder` that are not in `keep` (names), e.g. crops of an earlier version.
    static func removeStale(in folder: URL, keep: Set<String>) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where !name.hasPrefix(".") && isImageName(name) && !keep.contains(name) {
            do { try FileManager.default.removeItem(at: folder.appendingPathComponent(name)) } catch {
                throw FileError.writeFailed(path: folder.appendingPathComponent(name).path, reason: "cannot remove: \(error.localizedDescription)")
            }
        }
    }
}

/// `body(i)` for `i` in `0..<count` on `threads` threads (0: one per core), results in order. Each thread takes
/// every `threads`-th index, so the work is spread evenly when items cost about the same.
func parallelMap<T>(_ count: Int, threads: Int, _ body: (Int) -> T) -> [T] {
    let workers = max(1, min(count, threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount))
    if workers <= 1 { return (0..<count).map(body) }
    let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer { results.deallocate() }
    withoutActuallyEscaping(body) { body in
        let shared = ParallelJob(body: body, results: results)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < count {
                shared.results[i] = shared.body(i)
                i += workers
            }
        }
    }
    var out: [T] = []
    out.reserveCapacity(count)
    for i in 0..<count {
        if let value = results[i] { out.append(value) }
    }
    results.deinitialize()
    return out
}

/// What `parallelMap`'s workers share: each writes only its own indices of `results`, and the call waits for
/// them all before reading, so no two threads touch the same element.
private final class ParallelJob<T>: @unchecked Sendable {
    let body: (Int) -> T
    let results: UnsafeMutableBufferPointer<T?>
    init(body: @escaping (Int) -> T, results: UnsafeMutableBufferPointer<T?>) {
        self.body = body
        self.results = results
    }
}
