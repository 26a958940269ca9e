import Catalog
import FacetCore
import Faces
import Foundation
import Manifest
import Media
import Models
import Recognition

/// One input swapped into one output: analysis (cached), target decision, track smoothing, then the frames
/// of this shard's segments rendered and encoded, segments joined, and the output labelled.
final class SwapJob {
    let unit: SwapUnit
    let output: URL
    let context: SwapContext
    let sourceSha256: String
    let sourceBytes: Int64
    /// 32-bit payload of the invisible watermark (8 hex digits): a hash prefix of what made this output.
    let payload: String
    let parts: URL

    var options: SwapOptions { context.options }

    init(unit: SwapUnit, output: URL, context: SwapContext) throws {
        self.unit = unit
        self.output = output
        self.context = context
        sourceSha256 = try SHA256.hex(fileAt: unit.url)
        sourceBytes = (try? ContentHasher.fileFacts(unit.url).bytes) ?? 0
        let parameters = context.options.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
        // What decides the frames (not where they are written), so a resumed or sharded run carries the same mark.
        let identity = [context.modelInfo.sha256, context.modelInfo.weightsSha256, sourceSha256, context.target.name, parameters]
            .joined(separator: "|")
        payload = String(SHA256.hex(Data(identity.utf8)).prefix(8))
        parts = output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).facet-parts")
    }

    var watermark: SwapWatermark { SwapWatermark(payload: payload, bits: 32, scheme: SwapLabels.watermarkScheme) }
    private lazy var labeller = FrameLabeller(payload: payload, badge: options.visibleLabel ? options.labelCorner : nil)

    func run(collectPreview: Int, previews: inout [(RGBImage, RGBImage)]) throws -> SwapReport.Output {
        switch unit {
        case .image(let url): return try runImage(url, collectPreview: collectPreview, previews: &previews)
        case .video(let url): return try runVideo(url, faces: nil, collectPreview: collectPreview, previews: &previews)
        case .faces(_, let loaded):
            return try runVideo(loaded.video, faces: loaded.frames, collectPreview: collectPreview, previews: &previews)
        }
    }

    // MARK: Images

    private func runImage(_ url: URL, collectPreview: Int, previews: inout [(RGBImage, RGBImage)]) throws -> SwapReport.Output {
        let original = try ImageDecoder.decode(fileAt: url, maxPixels: options.maxPixels)
        var frame = try context.analysis.get().analyseImage(original)
        var frames = [frame]
        context.decision?.apply(to: &frames, tracked: false)
        frame = frames[0]
        var image = original
        let (records, failed) = try render(frame: &frame, image: &image, smoothed: nil)
        labeller.finishStill(&image)
        if collectPreview > previews.count, frame.faces.contains(where: \.swap) { previews.append((original, image)) }
        let format: ImageFormat = ImageFormat(fileExtension: output.pathExtension) == .jpeg ? .jpeg : .png
        let encoded = try ImageEncoder(format: format, quality: 95).encode(image)
        let labelled = ImageTextLabel.insert(SwapLabels.statement(model: context.modelInfo, payload: payload), into: encoded, format: format)
        let record = try startRecord()
        try AtomicFile.write(labelled, to: output)
        let swapped = frame.faces.filter(\.swap).count - failed
        let counts = SwapCounts(frames: 1, faces: frame.faces.count, swapped: swapped, framesSwapped: swapped > 0 ? 1 : 0, failed: failed,
                                damagedFrames: 0)
        let manifestFrame = SwapFrame(index: 0, pts: 0, seconds: 0, damaged: false, faces: records)
        var warnings: [String] = []
        if swapped == 0 {
            let message = "\(url.lastPathComponent): " + (frame.faces.contains(where: \.swap)
                ? "the target's face could not be swapped; the output is written unchanged (and labelled)"
                : "the target '\(context.target.name)' was not found (\(frame.faces.count) face\(frame.faces.count == 1 ? "" : "s")); the output is written unchanged (and labelled)")
            warnings.append(message)
            context.progress.log("swap: warning: \(message)")
        }
        return try finish(record: record, width: image.width, height: image.height, frameRate: nil, hasAudio: false, audioCopied: false,
                          codec: format == .jpeg ? "jpg" : "png", counts: counts, frames: [manifestFrame], segments: (0, 0, 0), warnings: warnings)
    }

    // MARK: Videos

    private func runVideo(_ url: URL, faces given: [AnalysedFrame]?, collectPreview: Int,
                          previews: inout [(RGBImage, RGBImage)]) throws -> SwapReport.Output {
        try? FileManager.default.createDirectory(at: parts, withIntermediateDirectories: true)
        let name = url.lastPathComponent
        var warnings: [String] = []
        // Pass 1: analysis (cached in the parts folder, so shards and resumed runs share it).
        var frames: [AnalysedFrame]
        let info: VideoInfo
        var damage: [String]
        let cache = parts.appendingPathComponent("analysis-\(sourceSha256.prefix(12)).json")
        if let cached = try? JSONDecoder().decode(AnalysisCache.self, from: Data(contentsOf: cache)), cached.sourceSha256 == sourceSha256 {
            (frames, info, damage) = (cached.frames, cached.info, cached.damage)
            context.progress.log("\(name): analysis reused (\(frames.count) frames)")
        } else {
            let probe = try VideoReader(url: url, options: VideoReaderOptions.reproducible(maxPixels: options.maxPixels))
            if let given {
                info = probe.info
                frames = try FilteredFaces.align(given, video: url, maxPixels: options.maxPixels)
                damage = []
            } else {
                (frames, info, damage) = try context.analysis.get().analyseVideo(url, maxPixels: options.maxPixels, name: name)
            }
            let encoder = JSONEncoder()
            try AtomicFile.write(try encoder.encode(AnalysisCache(sourceSha256: sourceSha256, frames: frames, info: info, damage: damage)),
                                 to: cache, durable: false)
        }
        let nearest = given == nil ? context.decision?.apply(to: &frames, tracked: true) : nil
        let smoothed = smoothedAlignments(frames)
        if let interlacing = info.interlacingWarning {
            warnings.append("\(name): \(interlacing)")
            context.progress.log("swap: warning: \(name): \(interlacing)")
        }
        if !frames.contains(where: { $0.faces.contains(where: \.swap) }) {
            var message = "\(name): the target '\(context.target.name)' was not found in any frame; the output is written unchanged (and labelled)"
            // A track within dlib's same-person distance may be the target in harder conditions than the references
            // (video frames lie farther from photos): say where, and the safe way to include it.
            if let near = nearest {
                let target = context.target.name
                message += "; the nearest track (frames \(near.firstFrame)-\(near.lastFrame), \(near.faces) faces) lies "
                    + String(format: "%.3f", near.median) + " from '\(target)', beyond the " + String(format: "%.3f", near.limit)
                    + " a track needs: if that is this person, enrol them from this video (detect it, then identify enroll --name '\(target)' --track ID)"
            }
            warnings.append(message)
            context.progress.log("swap: warning: \(message)")
        }
        // Pass 2: this shard's segments.
        let f = options.segmentFrames, total = max(1, (frames.count + f - 1) / f)
        let mine = (total * (options.shardIndex - 1) / options.shardCount)..<(total * options.shardIndex / options.shardCount)
        let ext = options.codec == .ffv1 ? "mkv" : "mp4"
        let segmentURL = { (k: Int) in self.parts.appendingPathComponent(String(format: "segment-%05d.%@", k + 1, ext)) }
        // Each segment's manifest records (its frames' faces, swapped or not, matrices, masks) are kept beside it,
        // written before the segment is renamed into place: a resumed run or the joining shard records the faces
        // of segments it did not render itself exactly as the run that rendered them did.
        let recordsURL = { (k: Int) in self.parts.appendingPathComponent(String(format: "segment-%05d.json", k + 1)) }
        let segmentRange = { (k: Int) in (k * f)..<min((k + 1) * f, frames.count) }
        func finished(_ k: Int) -> SegmentRecords? {
            guard FileManager.default.fileExists(atPath: segmentURL(k).path),
                  let stored = try? JSONDecoder().decode(SegmentRecords.self, from: Data(contentsOf: recordsURL(k))),
                  stored.frames.map(\.index) == segmentRange(k).map({ frames[$0].index }) else { return nil }
            return stored
        }
        var written = 0, failedFaces = 0
        var frameRecords = [SwapFrame?](repeating: nil, count: frames.count)
        func adopt(_ k: Int, _ stored: SegmentRecords) {
            for (i, record) in zip(segmentRange(k), stored.frames) {
                frameRecords[i] = record
                if record.damaged {
                    frames[i].damaged = true
                    for j in frames[i].faces.indices where frames[i].faces[j].swap { frames[i].faces[j].swap = false; frames[i].faces[j].reason = "damaged-frame" }
                }
            }
            failedFaces += stored.failed
        }
        var todo = Set<Int>()
        for k in mine {
            if let stored = finished(k) { adopt(k, stored) } else { todo.insert(k) }
        }
        let reused = mine.count - todo.count
        if !todo.isEmpty {
            let reader = try VideoReader(url: url, options: VideoReaderOptions.reproducible(maxPixels: options.maxPixels))
            // Only the frames of this run's segments are converted to RGB; the others are decoded and passed over.
            let wanted = todo, frameCount = frames.count
            let decoded = PrefetchingReader(reader, depth: 8) { i, _ in i < frameCount && wanted.contains(i / f) }
            let rate = Self.rational(info.frameRate)
            // Frames are encoded on a thread of their own while the next batch is converted (`encode` below is the
            // time the pipeline waited for it).
            var writer: BackgroundVideoWriter?
            var currentSegment = -1
            var index = 0
            var lastGood: RGBImage?
            context.progress.begin("\(name): swapping", total: frames.count, unit: "frames")
            var batch = FrameBatch()
            var segmentFailed = 0
            func flush() throws {
                var done = try batch.render(renderer: context.renderer)
                failedFaces += done.failed
                segmentFailed += done.failed
                for k in done.frames.indices {
                    let i = batch.indices[k]
                    let preview = collectPreview > previews.count && frames[i].faces.contains(where: \.swap)
                        && i % max(1, frames.count / max(collectPreview, 1)) == 0
                    // A frame with no face pasted in still shares its pixels with the decoded frame: let go of that
                    // copy (unless the preview shows it) so the mark is added in place, its boost measured on itself.
                    let pasted = batch.records[k].faces.contains(where: \.swapped)
                    if !pasted && !preview { batch.originals[k] = RGBImage(width: 0, height: 0) }
                    context.clock.measure(\.label) {
                        labeller.finish(&done.frames[k], original: pasted || preview ? batch.originals[k] : nil)
                    }
                    if preview { previews.append((batch.originals[k], done.frames[k])) }
                    try context.clock.measure(\.encode) { try writer?.write(done.frames[k], pts: frames[i].pts) }
                    frameRecords[i] = batch.records[k]
                }
                batch = FrameBatch()
            }
            /// Records, then the segment itself: a segment on disk always has its records.
            func finishSegment() throws {
                guard let segmentWriter = writer else { return }
                let records = segmentRange(currentSegment).map { i in
                    frameRecords[i] ?? FrameBatch.record(frames[i], alignments: smoothed[i], results: nil)
                }
                try AtomicFile.write(try JSONEncoder().encode(SegmentRecords(frames: records, failed: segmentFailed)), to: recordsURL(currentSegment),
                                     durable: false)
                try context.clock.measure(\.encode) { try segmentWriter.finish() }
                written += 1
                segmentFailed = 0
                writer = nil
            }
            while let frame = try context.clock.measure(\.decode, { try decoded.next() }) {
                defer { index += 1 }
                guard index < frames.count else { break }
                let segment = index / f
                guard todo.contains(segment) else { continue }
                if segment != currentSegment {
                    try flush()
                    try finishSegment()
                    currentSegment = segment
                    context.renderer.colour.reset()
                    writer = BackgroundVideoWriter(try VideoWriter(url: segmentURL(segment), options: VideoWriterOptions(
                        width: info.displayWidth, height: info.displayHeight, frameRateNumerator: rate.0, frameRateDenominator: rate.1,
                        crf: options.crf, preset: options.preset, codec: options.codec == .ffv1 ? .ffv1 : .h264,
                        timeBase: (info.timeBaseNumerator, info.timeBaseDenominator))))
                }
                var image: RGBImage
                if let converted = frame.image { image = converted; lastGood = converted } else {
                    image = lastGood ?? RGBImage(width: info.displayWidth, height: info.displayHeight)
                    frames[index].damaged = true
                }
                if frames[index].damaged { for k in frames[index].faces.indices where frames[index].faces[k].swap {
                    frames[index].faces[k].swap = false; frames[index].faces[k].reason = "damaged-frame"
                } }
                batch.add(index: index, image: image, frame: frames[index], alignments: smoothed[index])
                if batch.faceCount >= options.batchSize || batch.indices.count >= max(8, options.batchSize) { try flush() }
                context.progress.update(done: index + 1)
            }
            try flush()
            try finishSegment()
            context.progress.finish()
        }
        // Join when every segment is there (the last shard to finish does it), with the other shards' records.
        let all = (0..<total).map(segmentURL)
        if all.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) {
            for k in 0..<total where !mine.contains(k) { if let stored = finished(k) { adopt(k, stored) } }
        }
        let counts = SwapCounts(frames: frames.count, faces: frames.reduce(0) { $0 + $1.faces.count },
                                swapped: frames.reduce(0) { $0 + $1.faces.filter(\.swap).count } - failedFaces,
                                framesSwapped: frames.filter { $0.faces.contains(where: \.swap) }.count, failed: failedFaces,
                                damagedFrames: frames.filter(\.damaged).count)
        if counts.damagedFrames > 0 {
            warnings.append("\(name): \(counts.damagedFrames) damaged frame\(counts.damagedFrames == 1 ? "" : "s") copied through as decoded (not swapped)")
        }
        let encoded = VideoWriter.encodedSize(width: info.displayWidth, height: info.displayHeight, codec: options.codec == .ffv1 ? .ffv1 : .h264)
        if encoded != (info.displayWidth, info.displayHeight) {
            let (w, h) = encoded
            let message = "\(name): \(info.displayWidth)x\(info.displayHeight) is odd-sized; H.264 (yuv420p) needs even sides, so the " +
                "output is \(w)x\(h), its last column or row repeated (--codec ffv1 keeps the size)"
            warnings.append(message)
            context.progress.log("swap: warning: \(message)")
        }
        guard all.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) else {
            context.progress.log("\(name): shard \(options.shardIndex)/\(options.shardCount) wrote its segments; the last shard to finish joins them")
            return SwapReport.Output(input: url.path, output: nil, provenance: nil, manifest: nil, frames: frames.count, faces: counts.faces,
                                     swapped: counts.swapped, failed: failedFaces, damagedFrames: counts.damagedFrames, segmentsWritten: written,
                                     segmentsReused: reused, segments: total, warnings: warnings)
        }
        let record = try startRecord()
        try context.clock.measure(\.join) {
            try VideoJoiner.join(all, to: output, audioSource: url,
                                 metadata: SwapLabels.containerMetadata(model: context.modelInfo, payload: payload, target: context.target))
        }
        let records = frames.indices.map { i in frameRecords[i] ?? FrameBatch.record(frames[i], alignments: smoothed[i], results: nil) }
        var result = try finish(record: record, width: info.displayWidth, height: info.displayHeight, frameRate: info.frameRate,
                                hasAudio: info.hasAudio, audioCopied: info.hasAudio, codec: options.codec.rawValue, counts: counts,
                                frames: records, segments: (written, reused, total), warnings: warnings + damage, video: url,
                                beforeCompleting: { try? FileManager.default.removeItem(at: self.parts) })
        result.damagedFrames = counts.damagedFrames
        return result
    }

    /// The alignment of every face that will be swapped, smoothed along its track.
    private func smoothedAlignments(_ frames: [AnalysedFrame]) -> [[AffineMatrix2x3?]] {
        let framing = context.framing
        let raw = frames.map { frame in
            frame.faces.map { face -> AffineMatrix2x3? in
                FaceAlignment(landmarks68: face.landmarks68, size: framing.cropSize, centering: framing.centering)?.matrix
            }
        }
        return AlignmentSmoother.smooth(raw: raw, tracks: frames.map { $0.faces.map(\.track) }, cropSize: framing.cropSize,
                                        radius: options.smoothRadius)
    }

    private func render(frame: inout AnalysedFrame, image: inout RGBImage, smoothed: [AffineMatrix2x3?]?) throws -> ([SwapFace], Int) {
        var batch = FrameBatch()
        let alignments = smoothed ?? frame.faces.map {
            FaceAlignment(landmarks68: $0.landmarks68, size: context.framing.cropSize, centering: context.framing.centering)?.matrix
        }
        batch.add(index: 0, image: image, frame: frame, alignments: alignments)
        let done = try batch.render(renderer: context.renderer)
        image = done.frames[0]
        return (batch.records[0].faces, done.failed)
    }

    // MARK: Records

    private func startRecord() throws -> SwapRecord {
        let parameters = String(decoding: try JSONEncoder.sorted.encode(options.parameters), as: UTF8.self)
        return try context.catalog.insertSwap(SwapRecord(
            outputPath: output.path, sourcePath: unit.url.path, sourceSha256: sourceSha256, modelPath: options.model.path,
            modelSha256: context.modelInfo.sha256, weightsSha256: context.modelInfo.weightsSha256, direction: options.direction.rawValue,
            decoderIdentity: context.modelInfo.decoderIdentity, targetName: context.target.name, targetIdentityId: context.target.identityId,
            consent: context.target.consent, parameters: parameters, watermarkPayload: payload, startedAt: timestamp()))
    }

    private func finish(record: SwapRecord, width: Int, height: Int, frameRate: Double?, hasAudio: Bool, audioCopied: Bool, codec: String,
                        counts: SwapCounts, frames: [SwapFrame], segments: (Int, Int, Int), warnings: [String], video: URL? = nil,
                        beforeCompleting: () -> Void = {}) throws -> SwapReport.Output {
        let outputHash = try SHA256.hex(fileAt: output)
        let sidecarURL = output.deletingLastPathComponent().appendingPathComponent(output.lastPathComponent + ".provenance.json")
        let manifestURL = options.manifest ?? options.workspace.appendingPathComponent("Manifests/swap-\(output.deletingPathExtension().lastPathComponent).json")
        // The media the frames came from: for a faces manifest, the video it lists (what `score` reads beside the output).
        let sourceURL: URL, sourceHash: String, sourceSize: Int64
        if case .faces = unit, let video {
            (sourceURL, sourceHash, sourceSize) = (video, try SHA256.hex(fileAt: video), (try? ContentHasher.fileFacts(video).bytes) ?? 0)
        } else {
            (sourceURL, sourceHash, sourceSize) = (unit.url, sourceSha256, sourceBytes)
        }
        let source = InputFile(path: ManifestIO.relativePath(of: sourceURL, fromManifest: sidecarURL), sha256: sourceHash, bytes: sourceSize,
                               kind: unit.kindName)
        var model = context.modelInfo
        model.manifest = ManifestIO.relativePath(of: options.model, fromManifest: sidecarURL)
        let tool = ToolInfo(name: "swap", parameters: options.parameters.mapValues { JSONValue.string($0) })
        let badge = labeller.record(width: width, height: height)
        let sidecar = ProvenanceSidecar(statement: SwapLabels.statement(model: context.modelInfo, payload: payload), tool: tool,
                                        createdAt: timestamp(), output: output.lastPathComponent, outputSha256: outputHash, source: source,
                                        model: model, target: context.target, watermark: watermark, swapId: record.id,
                                        facesSwapped: counts.swapped, frames: counts.frames, visibleLabel: badge)
        try ManifestIO.write(sidecar, to: sidecarURL)
        var manifestModel = context.modelInfo
        manifestModel.manifest = ManifestIO.relativePath(of: options.model, fromManifest: manifestURL)
        let entry = SwapOutput(source: InputFile(path: ManifestIO.relativePath(of: sourceURL, fromManifest: manifestURL), sha256: sourceHash,
                                                 bytes: sourceSize, kind: unit.kindName),
                               output: ManifestIO.relativePath(of: output, fromManifest: manifestURL), outputSha256: outputHash,
                               provenance: ManifestIO.relativePath(of: sidecarURL, fromManifest: manifestURL), width: width, height: height,
                               frameRate: frameRate, hasAudio: hasAudio, audioCopied: audioCopied, codec: codec,
                               crf: codec == "h264" ? options.crf : nil, counts: counts, frames: frames, visibleLabel: badge)
        let manifest = SwapManifest(tool: tool, createdAt: timestamp(), swapId: record.id, model: manifestModel, target: context.target,
                                    watermark: watermark, outputs: [entry])
        try ManifestIO.write(manifest, to: manifestURL)
        // The parts folder goes before the record is marked complete: a run killed in between finds no parts and a
        // `running` record, so it redoes the job under the same swap id; a `complete` record never has parts behind it.
        beforeCompleting()
        if let id = record.id {
            try context.catalog.finishSwap(id: id, status: "complete", outputSha256: outputHash, manifestPath: manifestURL.path,
                                           frames: counts.frames, facesSwapped: counts.swapped, finishedAt: timestamp())
        }
        context.progress.log("swap: \(output.path): \(counts.swapped) faces swapped in \(counts.framesSwapped) of \(counts.frames) frames" +
                             (counts.failed > 0 ? ", \(counts.failed) failed (left unchanged)" : "") +
                             (counts.damagedFrames > 0 ? ", \(counts.damagedFrames) damaged frames copied through" : ""))
        return SwapReport.Output(input: unit.url.path, output: output.path, provenance: sidecarURL.path, manifest: manifestURL.path,
                                 frames: counts.frames, faces: counts.faces, swapped: counts.swapped, failed: counts.failed,
                                 damagedFrames: counts.damagedFrames, segmentsWritten: segments.0, segmentsReused: segments.1,
                                 segments: segments.2, warnings: warnings)
    }

    /// A frame rate as a fraction with denominator 1001 or 1 (what H.264 headers carry).
    static func rational(_ fps: Double) -> (Int, Int) {
        guard fps.isFinite, fps > 0, fps < 1000 else { return (30, 1) }
        if abs(fps.rounded() - fps) < 1e-3 { return (Int(fps.rounded()), 1) }
        return (Int((fps * 1001).rounded()), 1001)
    }
}

/// The analysis of one video, kept between runs and shards.
struct AnalysisCache: Codable {
    var sourceSha256: String
    var frames: [AnalysedFrame]
    var info: VideoInfo
    var damage: [String]
}

extension SwapUnit {
    var kindName: String {
        switch self { case .video, .faces: return "video"; case .image: return "images" }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

/// One segment's manifest records and failed faces (`segment-NNNNN.json` beside `segment-NNNNN.mkv|mp4`).
struct SegmentRecords: Codable {
    var frames: [SwapFrame]
    var failed: Int
}
