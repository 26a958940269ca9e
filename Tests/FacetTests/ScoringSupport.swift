import Catalog
import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Models
import Recognition
import Scoring
import XCTest

/// Builds the inputs `score` reads until `swap` writes them: facet.swap manifests over real media, with every
/// face found by `FaceAnalyzer`, its box, track, alignment matrix and mask hull, as swap records them.
enum SwapFixture {
    static func analyzer() throws -> FaceAnalyzer {
        try FaceAnalyzer(range: .full, settings: FaceAnalyzer.Settings(minScore: 0.5, minSize: 20, maxFaces: 4), store: ModelStore())
    }

    static func centre(_ d: FaceDetection) -> SIMD2<Double> { SIMD2(d.x + d.width / 2, d.y + d.height / 2) }
    static func distance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }

    /// The face of a still image with the largest box.
    static func analyseImage(_ image: RGBImage) throws -> LocatedFace? {
        try analyzer().locate(image, tiles: 1).max { $0.detection.width < $1.detection.width }
    }

    /// The swap manifest's record of one face (as `SelfSwap` records it).
    static func swapFace(_ face: LocatedFace, track: Int, swapped: Bool, identity: String?) -> SwapFace {
        SelfSwap.record(face, track: track, swapped: swapped, identity: identity)
    }

    static func model(source: String, decoder: String) -> SwapModelInfo {
        SwapModelInfo(manifest: "model.json", sha256: String(repeating: "a", count: 64), weightsSha256: String(repeating: "b", count: 64), kind: "lite",
                      direction: "a-to-b", sourceIdentity: source, decoderIdentity: decoder, inputSize: 64, centering: "face", cropSize: 256, coverage: 0.8)
    }

    /// A facet.swap manifest at `manifest` with one output per entry.
    static func write(_ manifest: URL, model: SwapModelInfo, target: String, outputs: [SwapOutput]) throws {
        let swap = SwapManifest(tool: ToolInfo(name: "swap-fixture", parameters: [:]), createdAt: timestamp(), swapId: nil, model: model,
                                target: SwapTarget(name: target, identityId: nil, consent: "test fixture", rule: "test"),
                                watermark: SwapWatermark(payload: "00000000", bits: 32, scheme: "none (test fixture)"), outputs: outputs)
        try ManifestIO.write(swap, to: manifest)
    }

    /// One output entry: `source` and `output` given relative to the manifest's folder.
    static func output(source: URL, output: URL, manifest: URL, kind: String, width: Int, height: Int, fps: Double?, hasAudio: Bool,
                       frames: [SwapFrame]) throws -> SwapOutput {
        let faces = frames.reduce(0) { $0 + $1.faces.count }, swapped = frames.reduce(0) { $0 + $1.faces.filter(\.swapped).count }
        return SwapOutput(
            source: InputFile(path: ManifestIO.relativePath(of: source, fromManifest: manifest), sha256: try SHA256.hex(fileAt: source),
                              bytes: Int64((try? FileManager.default.attributesOfItem(atPath: source.path)[.size] as? Int) ?? 0), kind: kind),
            output: ManifestIO.relativePath(of: output, fromManifest: manifest), outputSha256: try SHA256.hex(fileAt: output),
            provenance: ManifestIO.relativePath(of: output, fromManifest: manifest) + ".provenance.json", width: width, height: height,
            frameRate: fps, hasAudio: hasAudio, audioCopied: hasAudio, codec: kind == "image" ? "png" : "h264", crf: nil,
            counts: SwapCounts(frames: frames.count, faces: faces, swapped: swapped, framesSwapped: frames.filter { $0.faces.contains { $0.swapped } }.count,
                               failed: 0, damagedFrames: 0),
            frames: frames)
    }

    /// Enrolls `name` in `catalog` from face images (their largest face's dlib descriptor).
    static func enroll(_ name: String, images: [URL], catalog: Catalog) throws {
        let net = try FaceRecognitionNet(store: ModelStore())
        var references: [IdentityReferenceRecord] = []
        for url in images {
            let image = try ImageDecoder.decode(fileAt: url)
            guard let face = try analyseImage(image) else { throw XCTSkip("no face in \(url.path)") }
            let descriptor = try net.embed(chip: try FaceEmbedder.chip(fromImage: image, points5: face.points5))
            references.append(IdentityReferenceRecord(identityId: 0, origin: "image", path: url.path, sha256: try SHA256.hex(fileAt: url), faceId: nil,
                                                      embedding: IdentityGallery.blob(descriptor), addedAt: timestamp()))
        }
        _ = try catalog.enroll(name: name, consent: "test fixture", references: references, at: timestamp()) { blobs in
            IdentityGallery.blob(IdentityGallery.mean(blobs.map(IdentityGallery.floats)))
        }
    }

    static let miranda = TestPaths.repo.appendingPathComponent("Datasets/samples/lin-manuel-miranda.jpg")
    static func lfw(_ name: String, _ n: Int) -> URL {
        TestPaths.faces.appendingPathComponent("identities/\(name)/\(name)_\(String(format: "%04d", n)).jpg")
    }

    /// A catalog with Lin-Manuel Miranda (the sample photo) and two LFW people enrolled.
    static func gallery(at url: URL) throws -> Catalog {
        let catalog = try Catalog(url: url)
        try enroll("Lin-Manuel Miranda", images: [miranda], catalog: catalog)
        try enroll("Tony Blair", images: [lfw("Tony_Blair", 1), lfw("Tony_Blair", 2)], catalog: catalog)
        try enroll("Colin Powell", images: [lfw("Colin_Powell", 1), lfw("Colin_Powell", 2)], catalog: catalog)
        return catalog
    }
}

extension XCTestCase {
    /// Runs the built `score run --json` on one manifest with `dir` as the workspace and returns its result.
    func scoreWithCLI(_ manifest: URL, workspace dir: URL, name: String, file: StaticString = #filePath, line: UInt = #line) throws -> ScoreDocument {
        let result = try runProcess(try TestPaths.executable("score"), ["run", "--workspace", dir.path, "--output",
                                                                           dir.appendingPathComponent("Scores/\(name)").path, "--json", "-q", manifest.path],
                                    timeout: 300)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        struct Summary: Decodable { var documents: [ScoreDocument] }
        guard let document = try JSONDecoder().decode(Summary.self, from: result.stdoutData).documents.first else {
            throw XCTSkip("no result")
        }
        return document
    }
}
