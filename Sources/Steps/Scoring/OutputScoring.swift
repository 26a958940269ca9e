import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Recognition
import Tensor

/// One face to measure, with the frames it needs (RGBImage is copy-on-write: these share the decoded frames).
struct FaceJob: @unchecked Sendable {
    var frame: SwapFrame
    var faceIndex: Int
    var face: SwapFace
    var source: RGBImage
    var output: RGBImage
    /// The previous frames, when the previous frame holds the same track swapped.
    var previousSource: RGBImage?
    var previousOutput: RGBImage?
}

/// A measured face: its scores, landmarks for jitter, and a source | output strip for the worst-faces list.
struct FaceResult: @unchecked Sendable {
    var score: FaceScore
    var sourcePoints: [SIMD2<Double>]?
    var outputPoints: [SIMD2<Double>]?
    var strip: RGBImage?
    var badness: Double
    var why: String
}

extension RunScorer {
    /// Decoding runs at most this many faces ahead of the measuring threads.
    static let jobsQueued = 32
    /// Side of each half of a worst-face strip, pixels.
    static let stripSide = 112

    /// Whether `output` is `source` as H.264 encodes an odd-sized frame (`VideoWriter.encodedSize`: each odd side one
    /// pixel longer), not `source`'s own size.
    static func isEvenPadding(of source: RGBImage, _ output: RGBImage) -> Bool {
        let encoded = VideoWriter.encodedSize(width: source.width, height: source.height, codec: .h264)
        return encoded != (source.width, source.height) && encoded == (output.width, output.height)
    }

    /// Whether a track of an output belongs to this process's shard.
    static func inShard(output: Int, track: Int, options: ScoreOptions) -> Bool {
        options.shardCount <= 1 || (output &* 1_000_003 &+ track).magnitude % UInt(options.shardCount) == UInt(options.shardIndex - 1)
    }

