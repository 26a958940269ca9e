import Catalog
import FacetCore
import Faces
import Foundation
import Media
import Models

/// The analysis of one unit's frames for one detection: resumes after the frames already recorded,
/// tracks, smooths, aligns, writes crops in the background and records finished frames every ~2 s.
final class UnitRun {
    /// A frame analysed (or replayed from the catalog) that is kept while smoothing may still need it.
    struct Entry {
        var sequence: Int, frameNumber: Int, pts: Int64, seconds: Double
        var width: Int, height: Int
        var sceneCut: Bool
        /// Nil once finished, and for frames replayed from the catalog.
        var image: RGBImage?
        var faces: [LocatedFace]
        var tracks: [Int]
        var finished: Bool
    }

    /// A finished frame waiting for its crops to reach the disk before it is recorded.
    struct PendingFrame {
        var frame: DetectionFrameRecord
        var faces: [FaceRecord]
        var tracks: [Int]
    }

    let detector: FaceDetector
    let detectionId: Int64
    let sourceId: Int64
    let folder: String
    let tiles: Int
    let frameIds: [Int: Int64]
    let tracker = FaceTracker()
    let smoother: MeshSmoother
    var window: [Entry] = []
    var pending: [PendingFrame] = []
    var usedNames = Set<String>()
    var damage: [String] = []
    var framesSeen = 0

    init(detector: FaceDetector, detectionId: Int64, sourceId: Int64, folder: String, tiles: Int, frameIds: [Int: Int64]) {
        self.detector = detector
        self.detectionId = detectionId
        self.sourceId = sourceId
        self.folder = folder
        self.tiles = tiles
        self.frameIds = frameIds
        smoother = MeshSmoother(radius: detector.options.smoothRadius)
    }

    var options: DetectOptions { detector.options }
    var catalog: Catalog { detector.catalog }

