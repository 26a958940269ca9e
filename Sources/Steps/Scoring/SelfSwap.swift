import Catalog
import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Models
import Recognition

/// The identity-transform run: a facet.swap manifest whose output IS its source video, with every face found by
/// `FaceAnalyzer` recorded as `swap` records it (box, track, alignment matrix, mask hull) and the tracks of one
/// enrolled person marked swapped onto that same person. Scoring it must give zero pose, expression, jitter and
/// colour error, flicker and seam ratios of exactly 1 and full ID retrieval: `score`'s known-answer run, and the
/// benchmark's input until real swaps exist.
public enum SelfSwap {
    /// One analysed face of a frame, with its track.
    public struct Face: Sendable {
        public var track: Int
        public var located: LocatedFace
    }

    /// The faces of every frame of `video` (the first `limit` frames analysed; later frames listed without faces),
    /// linked into tracks by `FaceTracker` (detect's rules), and with `net`, the dlib descriptor of each track's
    /// first face.
    public static func analyse(_ video: URL, limit: Int = .max, store: ModelStore = ModelStore(), net: FaceRecognitionNet? = nil) throws
        -> (frames: [[Face]], seconds: [Double], info: VideoInfo, descriptors: [Int: [Float]]) {
        let reader = try VideoReader(url: video, options: .reproducible())
        let converter = FrameConverter()
        let analyzer = try FaceAnalyzer(range: .full, settings: FaceAnalyzer.Settings(minScore: 0.5, minSize: 20, maxFaces: 8), store: store)
        let tracker = FaceTracker()
        var frames: [[Face]] = [], seconds: [Double] = []
        var descriptors: [Int: [Float]] = [:]
        while let frame = try reader.nextFrame() {
            seconds.append(frame.seconds)
            guard frames.count < limit else { frames.append([]); continue }
            let image = try converter.rgb(frame)
            let located = analyzer.locate(image, tiles: 1)
            let ids = tracker.update(frame: frames.count, faces: located.map { FaceTracker.Observation($0.detection) })
            var faces: [Face] = []
            for (face, id) in zip(located, ids) {
                faces.append(Face(track: id, located: face))
                if let net, descriptors[id] == nil, let chip = try? FaceEmbedder.chip(fromImage: image, points5: face.points5) {
                    descriptors[id] = try net.embed(chip: chip)
                }
            }
            frames.append(faces)
        }
        return (frames, seconds, reader.info, descriptors)
    }

