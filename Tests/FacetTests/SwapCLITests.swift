import Catalog
import FacetCore
import Faces
import Foundation
import GRDB
import Manifest
import Media
import Scoring
import Swap
import Watermark
import XCTest

/// `swap` through the built binary on real clips: only the target changes, everything else is carried over
/// exactly, every output is labelled, and bad input gets the documented exit code.
final class SwapCLITests: XCTestCase {
    /// Lossless output of two_people_stage.mp4 with Miranda as target: every pixel outside the swapped faces'
    /// blend masks equals the decoded input exactly (so every face of every other track is unchanged), the
    /// frame count and times match the input, the audio packets are byte-identical, and the labels are there.
    func testLosslessSwapChangesOnlyTheTargetAndKeepsAudio() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let output = out.appendingPathComponent("stage.mkv")
        let run = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--codec", "ffv1", "--output", output.path,
                            "--manifest", out.appendingPathComponent("swap.json").path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try run.requireReport()
        let entry = try XCTUnwrap(report.outputs.first)
        XCTAssertGreaterThan(entry.swapped, 50, "Miranda is on stage for most of the clip")
        try validate(out.appendingPathComponent("swap.json"), schema: "swap.schema.json")
        try validate(URL(fileURLWithPath: output.path + ".provenance.json"), schema: "provenance.schema.json")
        let manifest = try ManifestIO.read(SwapManifest.self, from: out.appendingPathComponent("swap.json"))
        let frames = try XCTUnwrap(manifest.outputs.first).frames

        let input = try decodedFrames(fx.stage), written = try decodedFrames(output)
        XCTAssertEqual(written.count, input.count, "frame count")
        XCTAssertEqual(frames.count, input.count)
        for (a, b) in zip(input, written) { XCTAssertEqual(a.seconds, b.seconds, accuracy: 0.002, "frame times") }
        // Every frame carries the invisible watermark (whole frame, luma only); apart from it, only the swapped
        // faces' masks may change. The mark's gain is set per 4×4 block, so blocks touching a mask are allowed too.
        let embedder = WatermarkEmbedder(payload: try XCTUnwrap(WatermarkPayload(hexPrefix: manifest.watermark.payload)))
        var bystanderFaces = 0, swappedFaces = 0
        for (i, (original, result)) in zip(input, written).enumerated() {
            var source = original
            embedder.embed(into: &source.image)
            // Pixels any swapped face's blend mask may touch (its support, grown by 1 px).
            var allowed = [Bool](repeating: false, count: source.image.width * source.image.height)
            for face in frames[i].faces where face.swapped {
                swappedFaces += 1
                guard let box = face.maskBox else { XCTFail("swapped face without a mask box"); continue }
                let x0 = max(0, (Int(box.x) - 1) / 4 * 4), y0 = max(0, (Int(box.y) - 1) / 4 * 4)
                let x1 = min(source.image.width, (Int(box.x + box.width) + 5) / 4 * 4)
                let y1 = min(source.image.height, (Int(box.y + box.height) + 5) / 4 * 4)
                for y in y0..<y1 { for x in x0..<x1 { allowed[y * source.image.width + x] = true } }
            }
            var differing = 0
            for p in 0..<allowed.count where !allowed[p] {
                if source.image.pixels[3 * p] != result.image.pixels[3 * p] || source.image.pixels[3 * p + 1] != result.image.pixels[3 * p + 1]
                    || source.image.pixels[3 * p + 2] != result.image.pixels[3 * p + 2] { differing += 1 }
            }
            XCTAssertEqual(differing, 0, "frame \(i): \(differing) pixels changed outside the swapped faces' masks (beyond the watermark)")
            bystanderFaces += frames[i].faces.filter { !$0.swapped }.count
            if differing > 0 { break }
        }
        XCTAssertGreaterThan(bystanderFaces, 20, "the clip has other people (Obama, the audience), left alone")
        XCTAssertEqual(swappedFaces, entry.swapped)
        XCTAssertEqual(try audioPacketDigests(output), try audioPacketDigests(fx.stage), "audio packets are copied byte for byte")