    func process(_ feed: inout FrameFeed, name: String) throws {
        let done = Dictionary(try catalog.detectionFrames(detectionId: detectionId).map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        let stored = Dictionary(grouping: try catalog.faces(detectionId: detectionId), by: \.sequence)
        let numbers = try catalog.trackNumbers(detectionId: detectionId)
        let pipeline = EncodePipeline(format: options.format, quality: options.quality, workers: options.threads)
        defer { pipeline.drain() }
        var lastThumbnail: [Float]?
        var lastReplayed: FeedFrame?
        var lastFlush = Date()
        if !done.isEmpty { detector.progress.log("\(name): resuming after \(done.count) frames already done") }
        detector.progress.begin(name, total: feed.expectedCount, unit: "frames")
        // Frames to analyse are located a group at a time, one analyzer per core (`FaceAnalyzerPool`), then
        // tracked, smoothed and finished in order: the same faces and tracks as one frame after another.
        var group: [Analysing] = []
        func analyseGroup() throws {
            guard !group.isEmpty else { return }
            let located = detector.analyzers.locate(group.map(\.image), tiles: tiles)
            for (item, faces) in zip(group, located) { try add(item, faces: faces, pipeline: pipeline, lastFlush: &lastFlush) }
            group.removeAll()
        }
        while let frame = try feed.next() {
            framesSeen += 1
            detector.progress.update(done: frame.sequence + 1)
            if let record = done[frame.sequence] {
                try analyseGroup()
                replay(record, faces: stored[frame.sequence] ?? [], numbers: numbers)
                lastThumbnail = frame.decoded.map(thumbnail)
                lastReplayed = frame
                continue
            }
            let image: RGBImage
            do { image = try feed.image(of: frame) } catch let error as MediaError {
                damage.append("skipped frame \(frame.frameNumber): \(error.description)")
                continue
            }
            let small = thumbnail(image)
            if lastThumbnail == nil, let previous = lastReplayed, let pixels = try? feed.image(of: previous) { lastThumbnail = thumbnail(pixels) }
            let cut = lastThumbnail.map { FaceTracker.isSceneCut(previous: $0, current: small) } ?? false
            lastThumbnail = small
            lastReplayed = nil
            group.append(Analysing(sequence: frame.sequence, frameNumber: frame.frameNumber, pts: frame.pts, seconds: frame.seconds,
                                   image: image, sceneCut: cut))
            if group.count >= 4 * detector.analyzers.workers { try analyseGroup() }
        }
        try analyseGroup()
        try finishReady(pipeline: pipeline, all: true)
        try flush(pipeline)
        detector.writeMilliseconds += pipeline.busyMilliseconds
        detector.progress.finish()
    }

    /// A decoded frame waiting for its group to be located.
    struct Analysing {
        var sequence: Int, frameNumber: Int, pts: Int64, seconds: Double
        var image: RGBImage
        var sceneCut: Bool
    }

    /// Tracks a located frame, adds it to the smoothing window, finishes what is ready and records every ~2 s.
    func add(_ item: Analysing, faces: [LocatedFace], pipeline: EncodePipeline, lastFlush: inout Date) throws {
        let tracks = tracker.update(frame: item.sequence, faces: faces.map { FaceTracker.Observation($0.detection) }, isCut: item.sceneCut)
        window.append(Entry(sequence: item.sequence, frameNumber: item.frameNumber, pts: item.pts, seconds: item.seconds,
                            width: item.image.width, height: item.image.height, sceneCut: item.sceneCut, image: item.image, faces: faces,
                            tracks: tracks, finished: false))
        detector.analysedThisRun += 1
        try finishReady(pipeline: pipeline, all: false)
        if Date().timeIntervalSince(lastFlush) > 2 {
            try flush(pipeline)
            lastFlush = Date()
        }
    }

    /// Feeds a frame recorded by an earlier run to the tracker and the smoothing window, without analysing it.
    func replay(_ record: DetectionFrameRecord, faces: [FaceRecord], numbers: [Int64: Int]) {
        let located = faces.map { face -> LocatedFace in
            let keypoints = face.keypointPairs.map { Point2($0.x, $0.y) }
            let detection = FaceDetection(x: face.boxX, y: face.boxY, width: face.boxWidth, height: face.boxHeight, score: face.score,
                                          keypoints: keypoints)
            return LocatedFace(detection: detection, rotation: face.rotation, mesh: face.meshPoints, presence: face.presence,
                               points5: face.points5Pairs)
        }
        let tracks = tracker.update(frame: record.sequence, faces: located.map { FaceTracker.Observation($0.detection) }, isCut: record.sceneCut)
        let storedTracks = faces.map { numbers[$0.trackId] ?? -1 }
        window.append(Entry(sequence: record.sequence, frameNumber: record.frameNumber, pts: record.pts, seconds: record.seconds,
                            width: record.width, height: record.height, sceneCut: record.sceneCut, image: nil, faces: located,
                            tracks: storedTracks.contains(-1) ? tracks : storedTracks, finished: true))
        trimWindow()
    }

    /// Finishes every frame that has `smoothRadius` analysed frames after it (all of them when `all`).
    func finishReady(pipeline: EncodePipeline, all: Bool) throws {
        let radius = options.smoothRadius
        let meshes = window.map { entry in
            Dictionary(zip(entry.tracks, entry.faces.map(\.mesh)), uniquingKeysWith: { a, _ in a })
        }
        for index in window.indices where !window[index].finished && (all || window.count - 1 - index >= radius) {
            try finish(index, meshes: meshes, pipeline: pipeline)
        }
        trimWindow()
    }

    /// Keeps only the finished frames that smoothing may still look back at.
    func trimWindow() {
        let firstOpen = window.firstIndex { !$0.finished } ?? window.count
        let drop = max(0, firstOpen - options.smoothRadius)
        if drop > 0 { window.removeFirst(drop) }
    }

    func finish(_ index: Int, meshes: [[Int: [SIMD3<Double>]]], pipeline: EncodePipeline) throws {
        let entry = window[index]
        guard let image = entry.image else { return }
        // align: this thread's CPU time (its cost, like the analyzers' stages); wait: wall time blocked on the writers.
        let start = threadCPUMilliseconds()
        var records: [FaceRecord] = []
        var tracks: [Int] = []
        var waited = 0.0
        /// Hands a crop to the writers; time blocked there (they are behind) is `wait`, not `align`.
        func submit(_ job: EncodeJob) throws {
            let before = DispatchTime.now()
            try pipeline.submit(job)
            waited += milliseconds(since: before)
        }
        for (k, located) in entry.faces.enumerated() {
            var face = located
            if let smoothed = smoother.smoothed(track: entry.tracks[k], at: index, in: meshes) { face.mesh = smoothed }
            guard let finished = detector.finisher.finish(face, in: image) else { continue }
            let faceIndex = records.count
            var base = "\(folder)/\(zeroPadded(entry.frameNumber, width: 6))_\(faceIndex)"
            if usedNames.contains(base) { base += "-\(entry.pts)" }
            usedNames.insert(base)
            let cropPath = "\(base).\(options.format.fileExtension)"
            let maskPath = finished.mask.map { _ in "\(base)_mask.png" }
            try submit(EncodeJob(pixels: .image(finished.crop), destination: options.workspace.appendingPathComponent(cropPath, isDirectory: false),
                                 relativePath: cropPath))
            if let mask = finished.mask, let maskPath {
                try submit(EncodeJob(pixels: .image(mask.grayImage()), destination: options.workspace.appendingPathComponent(maskPath, isDirectory: false),
                                     relativePath: maskPath))
            }
            records.append(record(finished, sequence: entry.sequence, frameNumber: entry.frameNumber, pts: entry.pts, seconds: entry.seconds,
                                  faceIndex: faceIndex, cropPath: cropPath, maskPath: maskPath))
            tracks.append(entry.tracks[k])
        }
        let frame = DetectionFrameRecord(detectionId: detectionId, sequence: entry.sequence, frameNumber: entry.frameNumber, pts: entry.pts,
                                         seconds: entry.seconds, frameId: frameIds[entry.sequence], width: entry.width, height: entry.height,
                                         sceneCut: entry.sceneCut, faces: records.count)
        pending.append(PendingFrame(frame: frame, faces: records, tracks: tracks))
        window[index].finished = true
        window[index].image = nil
        detector.analyzers.analyzers[0].addTime(align: threadCPUMilliseconds() - start, wait: waited)
    }

    func record(_ f: FinishedFace, sequence: Int, frameNumber: Int, pts: Int64, seconds: Double, faceIndex: Int, cropPath: String,
                maskPath: String?) -> FaceRecord {
        let d = f.located.detection
        let matrix = f.alignment.matrix.jsonText
        return FaceRecord(
            detectionId: detectionId, sourceId: sourceId, frameId: frameIds[sequence], sequence: sequence, frameNumber: frameNumber, pts: pts,
            seconds: seconds, faceIndex: faceIndex, trackId: 0, cropPath: cropPath, cropSHA256: "", maskPath: maskPath,
            boxX: d.x, boxY: d.y, boxWidth: d.width, boxHeight: d.height, score: d.score, presence: f.located.presence,
            faceSize: (max(d.width, 0) * max(d.height, 0)).squareRoot(), yaw: f.pose.yaw, pitch: f.pose.pitch, roll: f.pose.roll,
            mouthOpenness: f.expression.mouthOpenness, leftEyeOpenness: f.expression.leftEyeOpenness,
            rightEyeOpenness: f.expression.rightEyeOpenness, smileWidth: f.expression.smileWidth, browRaise: f.expression.browRaise,
            sharpness: f.quality.sharpness, brightness: f.quality.brightness, contrast: f.quality.contrast, rotation: f.located.rotation,
            matrix: matrix, keypoints: Float32Blob.pack(d.keypoints.flatMap { [$0.x, $0.y] }),
            mesh: Float32Blob.pack(f.located.mesh.flatMap { [$0.x, $0.y, $0.z] }),
            points5: Float32Blob.pack(f.located.points5.flatMap { [$0.x, $0.y] }), createdAt: timestamp())
    }

    /// Waits for the crops in flight, then records the finished frames and their faces in one transaction.
    func flush(_ pipeline: EncodePipeline) throws {
        guard !pending.isEmpty else { return }
        try pipeline.waitAll()
        let written = Dictionary(pipeline.takeCompleted().map { ($0.relativePath, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        var frames: [DetectionFrameRecord] = [], faces: [FaceRecord] = [], tracks: [Int] = []
        for item in pending {
            frames.append(item.frame)
            for (face, track) in zip(item.faces, item.tracks) {
                var row = face
                row.cropSHA256 = written[face.cropPath] ?? ""
                faces.append(row)
                tracks.append(track)
            }
        }
        try catalog.recordDetectedFrames(frames, faces: faces, trackNumbers: tracks, detectionId: detectionId)
        pending.removeAll()
    }
}

extension FaceRecord {
    /// The 468 mesh points from the `mesh` blob.
    var meshPoints: [SIMD3<Double>] {
        let m = Float32Blob.unpack(mesh)
        return stride(from: 0, to: m.count - 2, by: 3).map { SIMD3(m[$0], m[$0 + 1], m[$0 + 2]) }
    }

    /// The detector's keypoints from the `keypoints` blob.
    var keypointPairs: [SIMD2<Double>] { Self.pairs(Float32Blob.unpack(keypoints)) }

    /// dlib's 5 points from the `points5` blob.
    var points5Pairs: [SIMD2<Double>] { Self.pairs(Float32Blob.unpack(points5)) }

    private static func pairs(_ v: [Double]) -> [SIMD2<Double>] {
        stride(from: 0, to: v.count - 1, by: 2).map { SIMD2(v[$0], v[$0 + 1]) }
    }
}