    /// Decodes source and output in step, measures every face of this shard, then the per-track temporal measures.
    static func scoreOutput(_ output: SwapOutput, index o: Int, manifest: URL, context: FaceContext, measurers: [FaceMeasurer],
                            options: ScoreOptions, progress: (Int) -> Void) throws -> (score: OutputScore, strips: [(WorstFace, RGBImage)]) {
        let sourceURL = ManifestIO.resolve(output.source.path, relativeToManifest: manifest)
        let outputURL = ManifestIO.resolve(output.output, relativeToManifest: manifest)
        let kind = ["image", "images"].contains(output.source.kind) ? "image" : "video"
        let sourceStream = try FrameStream(url: sourceURL, kind: kind), outputStream = try FrameStream(url: outputURL, kind: kind)
        var frames: [Int: SwapFrame] = [:]
        for frame in output.frames { frames[frame.index] = frame }

        // Decoding (this thread) runs ahead of the measuring (one thread per measurer, each with its own networks
        // running serially on it) through a bounded queue; results come back in any order and are sorted below.
        let queue = JobQueue(capacity: jobsQueued)
        let collected = ResultCollector(keep: options.worst)
        let group = DispatchGroup()
        for measurer in measurers {
            group.enter()
            let thread = Thread {
                Parallel.serially {
                    while let job = queue.pop() { collected.add(measure(job, measurer: measurer, context: context, model: output, wantsStrip: collected.admits)) }
                }
                group.leave()
            }
            thread.name = "facet.score.measure"
            thread.start()
        }
        var previous: (source: RGBImage, output: RGBImage, swappedTracks: Set<Int>)?
        var sourceCount = 0, outputCount = 0
        var failure: Error?
        do {
            while true {
                let source = try sourceStream.next()
                var out = try outputStream.next()
                if let source, let padded = out, Self.isEvenPadding(of: source, padded) {
                    // swap's H.264 output of an odd-sized source repeats the last column or row to an even size.
                    out = padded.cropped(x: 0, y: 0, width: source.width, height: source.height)
                }
                if source != nil { sourceCount += 1 }
                if out != nil { outputCount += 1 }
                guard let source, let out else {
                    if source == nil && out == nil { break }
                    continue  // keep counting the longer one's frames
                }
                let i = sourceCount - 1
                guard source.width == out.width, source.height == out.height else {
                    throw ScoringError.badMedia(path: outputURL.path, reason: "frame \(i) is \(out.width)x\(out.height), the source's is \(source.width)x\(source.height)")
                }
                var swappedTracks = Set<Int>()
                if let frame = frames[i] {
                    for (f, face) in frame.faces.enumerated() where inShard(output: o, track: face.track, options: options) {
                        if face.swapped { swappedTracks.insert(face.track) }
                        let continues = face.swapped && previous?.swappedTracks.contains(face.track) == true
                        queue.push(FaceJob(frame: frame, faceIndex: f, face: face, source: source, output: out,
                                           previousSource: continues ? previous?.source : nil, previousOutput: continues ? previous?.output : nil))
                    }
                }
                previous = (source, out, swappedTracks)
                progress(collected.count)
            }
        } catch {
            failure = error
        }
        queue.close()
        group.wait()
        if let failure { throw failure }
        let results = collected.results.sorted { ($0.score.frame, $0.score.faceIndex) < ($1.score.frame, $1.score.faceIndex) }
        progress(results.count)

        let faces = results.map(\.score)
        let tracks = temporal(results)
        let targetFrames = output.frames.filter { $0.faces.contains { $0.swapped || $0.reason.hasPrefix("failed") || $0.reason == "target" } }.count
        let swappedFrames = output.frames.filter { $0.faces.contains { $0.swapped } }.count
        let frameTime = (output.frameRate ?? 0) > 0 ? 1 / (output.frameRate ?? 1) : 0.1
        let durationKept: Bool = {
            guard let a = sourceStream.duration, let b = outputStream.duration else { return sourceStream.duration == nil && outputStream.duration == nil }
            return abs(a - b) <= frameTime + 1e-6
        }()
        let score = OutputScore(
            source: sourceURL.path, output: outputURL.path, kind: kind, sourceFrames: sourceCount, outputFrames: outputCount,
            sourceDuration: sourceStream.duration, outputDuration: outputStream.duration, sourceHasAudio: sourceStream.hasAudio,
            outputHasAudio: outputStream.hasAudio, framesKept: sourceCount == outputCount, durationKept: durationKept,
            audioKept: !sourceStream.hasAudio || outputStream.hasAudio, targetFrames: targetFrames, swappedFrames: swappedFrames,
            coverage: targetFrames > 0 ? Double(swappedFrames) / Double(targetFrames) : nil, tracks: tracks, faces: faces)
        let strips = results.filter { $0.score.swapped && $0.strip != nil }
            .sorted { ($1.badness, $0.score.frame, $0.score.faceIndex) < ($0.badness, $1.score.frame, $1.score.faceIndex) }.prefix(options.worst)
            .compactMap { r -> (WorstFace, RGBImage)? in
                guard let strip = r.strip else { return nil }
                return (WorstFace(output: o, frame: r.score.frame, track: r.score.track, badness: r.badness, why: r.why, strip: ""), strip)
            }
        return (score, strips)
    }

