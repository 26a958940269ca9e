import FaceDetect
import Foundation
import GRDB
import Manifest
import Media
import XCTest

/// `detect` as a shell-script step: re-runs, resume after a kill, shards, frames manifests, bad input.
final class DetectRunTests: XCTestCase {
    /// Crop hashes by (frame number, face index), from the catalog.
    func cropHashes(_ workspace: URL) throws -> [String: String] {
        try readCatalog(workspace) { db in
            let rows = try Row.fetchAll(db, sql: "SELECT frame_number, face_index, crop_sha256 FROM faces")
            return Dictionary(rows.map { ("\($0["frame_number"] as Int)-\($0["face_index"] as Int)", $0["crop_sha256"] as String) },
                              uniquingKeysWith: { a, _ in a })
        }
    }

    func testKilledRunResumesAndRerunDoesNothing() throws {
        // d3.mp4 four times over (1,416 frames): long enough that a run records frames (every ~2 s) well before it
        // ends, however fast the machine (the clip alone takes about 1.5 s on 2 cores).
        let clip = try makeTemporaryDirectory().appendingPathComponent("d3x4.mp4").path
        let loop = try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                  ["ffmpeg", "-v", "error", "-y", "-stream_loop", "3", "-i", TestPaths.video("d3.mp4").path,
                                   "-map", "0:v:0", "-c", "copy", clip])
        XCTAssertEqual(loop.status, 0, loop.stderr)
        let clean = try makeTemporaryDirectory()
        let reference = try detect(["--every", "2", clip], workspace: clean)
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let expected = try cropHashes(clean)
        XCTAssertEqual(expected.count, try reference.manifest().1.items.count)

