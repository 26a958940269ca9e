import Catalog
import FacetCore
import Foundation
import Manifest
import Media
import Models

/// dlib's 128-d face descriptors for detected faces, computed from their aligned crops and cached in the
/// catalog by the crop's SHA-256 (an interrupted run keeps every batch it finished).
///
/// The chip is dlib's `get_face_chip_details` (150 px, padding 0.25) on dlib's 5 points mapped into the crop
/// with the face's frame-to-crop matrix, then `extract_image_chip` from the crop. With the default `face`
/// centering the crop holds all of the chip but a strip below the chin, which dlib fills with black as it
/// does at a frame's edge; descriptors agree with chips cut from the full frame to ≈ 0.03 (measured in
/// `IdentityTests`), far inside the 0.6 threshold.
public final class FaceEmbedder {
    public let net: FaceRecognitionNet
    /// Faces embedded per batch (also the unit of catalog writes).
    public let batchSize: Int

    public init(store: ModelStore, batchSize: Int = 16) throws {
        self.net = try FaceRecognitionNet(store: store, maxBatchSize: batchSize)
        self.batchSize = batchSize
    }

    /// The 150×150 recognition chip of a face from its aligned crop. `points5` are dlib's 5 points in frame
    /// pixels (x, y pairs) and `matrix` the face's frame-to-crop similarity `[a, b, tx, c, d, ty]`.
    public static func chip(fromCrop crop: RGBImage, points5: [Float], matrix: [Double]) throws -> RGBImage {
        guard points5.count == 10, let m = AffineMatrix2x3(elements: matrix) else {
            throw ModelError.badInput(reason: "a face needs 5 points and a 2x3 matrix, got \(points5.count / 2) points and \(matrix.count) numbers")
        }
        let points = (0..<5).map { i in m.apply(SIMD2(Double(points5[2 * i]), Double(points5[2 * i + 1]))) }
        return FaceChip.extract(from: crop, details: try FaceChip.details(landmarks5: points))
    }

    /// The 150×150 chip from a whole image and dlib's 5 points in its pixels (as dlib itself cuts it).
    public static func chip(fromImage image: RGBImage, points5: [SIMD2<Double>]) throws -> RGBImage {
        FaceChip.extract(from: image, details: try chipDetails(points5: points5))
    }

    /// The chip details `chip(fromImage:points5:)` cuts (the points rounded to pixels, as dlib's are).
    public static func chipDetails(points5: [SIMD2<Double>]) throws -> FaceChip.Details {
        try FaceChip.details(landmarks5: points5.map { SIMD2(Int($0.x.rounded()), Int($0.y.rounded())) })
    }

    /// The chips of `jitters` applied to one face's chip (`details` in `image`), e.g. `FaceChipJitter.series`.
    public static func jitteredChips(fromImage image: RGBImage, details: FaceChip.Details, jitters: [FaceChipJitter]) -> [RGBImage] {
        jitters.map { $0.chip(from: image, details: details) }
    }

    /// Descriptors of the faces of a faces manifest, in item order, from the cache or computed in batches.
    /// Every crop must exist (checked first, before any work) and decode.
    /// - Returns: one 128-d descriptor per item, the crops' SHA-256, and how many descriptors were computed
    ///   (the rest came from the cache).
    public func embed(_ items: [FaceItem], manifestURL: URL, catalog: Catalog, progress: ProgressSink) throws -> (embeddings: [[Float]], hashes: [String], computed: Int) {
        let urls = items.map { ManifestIO.resolve($0.crop, relativeToManifest: manifestURL) }
        let missing = urls.filter { !FileManager.default.fileExists(atPath: $0.path) }
        if let first = missing.first {
            throw RecognitionError.cropsMissing(manifest: manifestURL.path, missing: missing.count, total: urls.count, first: first.path)
        }
        var hashes: [String] = []
        hashes.reserveCapacity(items.count)
        var embeddings = [[Float]](repeating: [], count: items.count)
        progress.begin("embed", total: items.count, unit: "faces")
        // Hash every crop (cheap) to find the cached descriptors; the rest are read again batch by batch.
        for url in urls { hashes.append(try Self.read(url).hash) }
        let cached = try catalog.faceEmbeddings(cropHashes: hashes)
        var pending: [Int] = []
        for i in items.indices {
            if let blob = cached[hashes[i]] { embeddings[i] = Float32Blob.unpack(blob).map { Float($0) } } else { pending.append(i) }
        }
        var done = items.count - pending.count
        progress.update(done: done)
        // Batch k+1's crops are read, decoded and cut into chips on a second thread while the network runs
        // on batch k (the network's own threads do the heavy lifting; chip preparation is light but serial).
        let batches = stride(from: 0, to: pending.count, by: batchSize).map { Array(pending[$0..<min(pending.count, $0 + batchSize)]) }
        let prepare: @Sendable ([Int]) -> Result<[RGBImage], Error> = { batch in
            Result {
                try batch.map { i in
                    let (data, _) = try Self.read(urls[i])
                    do {
                        let crop = try ImageDecoder.decode(data, path: urls[i].path)
                        return try Self.chip(fromCrop: crop, points5: items[i].points5, matrix: items[i].matrix)
                    } catch {
                        throw RecognitionError.badCrop(path: urls[i].path, reason: "\(error)")
                    }
                }
            }
        }
        let ahead = ChipPrefetch()
        if let first = batches.first { ahead.start { prepare(first) } }
        for (k, batch) in batches.enumerated() {
            let chips = try ahead.take().get()
            if k + 1 < batches.count { let next = batches[k + 1]; ahead.start { prepare(next) } }
            let vectors = try net.embed(chips: chips)
            var rows: [(cropSha256: String, embedding: Data)] = []
            for (k, i) in batch.enumerated() {
                embeddings[i] = vectors[k]
                rows.append((hashes[i], Float32Blob.pack(vectors[k].map { Double($0) })))
            }
            try catalog.storeFaceEmbeddings(rows, at: timestamp())
            done += batch.count
            progress.update(done: done)
        }
        progress.finish()
        return (embeddings, hashes, pending.count)
    }

    /// A crop's bytes and their SHA-256.
    static func read(_ url: URL) throws -> (data: Data, hash: String) {
        do {
            let data = try Data(contentsOf: url)
            return (data, SHA256.hex(data))
        } catch {
            throw FileError.unreadable(path: url.path, reason: error.localizedDescription)
        }
    }
}

/// One chip batch prepared on a background thread: `start` begins it, `take` waits for it.
private final class ChipPrefetch: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<[RGBImage], Error> = .success([])

    func start(_ work: @escaping @Sendable () -> Result<[RGBImage], Error>) {
        Thread.detachNewThread { [self] in
            result = work()
            done.signal()
        }
    }

    func take() -> Result<[RGBImage], Error> {
        done.wait()
        return result
    }
}