    /// Measures one face (on a worker thread). `wantsStrip(badness)`: whether the face may be among the worst
    /// shown (its source | output strip is made only then).
    static func measure(_ job: FaceJob, measurer: FaceMeasurer, context: FaceContext, model: SwapOutput,
                        wantsStrip: (Double) -> Bool) -> FaceResult {
        let face = job.face
        var score = FaceScore(frame: job.frame.index, seconds: job.frame.seconds, faceIndex: job.faceIndex, track: face.track, swapped: face.swapped,
                              reason: face.reason, faceSize: face.faceSize)
        let w = job.source.width, h = job.source.height
        let boxRect = PixelMetrics.Rect(x: face.box.x, y: face.box.y, width: face.box.width, height: face.box.height, frameWidth: w, frameHeight: h)
        guard face.swapped else {
            score.bystanderChange = PixelMetrics.meanAbsoluteChange(job.source, job.output, in: boxRect)
            return FaceResult(score: score, badness: 0, why: "")
        }
        if let ps = job.previousSource, let po = job.previousOutput {
            score.flickerOutput = PixelMetrics.meanLumaChange(po, job.output, in: boxRect)
            score.flickerSource = PixelMetrics.meanLumaChange(ps, job.source, in: boxRect)
        }
        if let polygon = PixelMetrics.polygon(face.maskHull) {
            if let ro = PixelMetrics.seamRatio(job.output, polygon: polygon), let rs = PixelMetrics.seamRatio(job.source, polygon: polygon) {
                score.seam = ro / rs
            }
            if let lo = PixelMetrics.meanSkinLab(job.output, polygon: polygon), let ls = PixelMetrics.meanSkinLab(job.source, polygon: polygon) {
                score.colourDe00 = LabColour.ciede2000(lo, ls)
            }
        }
        let region = FaceMeasurer.region(box: (face.box.x, face.box.y, face.box.width, face.box.height), frameWidth: w, frameHeight: h)
        var result = FaceResult(score: score, badness: 0, why: "")
        guard !region.isEmpty else { return result }
        let origin = SIMD2(Double(region.x0), Double(region.y0))
        let centre = SIMD2(face.box.x + face.box.width / 2, face.box.y + face.box.height / 2)
        let size = max(face.box.width, face.box.height)
        let sourceCrop = job.source.cropped(x: region.x0, y: region.y0, width: region.x1 - region.x0, height: region.y1 - region.y0)
        let outputCrop = job.output.cropped(x: region.x0, y: region.y0, width: region.x1 - region.x0, height: region.y1 - region.y0)
        let sourceReading = measurer.read(crop: sourceCrop, origin: origin, centre: centre, boxSize: size, describe: false)
        let outputReading = measurer.read(crop: outputCrop, origin: origin, centre: centre, boxSize: size, describe: !context.gallery.isEmpty)
        score.sourceDetected = sourceReading != nil
        score.detected = outputReading != nil
        if let s = sourceReading, let t = outputReading {
            let d = t.pose.difference(from: s.pose)
            score.yawError = d.yaw; score.pitchError = d.pitch; score.rollError = d.roll
            score.poseError = (d.yaw * d.yaw + d.pitch * d.pitch + d.roll * d.roll).squareRoot()
            score.expressionError = t.expression.distance(to: s.expression)
        }
        if let descriptor = outputReading?.descriptor {
            let distances = context.gallery.distances(descriptor, rule: .nearest)
            if let nearest = distances.indices.min(by: { distances[$0] < distances[$1] }) {
                score.nearestIdentity = context.gallery.entries[nearest].name
                if let decoder = context.decoder { score.retrieved = nearest == decoder }
            }
            score.idDistanceDecoder = context.decoder.map { distances[$0] }
            score.idDistanceSource = context.source.map { distances[$0] }
        } else if context.decoder != nil {
            score.retrieved = false
        }
        result.score = score
        result.sourcePoints = sourceReading?.points68
        result.outputPoints = outputReading?.points68
        if outputReading == nil {
            result.badness = 10; result.why = "not re-detected"
        } else if let d = score.idDistanceDecoder {
            result.badness = d; result.why = String(format: "distance to %@ %.3f", score.nearestIdentity == nil ? "decoder" : "decoder's person", d)
        } else if let p = score.poseError {
            result.badness = p / 100; result.why = String(format: "pose error %.1f°", p)
        }
        if wantsStrip(result.badness) { result.strip = strip(source: sourceCrop, output: outputCrop) }
        return result
    }

    /// Source | output side by side, each region scaled to `stripSide` px through one `FaceAlignment` (a scale).
    static func strip(source: RGBImage, output: RGBImage) -> RGBImage? {
        let s = Double(stripSide) / Double(max(source.width, source.height, 1))
        guard let alignment = FaceAlignment(matrix: AffineMatrix2x3(a: s, b: 0, tx: 0, c: 0, d: s, ty: 0), size: stripSide) else { return nil }
        var canvas = Canvas(width: 2 * stripSide + 4, height: stripSide)
        canvas.draw(alignment.crop(image: source), x: 0, y: 0)
        canvas.draw(alignment.crop(image: output), x: stripSide + 4, y: 0)
        return canvas.image
    }

    /// Per track: the flicker ratio and landmark jitter over consecutive measured frames.
    static func temporal(_ results: [FaceResult]) -> [TrackScore] {
        var byTrack: [Int: [FaceResult]] = [:]
        for r in results where r.score.swapped { byTrack[r.score.track, default: []].append(r) }
        return byTrack.keys.sorted().compactMap { track in
            guard let rows = byTrack[track]?.sorted(by: { $0.score.frame < $1.score.frame }) else { return nil }
            var outSum = 0.0, srcSum = 0.0, steps = 0
            for r in rows { if let a = r.score.flickerOutput, let b = r.score.flickerSource { outSum += a; srcSum += b; steps += 1 } }
            var flicker: Double?
            if steps > 0 { flicker = srcSum > 1e-9 ? outSum / srcSum : (outSum <= 1e-9 ? 1 : nil) }
            var jitter = 0.0, pairs = 0
            for k in rows.indices.dropFirst() where rows[k].score.frame == rows[k - 1].score.frame + 1 {
                guard let o1 = rows[k].outputPoints, let o0 = rows[k - 1].outputPoints, let s1 = rows[k].sourcePoints, let s0 = rows[k - 1].sourcePoints,
                      o1.count == s1.count, o0.count == o1.count, s0.count == s1.count, rows[k].score.faceSize > 0 else { continue }
                var sum = 0.0
                for p in o1.indices {
                    let d = (o1[p] - o0[p]) - (s1[p] - s0[p])
                    sum += (d * d).sum().squareRoot()
                }
                jitter += sum / Double(o1.count) * jitterFaceSize / rows[k].score.faceSize
                pairs += 1
            }
            return TrackScore(track: track, faces: rows.count, flickerRatio: flicker, landmarkJitter: pairs > 0 ? jitter / Double(pairs) : nil)
        }
    }

