import Catalog
import FacetCore
import Faces
import Foundation
import Media
import Models
import Recognition

/// One face found in the analysis pass.
struct AnalysedFace: Sendable, Codable {
    var detection: FaceDetection
    /// The 68 dlib-layout landmarks (from FaceMesh) and dlib's 5 points, frame pixels.
    var landmarks68: [SIMD2<Double>]
    var points5: [SIMD2<Double>]
    /// Track id within this input (0 for images).
    var track: Int
    /// √(box width × box height), frame pixels.
    var faceSize: Double
    /// dlib's 128-d descriptor; nil for faces too small to recognise (or pre-filtered input).
    var descriptor: [Float]?
    /// Set by the target decision.
    var identity: String? = nil
    var distance: Double? = nil
    var swap = false
    var reason = "unknown"
}

/// One frame of the analysis pass.
struct AnalysedFrame: Sendable, Codable {
    var index: Int
    /// The stream's own time stamp (its time base): the output keeps it, so video and audio stay on the source's timeline.
    var pts: Int64
    var seconds: Double
    var damaged: Bool
    var faces: [AnalysedFace]
}

/// Pass 1 over a video or an image: every frame's faces found, meshed and tracked exactly as `detect` does
/// (BlazeFace full range, FaceMesh twice, dlib's 5 points, the same tracker and scene-cut rule), and a face
/// descriptor for every face large enough to recognise (cached in the catalog by the chip's content).
final class FrameAnalysis {
    let analyzers: FaceAnalyzerPool
    let embedder: FaceEmbedder
    let catalog: Catalog
    let minFaceSize: Double
    let progress: ProgressSink
    let clock: StageClock
    private var pending: [(frame: Int, face: Int, chip: RGBImage, hash: String)] = []

    init(analyzers: FaceAnalyzerPool, embedder: FaceEmbedder, catalog: Catalog, minFaceSize: Double, progress: ProgressSink, clock: StageClock) {
        self.analyzers = analyzers; self.embedder = embedder; self.catalog = catalog; self.minFaceSize = minFaceSize; self.progress = progress
        self.clock = clock
    }

    /// Frames located together: four per worker (each worker takes the next frame when it is free, so a crowded
    /// frame does not leave the others idle for long; memory holds this many decoded frames).
    var groupSize: Int { 4 * analyzers.workers }

    /// Runs `body` and adds the analyzers' detect, mesh and 5-point time during it to the clock (summed over
    /// the worker threads).
    private func locating<T>(_ body: () -> T) -> T {
        let before = analyzers.times
        let result = body()
        let after = analyzers.times
        clock.add(\.detect, seconds: (after.detect - before.detect) / 1000)
        clock.add(\.mesh, seconds: (after.mesh - before.mesh) / 1000)
        clock.add(\.points5, seconds: (after.points5 - before.points5) / 1000)
        return result
    }

    /// Analyses every frame of `url`. Frames the decoder flags as damaged (or that cannot be converted) are
    /// marked and not analysed. Frames are decoded in order, located a group at a time on the analyzers'
    /// threads, then tracked and described in order: the result equals analysing one frame after another.
    func analyseVideo(_ url: URL, maxPixels: Int, name: String) throws -> (frames: [AnalysedFrame], info: VideoInfo, damage: [String]) {
        let reader = try VideoReader(url: url, options: VideoReaderOptions.reproducible(maxPixels: maxPixels))
        let info = reader.info
        let decoded = PrefetchingReader(reader, depth: groupSize) { _, isCorrupt in !isCorrupt }
        let tracker = FaceTracker()
        var frames: [AnalysedFrame] = []
        var lastThumbnail: [Float]?
        var group: [(entry: AnalysedFrame, image: RGBImage?)] = []
        func analyseGroup() throws {
            let images = group.compactMap(\.image)
            var located = locating { analyzers.locate(images, tiles: 1) }[...]
            for (entry, image) in group {
                var entry = entry
                if let image, let faces = located.popFirst() {
                    let index = entry.index
                    entry.faces = try clock.measure(\.chips) {
                        let small = FaceTracker.thumbnail(image)
                        let cut = lastThumbnail.map { FaceTracker.isSceneCut(previous: $0, current: small) } ?? false
                        lastThumbnail = small
                        let tracks = tracker.update(frame: index, faces: faces.map { FaceTracker.Observation($0.detection) }, isCut: cut)
                        return try self.faces(faces, tracks: tracks, in: image, frame: index)
                    }
                }
                frames.append(entry)
                try flushDescriptors(into: &frames, all: false)
                progress.update(done: frames.count)
            }
            group.removeAll()
        }
        progress.begin("\(name): analysing", total: info.frameCount, unit: "frames")
        while let frame = try clock.measure(\.analysisDecode, { try decoded.next() }) {
            var entry = AnalysedFrame(index: frames.count + group.count, pts: frame.pts, seconds: frame.seconds, damaged: frame.isCorrupt,
                                      faces: [])
            if frame.image == nil { entry.damaged = true }
            group.append((entry, frame.image))
            if group.count >= groupSize { try analyseGroup() }
        }
        try analyseGroup()
        try flushDescriptors(into: &frames, all: true)
        progress.finish()
        return (frames, info, decoded.damage)
    }

