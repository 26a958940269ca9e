import Catalog
import FacetCore
import Foundation
import Media

extension FrameExtractor {
    /// Extracts the selected frames of one video.
    func extractVideo(_ url: URL, stem: String) throws -> UnitResult {
        let reader = try VideoReader(url: url, options: VideoReaderOptions(maxPixels: options.maxPixels))
        let info = reader.info
        let hash = try ContentHasher.videoHash(url, catalog: catalog)
        let source = try catalog.registerVideo(url, info: info, hash: hash)
        guard let sourceId = source.id else { throw CatalogError.failed(path: catalog.url.path, reason: "source has no id") }

        let key = extractionKey(sourceSHA: hash.sha)
        if let (done, frames) = try completedExtraction(key: key) {
            tally.reused += frames.count
            progress.log("\(url.lastPathComponent): already extracted (\(frames.count) frames), nothing to do")
            let damage = (try? JSONDecoder().decode([String].self, from: Data(done.damage.utf8))) ?? []
            return UnitResult(source: source, frames: frames, damage: damage, originalNames: nil)
        }
        let extraction = try catalog.beginExtraction(ExtractionRecord(
            key: key, sourceId: sourceId, parameters: options.canonicalParameters,
            shard: "\(options.shardIndex)/\(options.shardCount)", status: "running", startedAt: timestamp()))
        guard let extractionId = extraction.id else { throw CatalogError.failed(path: catalog.url.path, reason: "extraction has no id") }

        var selector = FrameSelector(frameRate: info.frameRate, duration: info.durationSeconds, start: options.start, end: options.end,
                                     every: options.every, fps: options.fps, maxFrames: options.maxFrames,
                                     shardIndex: options.shardIndex, shardCount: options.shardCount)
        let known = try catalog.framesByPath(sourceId: sourceId)
        let folder = frameFolder(stem: stem, sha: hash.sha)
        let pipeline = EncodePipeline(format: options.format, quality: options.quality, workers: options.threads)
        defer { pipeline.drain() }
        let thumbnails = FrameConverter()
        var lastKeptThumbnail: [Float]?
        var usedPaths = Set<String>()
        var reusedRows: [FrameRecord] = []
        var lastFlush = Date()

        if let interlacing = info.interlacingWarning { progress.log("warning: \(url.path): \(interlacing)") }
        progress.begin(url.lastPathComponent, total: info.frameCount, unit: "frames")
        if !selector.isEmpty {
            if selector.windowStart > 0 { try reader.seek(toSeconds: selector.windowStart) }
            decoding: while let frame = try reader.nextFrame() {
                progress.update(done: reader.framesDecoded)
                switch selector.decide(seconds: frame.seconds) {
                case .stop: break decoding
                case .skip: continue
                case .keep(let number):
                    if let threshold = options.minChange {
                        let thumbnail = try thumbnails.rgb(frame, width: 32, height: 32).luma()
                        if let previous = lastKeptThumbnail, meanAbsoluteDifference(previous, thumbnail) < threshold {
                            selector.unkeepLast()
                            tally.similarSkipped += 1
                            continue
                        }
                        lastKeptThumbnail = thumbnail
                    }
                    var relative = "\(folder)/\(zeroPadded(number, width: 6)).\(options.format.fileExtension)"
                    if usedPaths.contains(relative) {
                        relative = "\(folder)/\(zeroPadded(number, width: 6))-\(frame.pts).\(options.format.fileExtension)"
                    }
                    usedPaths.insert(relative)
                    if let existing = known[relative], isReusable(existing), existing.pts == frame.pts {
                        reusedRows.append(existing)
                        continue
                    }
                    try pipeline.submit(EncodeJob(pixels: .frame(frame), destination: options.workspace.appendingPathComponent(relative),
                                                  relativePath: relative, frameNumber: number, pts: frame.pts, seconds: frame.seconds))
                }
                if Date().timeIntervalSince(lastFlush) > 2 {
                    let finished = pipeline.takeCompleted()
                    try record(finished, sourceId: sourceId, extractionId: extractionId)
                    tally.written += finished.count
                    lastFlush = Date()
                }
            }
        }
        try finishWriting(pipeline, reused: reusedRows, sourceId: sourceId, extractionId: extractionId)

        if reader.framesDecoded == 0 && !selector.isEmpty && selector.windowStart == 0 {
            let why = reader.damage.isEmpty ? "the video stream holds no frames" : reader.damage.joined(separator: "; ")
            throw MediaError.undecodable(path: url.path, reason: why)
        }
        try catalog.completeExtraction(id: extractionId, damage: reader.damage, finishedAt: timestamp())
        return UnitResult(source: source, frames: try catalog.frames(extractionId: extractionId), damage: reader.damage, originalNames: nil)
    }
}

/// Mean of |a[i] - b[i]| over two equally long arrays.
func meanAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count, !a.isEmpty else { return .infinity }
    var sum: Float = 0
    for i in 0..<a.count { sum += abs(a[i] - b[i]) }
    return Double(sum) / Double(a.count)
}
