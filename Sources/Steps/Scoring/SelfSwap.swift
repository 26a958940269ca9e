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
    /// tracked by nearest box centre to the previous frame's faces (farther than half a box: a new track).
    public static func analyse(_ video: URL, limit: Int = .max, store: ModelStore = ModelStore()) throws
        -> (frames: [[Face]], seconds: [Double], info: VideoInfo, first: RGBImage?) {
        let reader = try VideoReader(url: video)
        let converter = FrameConverter()
        let analyzer = try FaceAnalyzer(range: .full, settings: FaceAnalyzer.Settings(minScore: 0.5, minSize: 20, maxFaces: 8), store: store)
        var frames: [[Face]] = [], seconds: [Double] = []
        var previous: [Face] = []
        var nextTrack = 0
        var first: RGBImage?
        while let frame = try reader.nextFrame() {
            seconds.append(frame.seconds)
            guard frames.count < limit else { frames.append([]); continue }
            let image = try converter.rgb(frame)
            if first == nil { first = image }
            var faces: [Face] = []
            for located in analyzer.locate(image, tiles: 1) {
                let c = centre(located.detection)
                let free = previous.filter { p in !faces.contains { $0.track == p.track } }
                if let near = free.min(by: { distance(centre($0.located.detection), c) < distance(centre($1.located.detection), c) }),
                   distance(centre(near.located.detection), c) < 0.5 * located.detection.width {
                    faces.append(Face(track: near.track, located: located))
                } else {
                    faces.append(Face(track: nextTrack, located: located)); nextTrack += 1
                }
            }
            frames.append(faces)
            previous = faces
        }
        return (frames, seconds, reader.info, first)
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

    /// Writes the identity-transform manifest of `video` to `manifest`: the track nearest `person` in the first
    /// analysed frame (dlib descriptor against the catalog's references) is swapped, every other face is a
    /// bystander. Returns the number of swapped faces.
    @discardableResult
    public static func writeManifest(video: URL, person: String, catalog: Catalog, to manifest: URL, limit: Int = .max,
                                     store: ModelStore = ModelStore()) throws -> Int {
        let gallery = try IdentityGallery(catalog: catalog)
        guard let entry = gallery.entries.firstIndex(where: { $0.name.caseInsensitiveCompare(person) == .orderedSame }) else {
            throw ScoringError.badOption("\(catalog.url.path): '\(person)' is not enrolled")
        }
        let analysed = try analyse(video, limit: limit, store: store)
        guard let image = analysed.first, let firstFaces = analysed.frames.first(where: { !$0.isEmpty }) else {
            throw ScoringError.badMedia(path: video.path, reason: "no face in the analysed frames")
        }
        let net = try FaceRecognitionNet(store: store)
        var best: (track: Int, distance: Double)?
        for face in firstFaces {
            let chip = try FaceEmbedder.chip(fromImage: image, points5: face.located.points5)
            let d = gallery.distances(try net.embed(chip: chip), rule: .nearest)[entry]
            if d < (best?.distance ?? .infinity) { best = (face.track, d) }
        }
        guard let target = best?.track else { throw ScoringError.badMedia(path: video.path, reason: "no face to swap") }
        var frames: [SwapFrame] = []
        for (i, faces) in analysed.frames.enumerated() {
            frames.append(SwapFrame(index: i, pts: Int64(i), seconds: analysed.seconds[i], damaged: false, faces: faces.map {
                record($0.located, track: $0.track, swapped: $0.track == target, identity: $0.track == target ? person : nil)
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