    /// Analyses one image (faces are not tracked: each is decided alone).
    func analyseImage(_ image: RGBImage) throws -> AnalysedFrame {
        let located = locating { analyzers.analyzers[0].locate(image, tiles: 1) }
        var frames = [AnalysedFrame(index: 0, pts: 0, seconds: 0, damaged: false, faces: [])]
        frames[0].faces = try faces(located, tracks: located.indices.map { $0 + 1 }, in: image, frame: 0)
        try flushDescriptors(into: &frames, all: true)
        return frames[0]
    }

    private func faces(_ located: [LocatedFace], tracks: [Int], in image: RGBImage, frame: Int) throws -> [AnalysedFace] {
        var out: [AnalysedFace] = []
        for (k, face) in located.enumerated() {
            guard let points68 = LandmarkSubsets.points68(fromMesh: face.mesh) else { continue }
            let size = (face.detection.width * face.detection.height).squareRoot()
            out.append(AnalysedFace(detection: face.detection, landmarks68: points68, points5: face.points5, track: tracks[k],
                                    faceSize: size, descriptor: nil))
            if size >= minFaceSize, face.points5.count == 5, let chip = try? FaceEmbedder.chip(fromImage: image, points5: face.points5) {
                pending.append((frame, out.count - 1, chip, "chip:" + SHA256.hex(Data(chip.pixels))))
            }
        }
        return out
    }

    /// Computes (or takes from the catalog's cache) the descriptors of the chips waiting, a batch at a time.
    private func flushDescriptors(into frames: inout [AnalysedFrame], all: Bool) throws {
        try clock.measure(\.descriptors) { try flushPending(into: &frames, all: all) }
    }

    private func flushPending(into frames: inout [AnalysedFrame], all: Bool) throws {
        while pending.count >= embedder.batchSize || (all && !pending.isEmpty) {
            let batch = Array(pending.prefix(embedder.batchSize))
            pending.removeFirst(batch.count)
            let cached = try catalog.faceEmbeddings(cropHashes: batch.map(\.hash))
            let missing = batch.indices.filter { cached[batch[$0].hash] == nil }
            var computed: [Int: [Float]] = [:]
            if !missing.isEmpty {
                let vectors = try embedder.net.embed(chips: missing.map { batch[$0].chip })
                for (j, i) in missing.enumerated() { computed[i] = vectors[j] }
                try catalog.storeFaceEmbeddings(missing.map { (batch[$0].hash, Float32Blob.pack((computed[$0] ?? []).map { Double($0) })) },
                                                at: timestamp())
            }
            for (i, item) in batch.enumerated() {
                let vector = computed[i] ?? cached[item.hash].map { Float32Blob.unpack($0).map { Float($0) } }
                frames[item.frame].faces[item.face].descriptor = vector
            }
        }
    }
}

/// The analysis pass, built on first use (loading the face models takes a noticeable part of a short swap).
final class DeferredAnalysis {
    private let build: () throws -> FrameAnalysis
    private var built: FrameAnalysis?

    init(_ build: @escaping () throws -> FrameAnalysis) { self.build = build }

    /// The analysis, built now if this is the first call (a failed build is tried again next time).
    func get() throws -> FrameAnalysis {
        if let built { return built }
        let analysis = try build()
        built = analysis
        return analysis
    }
}

