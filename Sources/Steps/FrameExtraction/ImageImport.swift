import Catalog
import FacetCore
import Foundation
import Media

extension FrameExtractor {
    /// Imports image files as frames: each is decoded (which proves it readable and gives its size), then
    /// copied as is when it is already in the output format, or re-encoded otherwise. Shard K of N takes
    /// the files whose position in name order is K-1 modulo N.
    func importImages(root: URL, files: [URL], stem: String) throws -> UnitResult {
        guard !files.isEmpty else {
            throw InputUnit.noImages(in: root)
        }
        let hash = try ContentHasher.imageSetHash(files)
        let source = try catalog.upsertSource(SourceRecord(sha256: hash.sha, path: root.path, kind: "images", bytes: hash.bytes,
                                                           frameCount: files.count, addedAt: timestamp()))
        guard let sourceId = source.id else { throw CatalogError.failed(path: catalog.url.path, reason: "source has no id") }
        var names: [Int: String] = [:]
        for (index, file) in files.enumerated() { names[index] = file.lastPathComponent }

        let key = extractionKey(sourceSHA: hash.sha)
        if let (done, frames) = try completedExtraction(key: key) {
            tally.reused += frames.count
            let damage = (try? JSONDecoder().decode([String].self, from: Data(done.damage.utf8))) ?? []
            return UnitResult(source: source, frames: frames, damage: damage, originalNames: names)
        }
        let extraction = try catalog.beginExtraction(ExtractionRecord(
            key: key, sourceId: sourceId, parameters: options.canonicalParameters,
            shard: "\(options.shardIndex)/\(options.shardCount)", status: "running", startedAt: timestamp()))
        guard let extractionId = extraction.id else { throw CatalogError.failed(path: catalog.url.path, reason: "extraction has no id") }

        let known = try catalog.framesByPath(sourceId: sourceId)
        let folder = frameFolder(stem: stem, sha: hash.sha)
        let pipeline = EncodePipeline(format: options.format, quality: options.quality, workers: options.threads)
        defer { pipeline.drain() }
        var damage: [String] = []
        var reusedRows: [FrameRecord] = []
        var decodedAny = false
        let mine = files.indices.filter { $0 % options.shardCount == options.shardIndex - 1 }
        let limit = options.maxFrames ?? Int.max

        progress.begin(root.lastPathComponent, total: mine.count, unit: "images")
        for (done, index) in mine.enumerated() {
            if reusedRows.count + tally.written >= limit { break }
            progress.update(done: done)
            let file = files[index]
            let relative = "\(folder)/\(zeroPadded(index, width: 6)).\(options.format.fileExtension)"
            if let existing = known[relative], isReusable(existing), existing.sha256.isEmpty == false {
                reusedRows.append(existing)
                decodedAny = true
                continue
            }
            let image: RGBImage
            do {
                image = try ImageDecoder.decode(fileAt: file, maxPixels: options.maxPixels)
            } catch let error as MediaError {
                damage.append("skipped \(file.lastPathComponent): \(error.description)")
                continue
            }
            decodedAny = true
            let bytes = try Data(contentsOf: file)
            let pixels: EncodeJob.Pixels = ImageFormat(signature: bytes) == options.format
                ? .encoded(bytes, width: image.width, height: image.height) : .image(image)
            try pipeline.submit(EncodeJob(pixels: pixels, destination: options.workspace.appendingPathComponent(relative),
                                          relativePath: relative, frameNumber: index, pts: 0, seconds: 0))
        }
        try finishWriting(pipeline, reused: reusedRows, sourceId: sourceId, extractionId: extractionId)
        if !decodedAny && !mine.isEmpty {
            throw MediaError.undecodable(path: root.path, reason: damage.isEmpty ? "no readable image" : damage.joined(separator: "; "))
        }
        try catalog.completeExtraction(id: extractionId, damage: damage, finishedAt: timestamp())
        return UnitResult(source: source, frames: try catalog.frames(extractionId: extractionId), damage: damage, originalNames: names)
    }
}