        // Labelled as synthetic: container metadata, sidecar, catalog row with the consent note.
        let probe = try runProcess(URL(fileURLWithPath: "/usr/bin/ffprobe"), ["-v", "error", "-show_format", "-of", "json", output.path])
        XCTAssertTrue(probe.stdout.contains("SYNTHETIC MEDIA"), probe.stdout)
        XCTAssertTrue(probe.stdout.lowercased().contains("facet_model_sha256"), probe.stdout)
        let sidecar = try ManifestIO.read(ProvenanceSidecar.self, from: URL(fileURLWithPath: output.path + ".provenance.json"))
        XCTAssertTrue(sidecar.synthetic)
        XCTAssertEqual(sidecar.outputSha256, try SHA256.hex(fileAt: output))
        XCTAssertEqual(sidecar.target.consent, "public White House footage; tests only")
        let found = try ProvenanceCheck.check(url: output)
        XCTAssertTrue(found.detected, "the watermark is found blindly in the written file")
        XCTAssertEqual(found.containerLabel, "face-swap", "Matroska's upper-case tag names are read too")
        XCTAssertEqual(found.payload?.description, manifest.watermark.payload, "the payload read blindly is this run's")
        let row = try readCatalog(fx.workspace) { db in
            try Row.fetchOne(db, sql: "SELECT consent, status, faces_swapped FROM swaps WHERE output_path = ?", arguments: [output.path])
        }
        XCTAssertEqual(row?["consent"], "public White House footage; tests only")
        XCTAssertEqual(row?["status"], "complete")
        XCTAssertEqual(row?["faces_swapped"], entry.swapped)
    }

    /// A video where the target never appears and that has no audio: a warning, the output still written and
    /// labelled, the manifest says 0 faces swapped, and the frames are the input's.
    func testTargetAbsentVideoWithoutAudioIsWrittenUnchangedAndLabelled() throws {
        let fx = try swapFixtures()
        let clip = TestPaths.video("d0.mp4")
        try requireSharedMedia(clip)
        let out = try makeTemporaryDirectory()
        let output = out.appendingPathComponent("d0.mkv")
        let run = try swap(["--model", fx.model.path, "--codec", "ffv1", "--target", "Lin-Manuel Miranda", "--output", output.path, clip.path],
                           workspace: fx.workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let entry = try XCTUnwrap(try run.requireReport().outputs.first)
        XCTAssertEqual(entry.swapped, 0)
        XCTAssertTrue(entry.warnings.contains { $0.contains("not found") }, "\(entry.warnings)")
        let input = try decodedFrames(clip), written = try decodedFrames(output)
        XCTAssertEqual(input.count, written.count)
        let embedder = WatermarkEmbedder(payload: try XCTUnwrap(WatermarkPayload(hexPrefix: try run.requireReport().watermark)))
        let changed = zip(input, written).filter { original, result in
            var marked = original.image
            embedder.embed(into: &marked)
            return marked != result.image
        }.count
        XCTAssertEqual(changed, 0, "frames pass through unchanged but for the invisible watermark")
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.path + ".provenance.json"))
    }

    /// When the target is not found but a track lies within dlib's same-person distance of it, the warning says
    /// where that track is and how to include it safely (enrol the person from this video). Here Miranda's
    /// threshold is capped at 0.3 (`--threshold`), so his track, 0.48 from his photo, is not named.
    func testATargetNotFoundNamesTheNearestTrack() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let clip = out.appendingPathComponent("stage-3s.mp4")
        let cut = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"), ["-v", "error", "-y", "-i", fx.stage.path, "-t", "3",
                                                                         "-c:v", "libx264", "-crf", "18", "-an", clip.path])
        XCTAssertEqual(cut.status, 0, cut.stderr)
        let strict = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--threshold", "0.3",
                               "--output", out.appendingPathComponent("strict.mp4").path, clip.path], workspace: fx.workspace)
        XCTAssertEqual(strict.status, 0, strict.stderr)
        let entry = try XCTUnwrap(try strict.requireReport().outputs.first)
        XCTAssertEqual(entry.swapped, 0)
        let warning = try XCTUnwrap(entry.warnings.first { $0.contains("not found") }, "\(entry.warnings)")
        XCTAssertTrue(warning.contains("the nearest track (frames 0-") && warning.contains("identify enroll --name 'Lin-Manuel Miranda' --track ID"),
                      warning)
        // With his own threshold he is found, and nothing is said.
        let found = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda",
                              "--output", out.appendingPathComponent("found.mp4").path, clip.path], workspace: fx.workspace)
        XCTAssertEqual(found.status, 0, found.stderr)
        let foundEntry = try XCTUnwrap(try found.requireReport().outputs.first)
        XCTAssertGreaterThan(foundEntry.swapped, 0)
        XCTAssertFalse(foundEntry.warnings.contains { $0.contains("nearest track") }, "\(foundEntry.warnings)")
    }

    /// An interrupted swap (SIGKILL) resumes without redoing finished segments, and its output equals an
    /// uninterrupted run's frame for frame; two shards together give the same output, joined by the last one.
    func testResumeAfterKillAndShardsMatchAWholeRun() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let common = ["--model", fx.model.path, "--codec", "ffv1", "--segment-frames", "60", "--target", "Lin-Manuel Miranda"]
        let whole = out.appendingPathComponent("whole.mkv")
        let wholeRun = try swap(common + ["--output", whole.path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(wholeRun.status, 0, wholeRun.stderr)

        // Kill once the first segment is on disk.
        let killed = out.appendingPathComponent("killed.mkv")
        let parts = out.appendingPathComponent(".killed.mkv.facet-parts")
        let (process, o, e) = try startProcess(try TestPaths.executable("swap"),
                                               ["--workspace", fx.workspace.path, "-q"] + common + ["--output", killed.path, fx.stage.path])
        let deadline = Date().addingTimeInterval(600)
        while process.isRunning, Date() < deadline,
              !FileManager.default.fileExists(atPath: parts.appendingPathComponent("segment-00001.mkv").path) { usleep(20_000) }
        let killedMidway = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = collect(process, o, e)
        XCTAssertTrue(killedMidway, "the swap finished before it could be killed; the test needs more segments")
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed.path), "no half-written output")
        let resumed = try swap(common + ["--output", killed.path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(try resumed.requireReport().outputs.first).segmentsReused, 1)

        // Two shards, one after the other: the first writes its segments only, the second joins.
        let sharded = out.appendingPathComponent("sharded.mkv")
        let first = try swap(common + ["--shard", "1/2", "--output", sharded.path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertNil(try XCTUnwrap(try first.requireReport().outputs.first).output)
        let second = try swap(common + ["--shard", "2/2", "--output", sharded.path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try XCTUnwrap(try second.requireReport().outputs.first).output, sharded.path)

        let reference = try decodedFrames(whole).map(\.image)
        for (name, url) in [("resumed", killed), ("sharded", sharded)] {
            let frames = try decodedFrames(url).map(\.image)
            XCTAssertEqual(frames.count, reference.count, "\(name): frame count")
            let differing = zip(frames, reference).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            XCTAssertEqual(differing.count, 0, "\(name) output differs from an uninterrupted run's in frames \(differing.prefix(10))")
        }

        // The same job again (as after a kill that came once the job had finished) keeps its one catalog row and swap id.
        func swapId(_ result: SwapCLIRun) throws -> Int? {
            let manifest = try XCTUnwrap(try XCTUnwrap(try result.requireReport().outputs.first).manifest)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifest))) as? [String: Any]
            return json?["swapId"] as? Int
        }
        let again = try swap(common + ["--output", whole.path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertNotNil(try swapId(wholeRun))
        XCTAssertEqual(try swapId(again), try swapId(wholeRun))
        for url in [whole, killed] {
            let rows = try readCatalog(fx.workspace) { db in
                try Row.fetchAll(db, sql: "SELECT status FROM swaps WHERE output_path = ?", arguments: [url.path])
            }
            XCTAssertEqual(rows.map { $0["status"] as String }, ["complete"], "\(url.lastPathComponent): one finished row")
        }
    }

    /// Images in, images out: a PNG with a text label saying it is synthetic, and its sidecar.
    func testImageSwapIsLabelled() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let image = TestPaths.repo.appendingPathComponent("Datasets/samples/lin-manuel-miranda.jpg")
        let run = try swap(["--model", fx.model.path, "--output", out.path, image.path], workspace: fx.workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let entry = try XCTUnwrap(try run.requireReport().outputs.first)
        XCTAssertEqual(entry.swapped, 1)
        // Named .jpeg, the file is a JPEG (it used to be PNG bytes under that name).
        let named = out.appendingPathComponent("named.jpeg")
        let jpeg = try swap(["--model", fx.model.path, "--output", named.path, image.path], workspace: fx.workspace)
        XCTAssertEqual(jpeg.status, 0, jpeg.stderr)
        XCTAssertEqual(ImageFormat(signature: try Data(contentsOf: named)), .jpeg)
        let written = URL(fileURLWithPath: try XCTUnwrap(entry.output))
        XCTAssertEqual(written.pathExtension, "jpg")
        let label = try XCTUnwrap(ImageTextLabel.read(from: Data(contentsOf: written)))
        XCTAssertTrue(label.contains("SYNTHETIC MEDIA"), label)
        XCTAssertTrue(FileManager.default.fileExists(atPath: written.path + ".provenance.json"))
        // score reads the image run (its source is an image, kind "images").
        let scored = try runProcess(try TestPaths.executable("score"),
                                    ["run", "--workspace", fx.workspace.path, "-q", "--json", try XCTUnwrap(entry.manifest)], timeout: 600)
        XCTAssertEqual(scored.status, 0, scored.stderr)
        // An image without the target is written unchanged but for the labels, with a warning.
        let stranger = TestPaths.image("obama.jpg")
        try requireSharedMedia(stranger)
        let elsewhere = try makeTemporaryDirectory()
        let absent = try swap(["--model", fx.model.path, "--output", elsewhere.path, stranger.path], workspace: fx.workspace)
        XCTAssertEqual(absent.status, 0, absent.stderr)
        let absentEntry = try XCTUnwrap(try absent.requireReport().outputs.first)
        XCTAssertEqual(absentEntry.swapped, 0)
        XCTAssertTrue(absentEntry.warnings.contains { $0.contains("not found") }, "\(absentEntry.warnings)")
        // score provenance checks a whole folder: every image swap writes carries the watermark.
        let checked = try runProcess(try TestPaths.executable("score"), ["provenance", "--json", out.path], timeout: 300)
        XCTAssertEqual(checked.status, 0, checked.stderr)
        let reports = try JSONDecoder().decode([ProvenanceReport].self, from: checked.stdoutData)
        XCTAssertEqual(reports.count, 2, "the two swapped images, not their sidecars")
        XCTAssertTrue(reports.allSatisfy(\.detected))
    }

    /// The face models load only when a face has to be found: a faces manifest swaps with none installed, and a
    /// video that needs them still fails with the missing file named and nothing written.
    func testFaceModelsLoadOnlyWhenNeeded() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let noModels = out.appendingPathComponent("no-models")
        try FileManager.default.createDirectory(at: noModels, withIntermediateDirectories: true)
        let given = try swap(["--model", fx.model.path, "--models", noModels.path, "--occlusion", "none", "--output",
                              out.appendingPathComponent("faces.mp4").path, fx.mirandaFaces.path], workspace: fx.workspace)
        XCTAssertEqual(given.status, 0, given.stderr)
        let givenEntry = try XCTUnwrap(try given.requireReport().outputs.first)
        XCTAssertGreaterThan(givenEntry.swapped, 0)
        // The run's source is the video the faces came from (what score reads beside the output), not the manifest.
        let manifest = try ManifestIO.read(SwapManifest.self, from: URL(fileURLWithPath: try XCTUnwrap(givenEntry.manifest)))
        XCTAssertEqual(manifest.outputs.first.map { URL(fileURLWithPath: $0.source.path).lastPathComponent }, "two_people_stage.mp4")
        XCTAssertEqual(manifest.outputs.first?.source.sha256, try SHA256.hex(fileAt: fx.stage))
        let video = out.appendingPathComponent("video.mp4")
        let found = try swap(["--model", fx.model.path, "--models", noModels.path, "--occlusion", "none", "--output", video.path, fx.stage.path],
                             workspace: fx.workspace)
        XCTAssertEqual(found.status, 66, found.stderr)
        XCTAssertTrue(found.stderr.contains("swap: error:") && found.stderr.contains(noModels.path), found.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: video.path))
    }

    /// An odd-sized video (possible outside H.264 4:2:0: 4:4:4, VP9, FFV1) swaps: H.264 output one pixel longer on
    /// each odd side (said in a warning), FFV1 at the same size; `score` reads the padded output against the source.
    func testOddSizedVideoIsSwappedAndScored() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let odd = out.appendingPathComponent("odd.mp4")
        let cut = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                 ["-v", "error", "-i", fx.stage.path, "-frames:v", "40", "-vf", "scale=641:361", "-c:v", "libx264", "-pix_fmt",
                                  "yuv444p", "-crf", "18", "-preset", "ultrafast", "-an", odd.path], timeout: 120)
        XCTAssertEqual(cut.status, 0, cut.stderr)
        let h264 = out.appendingPathComponent("odd-swapped.mp4")
        let run = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--output", h264.path, odd.path], workspace: fx.workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let entry = try XCTUnwrap(try run.requireReport().outputs.first)
        XCTAssertGreaterThan(entry.swapped, 0)
        XCTAssertTrue(entry.warnings.contains { $0.contains("641x361") && $0.contains("642x362") }, "\(entry.warnings)")
        let frames = try decodedFrames(h264)
        XCTAssertEqual(frames.count, 40)
        XCTAssertEqual(frames.first.map { [$0.image.width, $0.image.height] }, [642, 362])
        let scored = try runProcess(try TestPaths.executable("score"),
                                    ["run", "--workspace", fx.workspace.path, "-q", "--json", try XCTUnwrap(entry.manifest)], timeout: 600)
        XCTAssertEqual(scored.status, 0, scored.stderr)

        let ffv1 = out.appendingPathComponent("odd-swapped.mkv")
        let lossless = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--codec", "ffv1", "--output", ffv1.path, odd.path],
                                workspace: fx.workspace)
        XCTAssertEqual(lossless.status, 0, lossless.stderr)
        XCTAssertEqual(try decodedFrames(ffv1).first.map { [$0.image.width, $0.image.height] }, [641, 361])
    }

    /// `--preview-frames N` writes a contact sheet of at most N rows, each a swapped frame's input beside its output
    /// (360 px wide each, 4 px gaps): the halves differ strongly only where the face was replaced.
    func testPreviewSheetShowsInputBesideOutput() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let sheetURL = out.appendingPathComponent("sheet.png")
        let run = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--preview-frames", "3", "--preview", sheetURL.path,
                            "--output", out.appendingPathComponent("o.mp4").path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try run.requireReport().preview, sheetURL.path)
        // --preview alone asks for a sheet too (6 frames by default).
        let alone = out.appendingPathComponent("alone.png")
        let second = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", "--preview", alone.path,
                               "--output", out.appendingPathComponent("o2.mp4").path, fx.stage.path], workspace: fx.workspace)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try second.requireReport().preview, alone.path)
        XCTAssertTrue(FileManager.default.fileExists(atPath: alone.path))
        let sheet = try ImageDecoder.decode(Data(contentsOf: sheetURL), path: sheetURL.path)
        let w = 360, h = 203, gap = 4  // 640x360 frames at 360 px wide
        XCTAssertEqual(sheet.width, 2 * w + 3 * gap)
        let rows = (sheet.height - gap) / (h + gap)
        XCTAssertEqual(sheet.height, rows * (h + gap) + gap)
        XCTAssertTrue((1...3).contains(rows), "\(rows) rows")
        for row in 0..<rows {
            var strong = 0
            for y in 0..<h {
                for x in 0..<w {
                    let a = ((gap + row * (h + gap) + y) * sheet.width + gap + x) * 3, b = a + (w + gap) * 3
                    if (0..<3).contains(where: { abs(Int(sheet.pixels[a + $0]) - Int(sheet.pixels[b + $0])) > 24 }) { strong += 1 }
                }
            }
            let share = Double(strong) / Double(w * h)
            XCTAssertGreaterThan(share, 0.001, "row \(row): the output's face differs from the input's")
            XCTAssertLessThan(share, 0.15, "row \(row): only the face differs much (the mark is a few levels)")
        }
    }

    /// Bad input: one line naming the file, the documented exit code, nothing written.
    func testBadInput() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        func expect(_ arguments: [String], exits status: Int32, mentioning text: String, line: UInt = #line) throws {
            let run = try swap(arguments, workspace: fx.workspace)
            XCTAssertEqual(run.status, status, run.stderr, line: line)
            XCTAssertTrue(run.stderr.contains("swap: error:") && run.stderr.contains(text), run.stderr, line: line)
        }
        // A missing model; a model whose weights changed; a target not enrolled; the output equal to the input.
        try expect(["--model", out.appendingPathComponent("none.json").path, fx.stage.path], exits: 66, mentioning: "none.json")
        let damaged = out.appendingPathComponent("damaged")
        try FileManager.default.copyItem(at: fx.model.deletingLastPathComponent(), to: damaged)
        let weights = damaged.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: weights)
        try expect(["--model", damaged.appendingPathComponent("model.json").path, fx.stage.path], exits: 65, mentioning: "model.safetensors")
        try expect(["--model", fx.model.path, "--target", "Nobody Enrolled", fx.stage.path], exits: 66, mentioning: "Nobody Enrolled")
        try expect(["--model", fx.model.path, "--output", fx.stage.path, fx.stage.path], exits: 64, mentioning: "two_people_stage.mp4")
        // A video cut short before its index: the same diagnosis as fetch-frames and detect give.
        let cut = out.appendingPathComponent("cut.mp4")
        try Data(try Data(contentsOf: fx.stage).prefix(4096)).write(to: cut)
        try expect(["--model", fx.model.path, cut.path], exits: 65, mentioning: "cut.mp4: not a readable video or image: MP4/MOV index")
        // A faces manifest framed differently from the model (128 px crops; the model trained on 256 px crops).
        let small = out.appendingPathComponent("faces-128.json")
        XCTAssertEqual(try runDetect(["--size", "128", "--max-frames", "5", "--output", small.path, fx.stage.path], workspace: fx.workspace).status, 0)
        try expect(["--model", fx.model.path, small.path], exits: 65, mentioning: "128 px")
        // ... refused before any work, also after a video that would have been swapped first.
        let both = out.appendingPathComponent("both")
        try expect(["--model", fx.model.path, "--output", both.path, fx.stage.path, small.path], exits: 65, mentioning: "faces-128.json")
        XCTAssertFalse(FileManager.default.fileExists(atPath: both.appendingPathComponent("two_people_stage-swapped.mp4").path))
        try expect(["--model", fx.model.path, "--crf", "80", fx.stage.path], exits: 64, mentioning: "--crf")
        // An output named for another format than the one written.
        let image = TestPaths.repo.appendingPathComponent("Datasets/samples/lin-manuel-miranda.jpg")
        try expect(["--model", fx.model.path, "--output", out.appendingPathComponent("x.webp").path, image.path], exits: 64, mentioning: "x.webp")
        try expect(["--model", fx.model.path, "--output", out.appendingPathComponent("x.avi").path, fx.stage.path], exits: 64, mentioning: "x.avi")
        try expect(["--model", fx.model.path, "--codec", "ffv1", "--output", out.appendingPathComponent("x.mp4").path, fx.stage.path], exits: 64,
                   mentioning: "x.mp4")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("x.webp").path))
    }
}

