import FacetCore
import Foundation
import Manifest
import Media

/// One identity's faces, in memory and ready for augmentation: read from a `facet.dataset` manifest
/// (`dedupe`) or a `facet.faces` manifest (`detect`; its landmarks are mapped into crop pixels through each
/// face's frame-to-crop matrix). `train` and `warp-augment` share it, so it lives here, below both steps.
public struct TrainingSide: Sendable {
    /// The person (the dataset's identity; for a faces manifest, the `identify --target` person it was filtered to,
    /// else its file name without `faces-` and `.json`).
    public let identity: String
    public let manifestURL: URL
    /// `facet.dataset` or `facet.faces`.
    public let schema: String
    /// SHA-256 of the manifest's bytes, and of the faces' crop hashes (sorted, one per line).
    public let manifestSHA256: String
    public let contentSHA256: String
    /// Side of the crops in pixels, and their centering (`face` or `head`).
    public let cropSize: Int
    public let centering: String
    /// The faces at the geometry's processing size, in manifest order.
    public let faces: [AugmentSource]
    /// Each face's crop path as the manifest gives it.
    public let cropPaths: [String]
    /// For warp-to-landmarks: each face's nearest faces by landmark positions (empty lists otherwise).
    public let neighbours: [[Int]]

    /// A side from faces already in memory (tests, tools that build sides themselves).
    public init(identity: String, manifestURL: URL, schema: String, manifestSHA256: String, contentSHA256: String, cropSize: Int,
                centering: String, faces: [AugmentSource], cropPaths: [String], neighbours: [[Int]]) {
        self.identity = identity; self.manifestURL = manifestURL; self.schema = schema; self.manifestSHA256 = manifestSHA256
        self.contentSHA256 = contentSHA256; self.cropSize = cropSize; self.centering = centering; self.faces = faces
        self.cropPaths = cropPaths; self.neighbours = neighbours
    }

    /// Fewer faces than this draws a warning (the seeds ask for 300–2000 per identity).
    public static let recommendedFaces = 300