    static func centre(_ d: FaceDetection) -> SIMD2<Double> { SIMD2(d.x + d.width / 2, d.y + d.height / 2) }
    static func distance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }

    /// How a swap manifest records a face: swapped faces with their alignment (256 px, `face` centering), mask
    /// hull (the mesh's convex hull) and its box.
    public static func record(_ face: LocatedFace, track: Int, swapped: Bool, identity: String?) -> SwapFace {
        let d = face.detection
        let box = BoxItem(x: d.x, y: d.y, width: d.width, height: d.height)
        let size = (d.width * d.height).squareRoot()
        guard swapped else {
            return SwapFace(track: track, box: box, faceSize: size, identity: identity, distance: nil, swapped: false,
                            reason: identity == nil ? "unknown" : "not-target")
        }
        let hull = FaceMask.convexHull(face.mesh.map { SIMD2($0.x, $0.y) })
        let xs = hull.map(\.x), ys = hull.map(\.y)
        let maskBox = BoxItem(x: xs.min() ?? 0, y: ys.min() ?? 0, width: (xs.max() ?? 0) - (xs.min() ?? 0), height: (ys.max() ?? 0) - (ys.min() ?? 0))
        return SwapFace(track: track, box: box, faceSize: size, identity: identity, distance: nil, swapped: true, reason: "target",
                        matrix: FaceAlignment(mesh: face.mesh, size: 256)?.matrix.rows.flatMap { $0 }, maskCoverage: nil, maskBox: maskBox,
                        maskHull: hull.flatMap { [Float($0.x), Float($0.y)] })
    }

    /// Writes the identity-transform manifest of `video` to `manifest`: the tracks whose first face's nearest
    /// enrolled identity is `person` (dlib descriptor, within 0.6) are swapped, every other face is a bystander.
    /// Returns the number of swapped faces.
    @discardableResult
    public static func writeManifest(video: URL, person: String, catalog: Catalog, to manifest: URL, limit: Int = .max,
                                     store: ModelStore = ModelStore()) throws -> Int {
        let gallery = try IdentityGallery(catalog: catalog)
        guard let entry = gallery.entries.firstIndex(where: { $0.name.caseInsensitiveCompare(person) == .orderedSame }) else {
            throw ScoringError.badOption("\(catalog.url.path): '\(person)' is not enrolled")
        }
        let net = try FaceRecognitionNet(store: store)
        let analysed = try analyse(video, limit: limit, store: store, net: net)
        // The person's tracks: those whose first face is nearest to the person among the enrolled, within dlib's 0.6.
        var targets = Set<Int>()
        for (track, descriptor) in analysed.descriptors {
            let distances = gallery.distances(descriptor, rule: .nearest)
            if let nearest = distances.indices.min(by: { distances[$0] < distances[$1] }), nearest == entry, distances[nearest] < 0.6 {
                targets.insert(track)
            }
        }
        guard !targets.isEmpty else { throw ScoringError.badMedia(path: video.path, reason: "no face of \(person) found in the analysed frames") }
        var frames: [SwapFrame] = []
        for (i, faces) in analysed.frames.enumerated() {
            frames.append(SwapFrame(index: i, pts: Int64(i), seconds: analysed.seconds[i], damaged: false, faces: faces.map {
                record($0.located, track: $0.track, swapped: targets.contains($0.track), identity: targets.contains($0.track) ? person : nil)
            }))
        }
        let swapped = frames.reduce(0) { $0 + $1.faces.filter(\.swapped).count }
        let path = ManifestIO.relativePath(of: video, fromManifest: manifest)
        let bytes = Int64((try? FileManager.default.attributesOfItem(atPath: video.path)[.size] as? Int) ?? 0)
        let hash = try SHA256.hex(fileAt: video)
        let output = SwapOutput(
            source: InputFile(path: path, sha256: hash, bytes: bytes, kind: "video"), output: path, outputSha256: hash,
            provenance: path + ".provenance.json", width: analysed.info.displayWidth, height: analysed.info.displayHeight,
            frameRate: analysed.info.frameRate, hasAudio: analysed.info.hasAudio, audioCopied: analysed.info.hasAudio, codec: "h264", crf: nil,
            counts: SwapCounts(frames: frames.count, faces: frames.reduce(0) { $0 + $1.faces.count }, swapped: swapped,
                               framesSwapped: frames.filter { $0.faces.contains { $0.swapped } }.count, failed: 0, damagedFrames: 0),
            frames: frames)
        let model = SwapModelInfo(manifest: "(identity transform: no model)", sha256: hash, weightsSha256: hash, kind: "identity",
                                  direction: "a-to-b", sourceIdentity: person, decoderIdentity: person, inputSize: 0, centering: "face",
                                  cropSize: 256, coverage: 1)
        let swap = SwapManifest(tool: ToolInfo(name: "score", parameters: ["identityTransform": .bool(true)]), createdAt: timestamp(), swapId: nil,
                                model: model, target: SwapTarget(name: person, identityId: gallery.entries[entry].id,
                                                                 consent: gallery.entries[entry].consent, rule: "identity transform"),
                                watermark: SwapWatermark(payload: "", bits: 0, scheme: "none (identity transform: nothing synthetic written)"),
                                outputs: [output])
        try ManifestIO.write(swap, to: manifest)
        return swapped
    }
}
