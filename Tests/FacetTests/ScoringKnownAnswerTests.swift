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

/// Every `score` metric against a known answer, on real faces: a clip scored against itself, a face turned in
/// the image plane by a known angle, injected brightness flicker, a hard-edged against a feathered paste.
final class ScoringKnownAnswerTests: XCTestCase {
    func options(_ dir: URL, _ name: String) -> ScoreOptions {
        ScoreOptions(workspace: dir, outputFolder: dir.appendingPathComponent("Scores/\(name)"), threads: 2)
    }

    /// (a) two_people_stage.mp4 scored against itself: Miranda's track "swapped" onto itself, the other person a
    /// bystander. Flicker, seam, colour and bystander change are exactly neutral, pose, expression and jitter to
    /// float noise; Miranda is retrieved.
    func testIdentityTransformIsNeutral() throws {
        let clip = TestPaths.repo.appendingPathComponent("Datasets/samples/two_people_stage.mp4")
        let dir = try makeTemporaryDirectory()
        let catalog = try SwapFixture.gallery(at: dir.appendingPathComponent("catalog.sqlite"))
        let manifest = dir.appendingPathComponent("swap-identity.json")
        let written = try runProcess(try TestPaths.executable("score"), ["identity-run", "--workspace", dir.path, "--person", "Lin-Manuel Miranda",
                                                                         "--output", manifest.path, clip.path], timeout: 300)
        XCTAssertEqual(written.status, 0, written.stderr)
        let document = try scoreWithCLI(manifest, workspace: dir, name: "identity")
        let a = document.aggregates
        let swapped = document.outputs[0].faces.filter(\.swapped)
        XCTAssertGreaterThanOrEqual(swapped.count, 100, "Miranda's tracks")
        XCTAssertEqual(a["detected"]?.mean, 1)
        XCTAssertEqual(a["id_retrieval"]?.mean, 1, "Miranda's own face must be retrieved as Miranda")
        XCTAssertLessThan(a["id_distance_decoder"]?.mean ?? 9, 0.6)
        XCTAssertGreaterThan(a["id_distance_source"]?.count ?? 0, 0)
        // The same pixels give the same pixel measures exactly; the networks agree with themselves to float noise.
        for name in ["colour_de00", "bystander_change"] { XCTAssertEqual(a[name]?.max ?? 9, 0, accuracy: 1e-9, name) }
        XCTAssertLessThan(a["pose_error"]?.max ?? 9, 0.05)
        XCTAssertLessThan(a["expression_error"]?.max ?? 9, 1e-3)
        XCTAssertLessThan(a["landmark_jitter"]?.max ?? 9, 0.01)
        XCTAssertEqual(a["flicker_ratio"]?.mean ?? 0, 1, accuracy: 1e-9)
        XCTAssertEqual(a["seam"]?.mean ?? 0, 1, accuracy: 1e-9)
        XCTAssertEqual(a["coverage"]?.mean, 1)
        XCTAssertEqual(a["frames_kept"]?.mean, 1)
        XCTAssertEqual(a["audio_kept"]?.mean, 1)
        XCTAssertEqual(a["duration_kept"]?.mean, 1)
        XCTAssertEqual(document.outputs[0].outputFrames, 275)
        XCTAssertGreaterThan(a["bystander_change"]?.count ?? 0, 30, "the other person is scored as a bystander")
        // Scores reach the catalog.
        let rows = try catalog.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_scores WHERE swapped = 1") ?? 0 }
        XCTAssertEqual(rows, swapped.count)
        // Unchanged run: served from the cache.
        let again = try RunScorer.run(manifest: manifest, options: options(dir, "identity"), catalog: catalog)
        XCTAssertTrue(again.cached)
        XCTAssertEqual(again.document.aggregates, document.aggregates)
    }

    /// A still face and the same face turned by a known angle in the image plane.
    func rotated(_ image: RGBImage, about centre: SIMD2<Double>, degrees: Double) -> RGBImage? {
        let t = degrees * .pi / 180, c = cos(t), s = sin(t)
        // Output point = R (p − centre) + centre; positive angles turn the content clockwise on screen (y down).
        let m = AffineMatrix2x3(a: c, b: -s, tx: centre.x - c * centre.x + s * centre.y, c: s, d: c, ty: centre.y - s * centre.x - c * centre.y)
        let side = min(image.width, image.height)
        return FaceAlignment(matrix: m, size: side)?.crop(image: image)
    }