    /// Every metric's summary over the run: faces, tracks and outputs as `Metric.per` says.
    public static func aggregate(_ document: ScoreDocument) -> [String: MetricSummary] {
        var values: [String: [Double]] = [:]
        func add(_ name: String, _ value: Double?) { if let value { values[name, default: []].append(value) } }
        func share(_ flag: Bool?) -> Double? { flag.map { $0 ? 1 : 0 } }
        for output in document.outputs {
            for face in output.faces {
                if face.swapped {
                    if document.decoderEnrolled { add("id_retrieval", share(face.retrieved ?? false)) }
                    add("detected", share(face.detected)); add("id_distance_decoder", face.idDistanceDecoder)
                    add("id_distance_source", face.idDistanceSource); add("pose_error", face.poseError)
                    add("yaw_error", face.yawError.map(abs)); add("pitch_error", face.pitchError.map(abs)); add("roll_error", face.rollError.map(abs))
                    add("expression_error", face.expressionError); add("seam", face.seam); add("colour_de00", face.colourDe00)
                } else {
                    add("bystander_change", face.bystanderChange)
                }
            }
            for track in output.tracks { add("flicker_ratio", track.flickerRatio); add("landmark_jitter", track.landmarkJitter) }
            add("coverage", output.coverage)
            add("frames_kept", share(output.framesKept)); add("duration_kept", share(output.durationKept)); add("audio_kept", share(output.audioKept))
        }
        var out: [String: MetricSummary] = [:]
        for (name, list) in values { out[name] = MetricSummary(list) }
        return out
    }
}

/// Faces waiting to be measured: the decoding thread pushes (waiting while `capacity` are queued), measuring
/// threads pop (waiting while none are) until the queue is closed and empty.
final class JobQueue: @unchecked Sendable {
    private var jobs: [FaceJob] = []
    private var head = 0
    private var closed = false
    private let capacity: Int
    private let condition = NSCondition()

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    func push(_ job: FaceJob) {
        condition.lock(); defer { condition.unlock() }
        while jobs.count - head >= capacity && !closed { condition.wait() }
        jobs.append(job)
        condition.broadcast()
    }

    /// The next job; nil once the queue is closed and empty.
    func pop() -> FaceJob? {
        condition.lock(); defer { condition.unlock() }
        while head == jobs.count && !closed { condition.wait() }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head > 64 && head * 2 > jobs.count { jobs.removeFirst(head); head = 0 }
        condition.broadcast()
        return job
    }

    /// No more jobs: measuring threads finish what is queued and stop.
    func close() {
        condition.lock(); closed = true; condition.broadcast(); condition.unlock()
    }
}

/// Measured faces, gathered from the measuring threads, and the highest `keep` badness values of the swapped ones
/// so far (a face less bad than all of them cannot be among the worst shown).
final class ResultCollector: @unchecked Sendable {
    private var list: [FaceResult] = []
    private var worst: [Double] = []
    private let keep: Int
    private let lock = NSLock()

    init(keep: Int) { self.keep = keep }

    func add(_ result: FaceResult) {
        lock.lock(); defer { lock.unlock() }
        list.append(result)
        guard result.score.swapped, result.strip != nil, keep > 0 else { return }
        worst.append(result.badness)
        worst.sort(by: >)
        if worst.count > keep { worst.removeLast() }
    }

    /// Whether a face of this badness may still be among the `keep` worst.
    func admits(_ badness: Double) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return keep > 0 && (worst.count < keep || badness >= worst[worst.count - 1])
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return list.count }
    var results: [FaceResult] { lock.lock(); defer { lock.unlock() }; return list }
}