/// Decides which faces are the target with the rule `identify label` uses (Recognition's `LabelDecider`, the
/// calibrated open-set rule by default: per-identity thresholds from each identity's own references, a margin
/// to the runner-up, the track's median vote, tracks seen in the same frame as each other's cohort; small faces
/// do not vote). Faces of images are decided alone. Only faces decided as `target` are swapped.
struct TargetDecision {
    let gallery: IdentityGallery
    let target: Int
    let rule: DecisionRule
    let decider: LabelDecider

    init(gallery: IdentityGallery, target: Int, rule: DecisionRule, threshold: Double?, minFaceSize: Double) {
        self.gallery = gallery
        self.target = target
        self.rule = rule
        decider = LabelDecider(gallery: gallery, rule: rule, threshold: threshold, minFaceSize: minFaceSize)
    }

    var targetName: String { gallery.entries[target].name }

    /// The track of at least `trackFaces` recognisable faces whose median distance to the target is smallest,
    /// among the tracks not decided as someone else and within dlib's same-person distance
    /// (`LabelDecider.nearestUnnamedTrack`): where a target left unfound most likely is (the same person in harder
    /// conditions than the references, or a look-alike: the user has to look).
    struct NearestTrack: Equatable {
        var track: Int
        var faces: Int
        var firstFrame: Int
        var lastFrame: Int
        /// Median distance to the target, and the most a track's median may be to be named the target.
        var median: Double
        var limit: Double
    }

    /// Decides every face (see the type's comment) and returns the track nearest the target that was not named
    /// (nil when a track was named the target, or none is near enough with enough recognisable faces).
    @discardableResult
    func apply(to frames: inout [AnalysedFrame], tracked: Bool) -> NearestTrack? {
        var members: [Int: [(Int, Int)]] = [:]
        for f in frames.indices { for k in frames[f].faces.indices { members[frames[f].faces[k].track, default: []].append((f, k)) } }
        let tracks = members.keys.sorted()
        let faces = tracks.map { members[$0] ?? [] }
        let distances = faces.map { list in list.map { f, k -> [Double] in
            guard let d = frames[f].faces[k].descriptor else { return [Double](repeating: .infinity, count: gallery.entries.count) }
            return gallery.distances(d, rule: rule.distance)
        } }
        let sizes = faces.map { list in list.map { frames[$0.0].faces[$0.1].faceSize } }
        var decisions: [[LabelDecider.Decision]]
        var nearest: NearestTrack?
        if tracked {
            // Tracks seen in one frame are different people.
            let framesOf = faces.map { Set($0.map(\.0)) }
            let votes = decider.decideVideo(distances, faceSizes: sizes, overlaps: { a, b in !framesOf[a].isDisjoint(with: framesOf[b]) })
            decisions = votes.map(\.faces)
            if !votes.contains(where: { $0.vote.identity == target }),
               let near = decider.nearestUnnamedTrack(to: target, distances: distances, faceSizes: sizes, votes: votes.map(\.vote)) {
                let list = faces[near.track]
                nearest = NearestTrack(track: tracks[near.track], faces: list.count, firstFrame: list.map(\.0).min() ?? 0,
                                       lastFrame: list.map(\.0).max() ?? 0, median: near.median, limit: near.limit)
            }
        } else {
            decisions = faces.indices.map { t in faces[t].indices.map { decider.decideFace(distances[t][$0], faceSize: sizes[t][$0]) } }
        }
        for (t, list) in faces.enumerated() {
            for (j, (f, k)) in list.enumerated() {
                let decision = decisions[t][j]
                var face = frames[f].faces[k]
                face.identity = decision.identity.map { gallery.entries[$0].name }
                face.distance = decision.distance ?? decision.nearestDistance
                if frames[f].damaged {
                    face.swap = false; face.reason = "damaged-frame"
                } else if decision.identity == target {
                    face.swap = true; face.reason = "target"
                } else if decision.identity != nil {
                    face.swap = false; face.reason = "not-target"
                } else if face.descriptor == nil {
                    face.swap = false; face.reason = "small"
                } else {
                    face.swap = false; face.reason = "unknown"
                }
                frames[f].faces[k] = face
            }
        }
        return nearest
    }
}