    /// Reads the manifest at `url` and every crop it lists (in parallel). `identity` overrides the name.
    /// Throws `ManifestError` for a missing, unreadable or unknown manifest, `AugmentError.emptyDataset` when
    /// it lists no faces, and a typed error naming the crop for a missing, undecodable, wrongly sized or
    /// changed crop.
    public static func load(_ url: URL, identity: String? = nil, geometry: AugmentGeometry, findNeighbours: Bool = false) throws -> TrainingSide {
        let (schema, items, cropSize, centering, defaultIdentity, verifiesHashes) = try readManifest(url)
        guard !items.isEmpty else { throw AugmentError.emptyDataset(path: url.path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ManifestError.missing(path: url.path) }
        let results = ResultSlots<(AugmentSource, String)>(count: items.count)
        DispatchQueue.concurrentPerform(iterations: items.count) { index in
            results.set(index, Result { try loadFace(items[index], manifest: url, cropSize: cropSize, geometry: geometry,
                                                     verifyHash: verifiesHashes) })
        }
        var faces: [AugmentSource] = [], hashes: [String] = []
        faces.reserveCapacity(items.count)
        for index in 0..<items.count {
            let (face, hash) = try results.get(index)   // the first failure in manifest order
            faces.append(face)
            hashes.append(hash)
        }
        let content = SHA256.hex(Data(hashes.sorted().joined(separator: "\n").utf8))
        return TrainingSide(identity: identity ?? defaultIdentity, manifestURL: url, schema: schema, manifestSHA256: SHA256.hex(data),
                            contentSHA256: content, cropSize: cropSize, centering: centering, faces: faces,
                            cropPaths: items.map(\.crop), neighbours: findNeighbours ? nearestFaces(faces) : faces.map { _ in [] })
    }

    /// The identity a manifest names (dataset manifests) or implies (a faces manifest's file name without
    /// `faces-`), read without loading any crop; nil when the file cannot be read as either kind.
    public static func identity(ofManifest url: URL) -> String? {
        try? readManifest(url).4
    }

    /// "256 px face": the framing that must agree between the two sides.
    public var framing: String { "\(cropSize) px \(centering)-centred" }

    private static func readManifest(_ url: URL) throws -> (String, [DatasetItem], Int, String, String, Bool) {
        switch try FaceSetManifest.read(url) {
        case .dataset(let manifest):
            return (DatasetManifest.schemaName, manifest.items, manifest.cropSize, manifest.centering, manifest.identity, true)
        case .faces(let manifest):
            var name = url.deletingPathExtension().lastPathComponent
            if name.hasPrefix("faces-") { name.removeFirst("faces-".count) }
            if case .string(let target)? = manifest.tool.parameters["target"], !target.isEmpty { name = target }
            // The crop hashes are filled in when the crops are read.
            let items = manifest.items.map { DatasetItem(face: $0, crop: $0.crop, sha256: "", mask: $0.mask, source: $0.input) }
            return (FacesManifest.schemaName, items, manifest.cropSize, manifest.centering, name, false)
        }
    }

    private static func loadFace(_ item: DatasetItem, manifest: URL, cropSize: Int, geometry: AugmentGeometry,
                                 verifyHash: Bool) throws -> (AugmentSource, String) {
        let cropURL = ManifestIO.resolve(item.crop, relativeToManifest: manifest)
        let bytes = try readFile(cropURL)
        let hash = SHA256.hex(bytes)
        if verifyHash && hash != item.sha256 { throw AugmentError.contentChanged(path: cropURL.path, manifest: manifest.path) }
        let crop = try ImageDecoder.decode(bytes, path: cropURL.path)
        guard crop.width == cropSize, crop.height == cropSize else {
            throw AugmentError.wrongImageSize(path: cropURL.path, expected: cropSize, width: crop.width, height: crop.height)
        }
        var mask: RGBImage?
        if let maskPath = item.mask {
            let maskURL = ManifestIO.resolve(maskPath, relativeToManifest: manifest)
            let decoded = try ImageDecoder.decode(try readFile(maskURL), path: maskURL.path)
            guard decoded.width == cropSize, decoded.height == cropSize else {
                throw AugmentError.wrongImageSize(path: maskURL.path, expected: cropSize, width: decoded.width, height: decoded.height)
            }
            mask = decoded
        }
        do {
            return (try AugmentSource(crop: crop, landmarks68: item.landmarks68, mask: mask, processingSize: geometry.processingSize), hash)
        } catch AugmentError.invalidSettings(let reason) {
            throw AugmentError.badFace(path: cropURL.path, reason: "invalid augmentation: \(reason)")
        }
    }

    static func readFile(_ url: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else { throw FileError.missing(path: url.path) }
        do { return try Data(contentsOf: url) } catch { throw FileError.unreadable(path: url.path, reason: error.localizedDescription) }
    }

    /// For each face, up to 8 other faces with the closest landmarks (sum of squared distances), nearest first.
    static func nearestFaces(_ faces: [AugmentSource], count: Int = 8) -> [[Int]] {
        let n = faces.count
        let results = ResultSlots<[Int]>(count: n)
        DispatchQueue.concurrentPerform(iterations: n) { i in
            var scored: [(Double, Int)] = []
            scored.reserveCapacity(n)
            for j in 0..<n where j != i {
                var d = 0.0
                for k in 0..<68 { let v = faces[i].landmarks[k] - faces[j].landmarks[k]; d += v.x * v.x + v.y * v.y }
                scored.append((d, j))
            }
            scored.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            results.set(i, .success(scored.prefix(count).map(\.1)))
        }
        return (0..<n).map { (try? results.get($0)) ?? [] }
    }
}

/// Per-index results written by concurrent workers.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [Result<T, any Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<T, any Error>) {
        lock.lock(); slots[index] = value; lock.unlock()
    }

    func get(_ index: Int) throws -> T {
        lock.lock(); let value = slots[index]; lock.unlock()
        guard let value else { throw AugmentError.invalidSettings("internal: result \(index) missing") }
        return try value.get()
    }
}