    /// (b) A face turned in-plane by θ reads a roll error of θ (FaceMesh's precision: within 2°), little yaw or pitch.
    func testInPlaneRotationGivesThatRoll() throws {
        let dir = try makeTemporaryDirectory()
        let photo = try ImageDecoder.decode(fileAt: TestPaths.image("obama.jpg"))
        let side = min(photo.width, photo.height)
        let square = photo.cropped(x: (photo.width - side) / 2, y: (photo.height - side) / 2, width: side, height: side)
        guard let face = try SwapFixture.analyseImage(square) else { return XCTFail("no face in obama.jpg") }
        let encoder = try ImageEncoder(format: .png)
        let sourceURL = dir.appendingPathComponent("source.png")
        try encoder.encode(square).write(to: sourceURL)
        for degrees in [15.0, -25.0] {
            guard let turned = rotated(square, about: SwapFixture.centre(face.detection), degrees: degrees) else { return XCTFail("singular") }
            let outURL = dir.appendingPathComponent("turned\(Int(degrees)).png")
            try encoder.encode(turned).write(to: outURL)
            let manifest = dir.appendingPathComponent("swap-roll\(Int(degrees)).json")
            let frame = SwapFrame(index: 0, pts: 0, seconds: 0, damaged: false, faces: [SwapFixture.swapFace(face, track: 0, swapped: true, identity: "x")])
            try SwapFixture.write(manifest, model: SwapFixture.model(source: "x", decoder: "y"), target: "x", outputs: [
                try SwapFixture.output(source: sourceURL, output: outURL, manifest: manifest, kind: "image", width: side, height: side, fps: nil,
                                       hasAudio: false, frames: [frame])])
            let scored = try scoreWithCLI(manifest, workspace: dir, name: "roll\(Int(degrees))").outputs[0].faces[0]
            XCTAssertEqual(scored.detected, true)
            XCTAssertEqual(scored.rollError ?? 99, degrees, accuracy: 2, "roll error for a \(degrees)° turn")
            XCTAssertLessThan(abs(scored.yawError ?? 99), 4)
            XCTAssertLessThan(abs(scored.pitchError ?? 99), 4)
            XCTAssertLessThan(scored.expressionError ?? 9, 0.1, "FaceMesh reads nearly the same expression on a turned face")
        }
    }

    /// Writes the first `frames` frames of `clip`, every odd frame brightened and every even one darkened by
    /// `amplitude` (0…255), as H.264 at CRF 10.
    func writeFlicker(_ clip: URL, to url: URL, frames: Int, amplitude: Int) throws {
        let reader = try VideoReader(url: clip)
        let converter = FrameConverter()
        var writer: VideoWriter?
        var i = 0
        while i < frames, let frame = try reader.nextFrame() {
            var image = try converter.rgb(frame)
            let delta = i % 2 == 0 ? -amplitude : amplitude
            for k in image.pixels.indices { image.pixels[k] = UInt8(max(0, min(255, Int(image.pixels[k]) + delta))) }
            if writer == nil {
                writer = try VideoWriter(url: url, options: VideoWriterOptions(width: image.width, height: image.height, crf: 10, preset: "veryfast"))
            }
            try writer?.write(image)
            i += 1
        }
        try writer?.finish()
    }

    /// (c) Brightness flicker of ±k luma levels gives a flicker ratio above 1 that grows with k.
    func testInjectedFlickerRaisesTheRatioInProportion() throws {
        try XCTSkipUnless(VideoWriter.h264Available || ProcessInfo.processInfo.environment["CI"] == "true", "no H.264 encoder")
        let dir = try makeTemporaryDirectory()
        let clip = TestPaths.video("d18.mp4")
        try requireSharedMedia(clip)
        let frames = 30
        var ratios: [Int: Double] = [:]
        let source = dir.appendingPathComponent("flicker0.mp4")
        try writeFlicker(clip, to: source, frames: frames, amplitude: 0)
        // d18 is a talking head: the first frame's face record (box, hull) stands for every frame.
        let analysed = try SelfSwap.analyse(source, limit: 1)
        guard let face = analysed.frames.first?.first else { return XCTFail("no face in d18.mp4's first frame") }
        let swapFrames = (0..<frames).map { i in
            SwapFrame(index: i, pts: Int64(i), seconds: Double(i) / 30, damaged: false,
                      faces: [SwapFixture.swapFace(face.located, track: 0, swapped: true, identity: "x")])
        }
        for amplitude in [0, 3, 6, 12] {
            let out = amplitude == 0 ? source : dir.appendingPathComponent("flicker\(amplitude).mp4")
            if amplitude > 0 { try writeFlicker(clip, to: out, frames: frames, amplitude: amplitude) }
            let manifest = dir.appendingPathComponent("swap-flicker\(amplitude).json")
            try SwapFixture.write(manifest, model: SwapFixture.model(source: "x", decoder: "y"), target: "x", outputs: [
                try SwapFixture.output(source: source, output: out, manifest: manifest, kind: "video", width: analysed.info.displayWidth,
                                       height: analysed.info.displayHeight, fps: 30, hasAudio: false, frames: swapFrames)])
            ratios[amplitude] = try scoreWithCLI(manifest, workspace: dir, name: "flicker\(amplitude)").outputs[0].tracks.first?.flickerRatio
        }
        let r0 = ratios[0] ?? 0, r3 = ratios[3] ?? 0, r6 = ratios[6] ?? 0, r12 = ratios[12] ?? 0
        print("flicker ratios: ±0 \(r0), ±3 \(r3), ±6 \(r6), ±12 \(r12)")
        XCTAssertEqual(r0, 1, accuracy: 1e-9)
        XCTAssertGreaterThan(r3, 1.2)
        XCTAssertGreaterThan(r6, r3)
        XCTAssertGreaterThan(r12, r6)
        // In proportion: once the injected step (2k) dominates the clip's own change, doubling k nearly doubles the excess.
        let growth = (r12 - 1) / (r6 - 1)
        XCTAssertGreaterThan(growth, 1.5); XCTAssertLessThan(growth, 2.3)
    }