/// Cutting a face out at the model's framing and putting it back unchanged gives the input back to within
/// interpolation error, at random poses and scales (the one warp `swap` uses).
final class FaceWarpRoundTripTests: XCTestCase {
    func testCutAndWarpBackIsTheIdentityUpToInterpolation() throws {
        let image = try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))
        var rng = SeededRandom(seed: 7)
        for trial in 0..<12 {
            let size = 96
            // Render pixels per frame pixel between 1 and 2.5 (the face enlarged when cut out, as for most faces in video).
            let r = 1 + 1.5 * Double.random(in: 0..<1, using: &rng), angle = (Double.random(in: 0..<1, using: &rng) - 0.5) * 0.8
            let centre = SIMD2(200 + 100 * Double.random(in: 0..<1, using: &rng), 150 + 100 * Double.random(in: 0..<1, using: &rng))
            let a = r * cos(angle), b = -r * sin(angle), c = r * sin(angle), d = r * cos(angle)
            let half = Double(size) / 2
            let toModel = AffineMatrix2x3(a: a, b: b, tx: half - (a * centre.x + b * centre.y), c: c, d: d, ty: half - (c * centre.x + d * centre.y))
            let toImage = try XCTUnwrap(toModel.inverse)
            var grid = [Float](repeating: 0, count: size * size * 3)
            grid.withUnsafeMutableBufferPointer { FaceWarp.sample(image, width: size, height: size, toImage: toImage, into: $0.baseAddress!) }
            // Warp back over a disc well inside the square.
            let radius = 0.35 * Double(size) / r
            let points = (0..<32).map { k -> SIMD2<Double> in
                let t = Double(k) / 32 * 2 * .pi
                return centre + radius * SIMD2(cos(t), sin(t))
            }
            let alpha = AlphaPlane.hull(points, erosion: 0, feather: 0.01, frameWidth: image.width, frameHeight: image.height)
            var back = image
            grid.withUnsafeBufferPointer { _ = FaceWarp.composite($0.baseAddress!, size: size, toRender: toModel, alpha: alpha, into: &back) }
            var squared = 0.0, n = 0.0
            for y in alpha.y0..<(alpha.y0 + alpha.height) {
                for x in alpha.x0..<(alpha.x0 + alpha.width) where alpha[x, y] >= 1 {
                    for ch in 0..<3 {
                        let e = Double(back.pixels[(y * image.width + x) * 3 + ch]) - Double(image.pixels[(y * image.width + x) * 3 + ch])
                        squared += e * e; n += 1
                    }
                }
            }
            XCTAssertGreaterThan(n, 1000)
            let psnr = 10 * log10(255 * 255 / max(squared / n, 1e-9))
            XCTAssertGreaterThan(psnr, 28, "trial \(trial): scale \(r), angle \(angle): PSNR \(psnr) dB")
            // Outside the mask nothing moved.
            var outside = 0
            for p in 0..<(image.width * image.height) where alpha[p % image.width, p / image.width] == 0 {
                if back.pixels[3 * p] != image.pixels[3 * p] { outside += 1 }
            }
            XCTAssertEqual(outside, 0)
        }
    }
}