        // Kill a run once it has recorded some frames (it records every ~2 s).
        let workspace = try makeTemporaryDirectory()
        let binary = try TestPaths.executable("detect")
        let (process, outURL, errURL) = try startProcess(binary, ["--workspace", workspace.path, "--json", "-q", "--every", "2", clip])
        let deadline = Date().addingTimeInterval(300)
        var recorded = 0
        while process.isRunning && Date() < deadline {
            usleep(200_000)
            recorded = (try? readCatalog(workspace) { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM detection_frames") ?? 0 }) ?? 0
            if recorded >= 10 { break }
        }
        let killedMidway = process.isRunning
        if killedMidway { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        _ = collect(process, outURL, errURL)
        XCTAssertTrue(killedMidway, "the run finished before it could be killed")

        let resumed = try detect(["--every", "2", clip], workspace: workspace)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let report = try XCTUnwrap(resumed.report)
        XCTAssertEqual(report.frames, 708)
        XCTAssertLessThanOrEqual(report.analysed, 708 - recorded, "frames recorded before the kill were analysed again")
        XCTAssertEqual(try cropHashes(workspace), expected, "the resumed run's crops differ from an uninterrupted run's")
        // The same tracks as the uninterrupted run (one person; the loop's jumps back to the start may cut them).
        XCTAssertEqual(try resumed.manifest().1.items.map(\.track), try reference.manifest().1.items.map(\.track))

        let again = try detect(["--every", "2", clip], workspace: workspace)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.report?.analysed, 0)
        XCTAssertEqual(again.report?.faces, report.faces)
    }

    func testShardsTogetherEqualTheWholeRun() throws {
        let clip = TestPaths.video("d3.mp4").path
        let workspace = try makeTemporaryDirectory()
        let whole = try detect(["--every", "6", clip], workspace: workspace)
        XCTAssertEqual(whole.status, 0, whole.stderr)
        var union: [Int] = []
        for k in 1...2 {
            let part = try detect(["--every", "6", "--shard", "\(k)/2", clip], workspace: workspace)
            XCTAssertEqual(part.status, 0, part.stderr)
            let (url, manifest) = try part.manifest()
            XCTAssertTrue(url.lastPathComponent.hasSuffix(".shard-\(k)-of-2.json"), url.path)
            union += manifest.items.map(\.frameNumber)
        }
        XCTAssertEqual(union.sorted(), try whole.manifest().1.items.map(\.frameNumber).sorted())
    }

    /// One analyzer, one frame at a time with each network spread over the cores, finds the same faces, tracks and
    /// crops (byte for byte) as one analyzer per core; a negative count is a usage error.
    func testOneAnalyzerFindsTheSameFaces() throws {
        let clip = TestPaths.video("d3.mp4").path
        let sides = try ["0", "1"].map { count -> (DetectRun, URL) in
            let workspace = try makeTemporaryDirectory()
            return (try detect(["--every", "10", "--analyzers", count, clip], workspace: workspace), workspace)
        }
        for (run, _) in sides { XCTAssertEqual(run.status, 0, run.stderr) }
        let many = try sides[0].0.manifest().1, one = try sides[1].0.manifest().1
        XCTAssertGreaterThan(many.items.count, 10)
        XCTAssertEqual(one.items.map(\.frameNumber), many.items.map(\.frameNumber))
        XCTAssertEqual(one.items.map(\.track), many.items.map(\.track))
        let crops = try cropHashes(sides[0].1)
        XCTAssertEqual(crops.count, many.items.count)
        XCTAssertEqual(try cropHashes(sides[1].1), crops, "crops differ byte for byte")
        let usage = try detect(["--analyzers", "-1", clip], workspace: try makeTemporaryDirectory())
        XCTAssertEqual(usage.status, 64, usage.stderr)
        XCTAssertTrue(usage.stderr.contains("--analyzers"), usage.stderr)
    }

    /// Frames from `fetch-frames`: faces link to their frames; a damaged frame file is skipped with a
    /// warning naming it, the rest are analysed.
    func testFramesManifestInputAndADamagedFrame() throws {
        let workspace = try makeTemporaryDirectory()
        let frames = try fetchFrames(["--every", "30", TestPaths.video("d3.mp4").path], workspace: workspace)
        XCTAssertEqual(frames.status, 0, frames.stderr)
        let (framesURL, framesManifest) = try frames.manifest()
        let run = try detect([framesURL.path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (url, manifest) = try run.manifest()
        XCTAssertEqual(url.lastPathComponent, "faces-d3.json")
        XCTAssertEqual(manifest.items.count, framesManifest.items.count)
        for item in manifest.items {
            let frame = try XCTUnwrap(item.frame)
            XCTAssertTrue(FileManager.default.fileExists(atPath: ManifestIO.resolve(frame, relativeToManifest: url).path))
        }
        let linked = try readCatalog(workspace) { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM faces JOIN frames ON frames.id = faces.frame_id") ?? 0
        }
        XCTAssertEqual(linked, manifest.items.count)
        // Again at another size without -q, stderr to a pipe: a task this short writes no progress line (a line at
        // the first frame used to show a meaningless rate and, for a frames manifest, a garbled name).
        let again = try runProcess(try TestPaths.executable("detect"), ["--workspace", workspace.path, "--size", "160", framesURL.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertNil(again.stderr.range(of: #"\d+/\d+ frames"#, options: .regularExpression), again.stderr)
        XCTAssertTrue(again.stderr.contains("detect: \(framesManifest.items.count) faces"), again.stderr)

        let victim = ManifestIO.resolve(framesManifest.items[3].path, relativeToManifest: framesURL)
        let bytes = try Data(contentsOf: victim)
        try bytes.prefix(300).write(to: victim)
        let damaged = try detect(["--size", "128", framesURL.path], workspace: workspace)
        XCTAssertEqual(damaged.status, 0, damaged.stderr)
        let report = try XCTUnwrap(damaged.report)
        XCTAssertEqual(report.faces, manifest.items.count - 1)
        XCTAssertTrue(report.damage.contains { $0.contains(victim.lastPathComponent) }, "\(report.damage)")
    }

    func testBadInputExitCodes() throws {
        let workspace = try makeTemporaryDirectory()
        // A frames manifest of an unknown major version.
        let future = workspace.appendingPathComponent("frames-future.json")
        try Data(#"{"schema": "facet.frames", "version": "2.0", "items": []}"#.utf8).write(to: future)
        let unknown = try detect([future.path], workspace: workspace)
        XCTAssertEqual(unknown.status, 65, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("frames-future.json") && unknown.stderr.contains("version 2.0"), unknown.stderr)
        // Missing models.
        let empty = try makeTemporaryDirectory()
        let noModels = try detect(["--models", empty.path, TestPaths.image("obama.jpg").path], workspace: workspace)
        XCTAssertEqual(noModels.status, 66, noModels.stderr)
        XCTAssertTrue(noModels.stderr.contains("make setup"), noModels.stderr)
        // A missing input, a file that is not a video, a bad option.
        let missing = try detect([workspace.appendingPathComponent("nope.mp4").path], workspace: workspace)
        XCTAssertEqual(missing.status, 66, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("nope.mp4"), missing.stderr)
        let garbage = workspace.appendingPathComponent("garbage.mp4")
        var rng = SplitMix64(seed: 9)
        try Data(rng.bytes(50_000)).write(to: garbage)
        let corrupt = try detect([garbage.path], workspace: workspace)
        XCTAssertEqual(corrupt.status, 65, corrupt.stderr)
        XCTAssertTrue(corrupt.stderr.contains("garbage.mp4"), corrupt.stderr)
        let usage = try detect(["--size", "8", TestPaths.image("obama.jpg").path], workspace: workspace)
        XCTAssertEqual(usage.status, 64, usage.stderr)
        // An audio-only file has no video stream.
        let audio = try detect([TestPaths.fixture("audio_only.m4a").path], workspace: workspace)
        XCTAssertEqual(audio.status, 65, audio.stderr)
    }
}