    /// (d) A face pasted back with a hard edge scores a worse seam than the same paste feathered.
    func testHardPasteScoresAWorseSeamThanFeathered() throws {
        let dir = try makeTemporaryDirectory()
        let photo = try ImageDecoder.decode(fileAt: TestPaths.image("obama.jpg"))
        guard let face = try SwapFixture.analyseImage(photo), let alignment = FaceAlignment(mesh: face.mesh, size: 256) else {
            return XCTFail("no face in obama.jpg")
        }
        // The "swapped" face: the aligned crop, warmer and brighter, so the paste differs from what is around it.
        var crop = alignment.crop(image: photo)
        for k in stride(from: 0, to: crop.pixels.count, by: 3) {
            crop.pixels[k] = UInt8(min(255, Int(crop.pixels[k]) + 40)); crop.pixels[k + 1] = UInt8(min(255, Int(crop.pixels[k + 1]) + 25))
            crop.pixels[k + 2] = UInt8(min(255, Int(crop.pixels[k + 2]) + 10))
        }
        let flat = face.mesh.map { SIMD2($0.x, $0.y) }
        let hard = alignment.warpBack(crop: crop, into: photo, mask: FaceMask(landmarks: flat, alignment: alignment, dilation: 0, feather: 0))
        let soft = alignment.warpBack(crop: crop, into: photo, mask: FaceMask(landmarks: flat, alignment: alignment, dilation: 0, feather: 24))
        let encoder = try ImageEncoder(format: .png)
        let sourceURL = dir.appendingPathComponent("source.png")
        try encoder.encode(photo).write(to: sourceURL)
        var seams: [String: Double] = [:]
        for (name, image) in [("hard", hard), ("soft", soft), ("same", photo)] {
            let url = dir.appendingPathComponent("\(name).png")
            try encoder.encode(image).write(to: url)
            let manifest = dir.appendingPathComponent("swap-\(name).json")
            let frame = SwapFrame(index: 0, pts: 0, seconds: 0, damaged: false, faces: [SwapFixture.swapFace(face, track: 0, swapped: true, identity: "x")])
            try SwapFixture.write(manifest, model: SwapFixture.model(source: "x", decoder: "y"), target: "x", outputs: [
                try SwapFixture.output(source: sourceURL, output: url, manifest: manifest, kind: "image", width: photo.width, height: photo.height,
                                       fps: nil, hasAudio: false, frames: [frame])])
            let scored = try scoreWithCLI(manifest, workspace: dir, name: name).outputs[0].faces[0]
            seams[name] = scored.seam
            if name != "same" { XCTAssertGreaterThan(scored.colourDe00 ?? 0, 3, "the warmer paste changes skin colour") }
        }
        print("seam: hard \(seams["hard"] ?? -1), feathered \(seams["soft"] ?? -1), unchanged \(seams["same"] ?? -1)")
        XCTAssertEqual(seams["same"] ?? 0, 1, accuracy: 1e-9)
        XCTAssertGreaterThan(seams["hard"] ?? 0, 1.5)
        XCTAssertGreaterThan(seams["hard"] ?? 0, 1.3 * (seams["soft"] ?? 99))
    }
}