/// `score model` on a trained model: reconstruction figures on held-out faces, training faces skipped.
final class ScoreModelCLITests: XCTestCase {
    func testReconstructionOnHeldOutFacesSkipsTrainingFaces() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let d18 = TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4")
        // Held out: d18's frames 0, 5, 10, ... (training used every third: 0, 3, 6, ...; frames 0, 15, 30, ... are in both).
        let heldOut = out.appendingPathComponent("faces-d18-heldout.json")
        XCTAssertEqual(try runDetect(["--mask", "--every", "5", "--output", heldOut.path, d18.path], workspace: fx.workspace).status, 0)
        let score = try TestPaths.executable("score")
        // Side A given its own training faces: nothing is held out.
        let refused = try runProcess(score, ["model", "--workspace", fx.workspace.path, "-q", fx.model.path, "--a", fx.mirandaFaces.path,
                                             "--b", heldOut.path, "--output", out.appendingPathComponent("refused").path])
        XCTAssertEqual(refused.status, 65, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("no held-out face"), refused.stderr)
        // Both sides held out (A: Miranda's faces of the clip cut at another size are other crops... use B's held-out faces for both
        // sides' mechanics; A's decoder then reconstructs a stranger, which must score worse than B's own).
        let run = try runProcess(score, ["model", "--workspace", fx.workspace.path, "-q", "--json", fx.model.path, "--a", heldOut.path,
                                         "--b", heldOut.path, "--output", out.appendingPathComponent("model").path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try JSONDecoder().decode(ModelScoring.Report.self, from: run.stdoutData)
        XCTAssertGreaterThan(report.b.faces, 10)
        XCTAssertGreaterThan(report.b.skippedTrainingFaces, 0, "frames in both samplings are training faces")
        XCTAssertTrue((0...1).contains(report.b.ssim.mean) && report.b.psnr.mean > 5 && report.b.mae.mean < 0.5, "\(report.b)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: report.examples))
    }
}
