import FacetCore
import Faces
import Foundation
import Manifest
import Media
import Swap
import Watermark
import XCTest

/// `swap` through the built binary: hands in front of the target's face stay in front, the optional visible
/// badge touches only its box, and damaged frames in the middle of a clip are copied through and counted.
final class SwapOcclusionCLITests: XCTestCase {
    /// Frames 120...179 of two_people_stage.mp4 (Miranda close up, gesturing with a hand in front of his chin
    /// and a microphone) as a lossless clip: its decoded frames are exactly the original's.
    static func handClip(in folder: URL, stage: URL) throws -> URL {
        let clip = folder.appendingPathComponent("stage-120-179.mkv")
        let cut = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                 ["-v", "error", "-y", "-i", stage.path, "-vf", "select=between(n\\,120\\,179)", "-fps_mode", "passthrough",
                                  "-an", "-c:v", "ffv1", clip.path], timeout: 120)
        XCTAssertEqual(cut.status, 0, cut.stderr)
        return clip
    }

    /// Pixels of `frame` inside a convex polygon (x, y pairs, frame pixels) that differ between two images.
    static func differing(_ a: RGBImage, _ b: RGBImage, inside polygon: [SIMD2<Double>]) -> (inside: Int, differing: Int) {
        let hull = FaceMask.convexHull(polygon)
        guard hull.count >= 3 else { return (0, 0) }
        var inside = 0, differing = 0
        let xs = hull.map(\.x), ys = hull.map(\.y)
        let x0 = max(0, Int((xs.min() ?? 0).rounded(.down))), x1 = min(a.width, Int((xs.max() ?? 0).rounded(.up)) + 1)
        let y0 = max(0, Int((ys.min() ?? 0).rounded(.down))), y1 = min(a.height, Int((ys.max() ?? 0).rounded(.up)) + 1)
        guard x0 < x1, y0 < y1 else { return (0, 0) }
        for y in y0..<y1 {
            for x in x0..<x1 where FaceMask.signedDistance(SIMD2(Double(x) + 0.5, Double(y) + 0.5), toConvex: hull) < 0 {
                inside += 1
                let o = (y * a.width + x) * 3
                if a.pixels[o] != b.pixels[o] || a.pixels[o + 1] != b.pixels[o + 1] || a.pixels[o + 2] != b.pixels[o + 2] { differing += 1 }
            }
        }
        return (inside, differing)
    }

    /// On real footage with a hand at the target's chin: with `--occlusion hands` every pixel of every hand the
    /// manifest lists in front of a swapped face is the input's (plus the invisible watermark), and so is every
    /// pixel inside the hands MediaPipe's own Hands solution finds on frame 140 (an independent reference:
    /// Tests/Fixtures/hands/hand_golden.json); with `--occlusion none` the swap paints over parts of those hands.
    func testHandInFrontOfTheFaceStaysInFront() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let clip = try Self.handClip(in: out, stage: fx.stage)
        var results: [String: (frames: [(image: RGBImage, seconds: Double)], manifest: SwapManifest)] = [:]
        for mode in ["hands", "none"] {
            let output = out.appendingPathComponent("\(mode).mkv"), manifestURL = out.appendingPathComponent("\(mode).json")
            let run = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--codec", "ffv1", "--occlusion", mode,
                                "--output", output.path, "--manifest", manifestURL.path, clip.path], workspace: fx.workspace)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertGreaterThan(try XCTUnwrap(try run.requireReport().outputs.first).swapped, 30, "Miranda is in every frame")
            try validate(manifestURL, schema: "swap.schema.json")
            results[mode] = (try decodedFrames(output), try ManifestIO.read(SwapManifest.self, from: manifestURL))
        }
        let input = try decodedFrames(clip)
        let hands = try XCTUnwrap(results["hands"]), none = try XCTUnwrap(results["none"])
        let embedder = WatermarkEmbedder(payload: try XCTUnwrap(WatermarkPayload(hexPrefix: hands.manifest.watermark.payload)))
        let frames = try XCTUnwrap(hands.manifest.outputs.first).frames
        XCTAssertEqual(hands.frames.count, input.count)
        let noneEmbedder = WatermarkEmbedder(payload: try XCTUnwrap(WatermarkPayload(hexPrefix: none.manifest.watermark.payload)))
        var occludedFaces = 0, handPixels = 0, paintedOver = 0
        for (i, frame) in frames.enumerated() {
            var marked = input[i].image, noneMarked = input[i].image
            embedder.embed(into: &marked)
            noneEmbedder.embed(into: &noneMarked)
            for face in frame.faces where face.swapped {
                for occluder in face.occluders ?? [] {
                    let polygon = stride(from: 0, to: occluder.count - 1, by: 2).map { SIMD2(Double(occluder[$0]), Double(occluder[$0 + 1])) }
                    let check = Self.differing(marked, hands.frames[i].image, inside: polygon)
                    XCTAssertEqual(check.differing, 0, "frame \(i): \(check.differing) of the hand's \(check.inside) pixels changed")
                    occludedFaces += 1
                    handPixels += check.inside
                    paintedOver += Self.differing(noneMarked, none.frames[i].image, inside: polygon).differing
                }
            }
        }
        XCTAssertGreaterThan(occludedFaces, 10, "hands are near Miranda's face in many of these frames")
        XCTAssertGreaterThan(handPixels, 10_000)
        XCTAssertGreaterThan(paintedOver, 100, "without occlusion the swap paints over parts of those hands (so the check has teeth)")

        // Frame 140 of the stage clip (index 20 here), MediaPipe's hands shifted from the fixture crop (x + 110).
        let data = try Data(contentsOf: TestPaths.fixture("hands/hand_golden.json"))
        let golden = try XCTUnwrap((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["mediapipe_hands"] as? [[String: Any]])
        var marked = input[20].image
        embedder.embed(into: &marked)
        for hand in golden {
            let points = try XCTUnwrap(hand["points"] as? [[Double]]).map { SIMD2($0[0] + 110, $0[1]) }
            let kept = Self.differing(marked, hands.frames[20].image, inside: points)
            XCTAssertGreaterThan(kept.inside, 500)
            XCTAssertEqual(kept.differing, 0, "MediaPipe's \(hand["label"] ?? "") hand on frame 140: \(kept.differing) of \(kept.inside) pixels changed")
        }
    }

    /// `--visible-label` draws the badge in its corner: every pixel it changes (against the input plus the
    /// watermark) is inside the box the manifest and the sidecar record, and most of the box changes; without
    /// it the output is the input plus the watermark, corner included.
    func testVisibleLabelTouchesOnlyItsBox() throws {
        let fx = try swapFixtures()
        let clip = TestPaths.video("d0.mp4")
        try requireSharedMedia(clip)
        let out = try makeTemporaryDirectory()
        let input = try decodedFrames(clip)
        for badge in [true, false] {
            let output = out.appendingPathComponent(badge ? "badge.mkv" : "plain.mkv"), manifestURL = out.appendingPathComponent(badge ? "badge.json" : "plain.json")
            let run = try swap(["--model", fx.model.path, "--codec", "ffv1", "--target", "Lin-Manuel Miranda", "--output", output.path,
                                "--manifest", manifestURL.path] + (badge ? ["--visible-label", "--label-corner", "top-left"] : []) + [clip.path],
                               workspace: fx.workspace)
            XCTAssertEqual(run.status, 0, run.stderr)
            try validate(manifestURL, schema: "swap.schema.json")
            try validate(URL(fileURLWithPath: output.path + ".provenance.json"), schema: "provenance.schema.json")
            let manifest = try ManifestIO.read(SwapManifest.self, from: manifestURL)
            let sidecar = try ManifestIO.read(ProvenanceSidecar.self, from: URL(fileURLWithPath: output.path + ".provenance.json"))
            let recorded = try XCTUnwrap(manifest.outputs.first).visibleLabel
            XCTAssertEqual(sidecar.visibleLabel, recorded)
            let written = try decodedFrames(output)
            XCTAssertEqual(written.count, input.count)
            let embedder = WatermarkEmbedder(payload: try XCTUnwrap(WatermarkPayload(hexPrefix: manifest.watermark.payload)))
            guard badge else {
                XCTAssertNil(recorded)
                for i in [0, input.count / 2, input.count - 1] {
                    var marked = input[i].image
                    embedder.embed(into: &marked)
                    XCTAssertEqual(marked, written[i].image, "frame \(i): without the badge the frame is the input plus the watermark")
                }
                continue
            }
            let label = try XCTUnwrap(recorded)
            XCTAssertEqual(label.corner, "top-left")
            XCTAssertTrue(label.text.contains("SYNTHETIC"))
            let box = label.box, width = input[0].image.width, height = input[0].image.height
            XCTAssertLessThan(box.x + box.width, Double(width) / 2, "in the left half")
            XCTAssertLessThan(box.y + box.height, Double(height) / 4, "near the top")
            for i in [0, input.count / 2, input.count - 1] {
                var marked = input[i].image
                embedder.embed(into: &marked)
                var insideChanged = 0, outsideChanged = 0
                for y in 0..<height {
                    for x in 0..<width {
                        let o = (y * width + x) * 3
                        let changed = marked.pixels[o] != written[i].image.pixels[o] || marked.pixels[o + 1] != written[i].image.pixels[o + 1]
                            || marked.pixels[o + 2] != written[i].image.pixels[o + 2]
                        guard changed else { continue }
                        // The badge is drawn over the marked frame; its box is rounded out by 4 pixels.
                        let inBox = Double(x) >= box.x - 4 && Double(x) < box.x + box.width + 4 && Double(y) >= box.y - 4 && Double(y) < box.y + box.height + 4
                        if inBox { insideChanged += 1 } else { outsideChanged += 1 }
                    }
                }
                XCTAssertEqual(outsideChanged, 0, "frame \(i): pixels changed outside the badge")
                XCTAssertGreaterThan(Double(insideChanged), 0.5 * box.width * box.height, "frame \(i): the badge is drawn")
            }
        }
    }

    /// An MPEG-TS copy of a real clip with bytes of some packets in the middle overwritten: the swap completes
    /// (exit 0, a warning naming the damage), writes as many frames as Facet decodes from the damaged file,
    /// counts the damaged frames in the JSON report and the manifest, and copies them through as decoded (plus
    /// the watermark).
    func testDamagedFramesInTheMiddleAreCopiedThroughAndCounted() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let ts = out.appendingPathComponent("stage.ts")
        let make = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                  ["-v", "error", "-y", "-i", fx.stage.path, "-frames:v", "120", "-an", "-c:v", "libx264", "-preset", "ultrafast",
                                   "-g", "30", "-bf", "0", "-f", "mpegts", ts.path], timeout: 120)
        XCTAssertEqual(make.status, 0, make.stderr)
        // Overwrite the payload (not the 4-byte headers) of 40 TS packets around the middle with seeded noise.
        var bytes = [UInt8](try Data(contentsOf: ts))
        let packets = bytes.count / 188
        var rng = SeededRandom(seed: 7)
        for p in (packets / 2)..<(packets / 2 + 40) where bytes[p * 188] == 0x47 {
            for k in (p * 188 + 4)..<(p * 188 + 188) { bytes[k] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        let damaged = out.appendingPathComponent("damaged.ts")
        try Data(bytes).write(to: damaged)

        let output = out.appendingPathComponent("damaged.mkv"), manifestURL = out.appendingPathComponent("damaged.json")
        let run = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--codec", "ffv1", "--output", output.path,
                            "--manifest", manifestURL.path, damaged.path], workspace: fx.workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let entry = try XCTUnwrap(try run.requireReport().outputs.first)
        let manifest = try ManifestIO.read(SwapManifest.self, from: manifestURL)
        let record = try XCTUnwrap(manifest.outputs.first)
        let flagged = record.frames.filter(\.damaged)
        XCTAssertGreaterThan(entry.damagedFrames, 0, "the damaged frames are counted; warnings: \(entry.warnings)")
        XCTAssertEqual(entry.damagedFrames, record.counts.damagedFrames)
        XCTAssertTrue(entry.warnings.contains { $0.contains("damaged frame") }, "\(entry.warnings)")
        XCTAssertEqual(flagged.count, record.counts.damagedFrames)
        XCTAssertTrue(flagged.allSatisfy { $0.faces.allSatisfy { !$0.swapped } }, "no face is swapped on a damaged frame")
        XCTAssertGreaterThan(entry.swapped, 30, "the undamaged frames are swapped")
        let input = try decodedFrames(damaged), written = try decodedFrames(output)
        XCTAssertEqual(written.count, input.count, "one output frame for every frame decoded from the damaged input")
        XCTAssertEqual(record.frames.count, input.count)
        let embedder = WatermarkEmbedder(payload: try XCTUnwrap(WatermarkPayload(hexPrefix: manifest.watermark.payload)))
        for frame in flagged where frame.index < input.count {
            var marked = input[frame.index].image
            embedder.embed(into: &marked)
            XCTAssertEqual(marked, written[frame.index].image, "damaged frame \(frame.index) is copied through as decoded")
        }
    }
}
