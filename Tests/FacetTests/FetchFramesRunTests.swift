#if canImport(Glibc)
import Glibc
#endif
import FacetCore
import Foundation
import FrameExtraction
import GRDB
import Manifest
import Media
import XCTest

/// `fetch-frames` end to end: interruption and resume, a locked catalog, a full disk, shards, time windows
/// and `--min-change`.
final class FetchFramesRunTests: XCTestCase {
    var d18: URL { TestPaths.video("d18.mp4") }

    func testKilledRunResumes() throws {
        let d6 = TestPaths.video("d6.mp4")
        try requireSharedMedia(d6)
        let binary = try TestPaths.executable("fetch-frames")

        // Start, wait until the catalog records some frames (plus a seeded extra moment), then kill without
        // warning. A kill that comes after the run ended would check nothing: the test then tries again on a
        // fresh workspace, and fails when no attempt was killed midway.
        var rng = SeededRandom(seed: 18)
        var recorded = 0
        var killedMidway = false
        var ws = try makeTemporaryDirectory()
        for _ in 0..<3 {
            ws = try makeTemporaryDirectory()
            let (process, outURL, errURL) = try startProcess(binary, ["--workspace", ws.path, "--json", "-q", "--format", "png", d6.path])
            let deadline = Date().addingTimeInterval(120)
            recorded = 0
            while process.isRunning && Date() < deadline {
                recorded = (try? catalogFrameRows(ws)) ?? 0
                if recorded > 0 { break }
                usleep(20_000)
            }
            usleep(UInt32.random(in: 0...300_000, using: &rng))
            killedMidway = process.isRunning
            if killedMidway { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            recorded = (try? catalogFrameRows(ws)) ?? 0
            let first = collect(process, outURL, errURL)
            if killedMidway {
                XCTAssertEqual(process.terminationReason, .uncaughtSignal)
                XCTAssertGreaterThan(recorded, 0, "the run recorded no frames before it was killed; stderr:\n\(first.stderr)")
                XCTAssertLessThan(recorded, 1008, "all frames were recorded before the kill")
                XCTAssertFalse(FileManager.default.fileExists(atPath: ws.appendingPathComponent("Manifests/frames-d6.json").path))
                break
            }
        }
        XCTAssertTrue(killedMidway, "every run finished before it could be killed: the test checked nothing")

        // The same command again finishes the job, reusing what was recorded.
        let second = try fetchFrames(["--format", "png", d6.path], workspace: ws)
        XCTAssertEqual(second.status, 0, second.stderr)
        let report = try second.requireReport()
        XCTAssertEqual(report.frames, 1008)
        XCTAssertGreaterThan(report.reused, 0)
        XCTAssertGreaterThanOrEqual(report.reused, recorded)
        XCTAssertEqual(report.written + report.reused, 1008)
        let (url, manifest) = try second.manifest()
        XCTAssertEqual(manifest.items.count, 1008)
        XCTAssertEqual(manifest.items.map(\.frameNumber), Array(0..<1008))
        XCTAssertEqual(Set(manifest.items.map(\.path)).count, 1008)
        try assertItemFilesIntact(manifest, at: url)
        XCTAssertEqual(try catalogFrameRows(ws), 1008)
        // Byte for byte what an uninterrupted run writes (PNG output is deterministic).
        let clean = try fetchFrames(["--format", "png", d6.path], workspace: try makeTemporaryDirectory())
        XCTAssertEqual(manifest.items.map(\.sha256), try clean.manifest().1.items.map(\.sha256), "resumed frames differ from an uninterrupted run's")
    }

    func testLockedCatalog() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        let setup = try fetchFrames(["--every", "30", d18.path], workspace: ws)
        XCTAssertEqual(setup.status, 0, setup.stderr)
        XCTAssertEqual(try catalogFrameRows(ws), 8)

        var config = Configuration()
        config.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: ws.appendingPathComponent("catalog.sqlite").path, configuration: config)
        try holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN EXCLUSIVE TRANSACTION") }
        var released = false
        defer { if !released { try? holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") } } }

        let blocked = try fetchFrames(["--busy-timeout", "0.5", "--every", "20", d18.path], workspace: ws)
        assertRun(blocked, exits: 1, mentioning: ["locked", "catalog.sqlite"])

        try holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        released = true
        XCTAssertEqual(try catalogFrameRows(ws), 8, "earlier rows intact")
        let (url, manifest) = try setup.manifest()
        try assertItemFilesIntact(manifest, at: url)
        // Once free, the same command works.
        let retry = try fetchFrames(["--busy-timeout", "0.5", "--every", "20", d18.path], workspace: ws)
        XCTAssertEqual(retry.status, 0, retry.stderr)
        XCTAssertEqual(try retry.requireReport().frames, 11)
    }

    func testFullDisk() throws {
        try requireSharedMedia(d18)
        let mount = try mountTmpfs(size: "256k")
        let run = try fetchFrames(["--format", "png", d18.path], workspace: mount)
        assertRun(run, exits: 1, mentioning: ["disk full"])
        XCTAssertNil(run.report?.manifest, "no manifest claims frames that could not be written")
    }

    func testShardsTogetherEqualTheWholeRun() throws {
        try requireSharedMedia(d18)
        for selection in [["--every", "5"], ["--fps", "1"], ["--fps", "3", "--start", "0.5"]] {
            let whole = try fetchFrames(selection + [d18.path], workspace: try makeTemporaryDirectory())
            XCTAssertEqual(whole.status, 0, whole.stderr)
            let expected = try whole.manifest().1.items.map(\.frameNumber)
            XCTAssertFalse(expected.isEmpty)

            let ws = try makeTemporaryDirectory()
            var numbers: [Int] = []
            var manifests: [String] = []
            for shard in ["1/2", "2/2"] {
                let run = try fetchFrames(selection + ["--shard", shard, d18.path], workspace: ws)
                XCTAssertEqual(run.status, 0, run.stderr)
                let (url, manifest) = try run.manifest()
                manifests.append(url.lastPathComponent)
                numbers += manifest.items.map(\.frameNumber)
                XCTAssertEqual(manifest.tool.parameters["shard"], .string(shard))
            }
            XCTAssertEqual(manifests, ["frames-d18.shard-1-of-2.json", "frames-d18.shard-2-of-2.json"])
            XCTAssertEqual(numbers, expected, "\(selection): shards 1/2 + 2/2 must give exactly the unsharded frames")
            XCTAssertEqual(Set(numbers).count, numbers.count, "\(selection): shards overlap")
        }
        if let every5 = try? fetchFrames(["--every", "5", d18.path], workspace: try makeTemporaryDirectory()).manifest().1 {
            XCTAssertEqual(every5.items.map(\.frameNumber), Array(stride(from: 0, to: 216, by: 5)))
        }
    }

    func testTimeWindowWithFPS() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        let run = try fetchFrames(["--start", "2", "--end", "4", "--fps", "2", d18.path], workspace: ws)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (_, manifest) = try run.manifest()
        XCTAssertEqual(manifest.items.count, 4)
        for item in manifest.items {
            XCTAssertGreaterThanOrEqual(item.seconds, 2 - 1e-6)
            XCTAssertLessThan(item.seconds, 4)
        }
        XCTAssertEqual(manifest.items.map(\.frameNumber), [60, 75, 90, 105])
        // MM:SS times mean the same.
        let same = try fetchFrames(["--start", "0:02", "--end", "00:00:04", "--fps", "2", d18.path], workspace: try makeTemporaryDirectory())
        XCTAssertEqual(try same.manifest().1.items.map(\.frameNumber), [60, 75, 90, 105])
        // --max-frames caps per input.
        let capped = try fetchFrames(["--max-frames", "3", "--every", "2", d18.path], workspace: try makeTemporaryDirectory())
        XCTAssertEqual(try capped.manifest().1.items.map(\.frameNumber), [0, 2, 4])
    }

    func testMinChangeDropsIdenticalFrames() throws {
        let ws = try makeTemporaryDirectory()
        let clip = ws.appendingPathComponent("inputs/still.mp4")
        let writer = try VideoWriter(url: clip, options: VideoWriterOptions(width: 160, height: 120, preset: "ultrafast"))
        let still = Synthetic.gradient(width: 160, height: 120, square: (x: 50, y: 40, size: 30))
        for _ in 0..<30 { try writer.write(still) }
        try writer.finish()

        let run = try fetchFrames(["--min-change", "1", clip.path], workspace: ws)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try run.requireReport()
        XCTAssertEqual(report.frames, 1)
        XCTAssertEqual(report.similarSkipped, 29)
        XCTAssertEqual(try run.manifest().1.items.map(\.frameNumber), [0])

        // Frames whose brightness steps by 20 levels each are change enough: every frame is kept.
        let moving = ws.appendingPathComponent("inputs/moving.mp4")
        let movingWriter = try VideoWriter(url: moving, options: VideoWriterOptions(width: 160, height: 120, preset: "ultrafast"))
        for i in 0..<10 {
            let level = UInt8(30 + i * 20)
            try movingWriter.write(RGBImage(width: 160, height: 120, fill: (level, level, level)))
        }
        try movingWriter.finish()
        let movingRun = try fetchFrames(["--min-change", "1", moving.path], workspace: ws)
        XCTAssertEqual(try movingRun.requireReport().frames, 10)
        XCTAssertEqual(movingRun.report?.similarSkipped, 0)
    }

    func testRotatedVideoFramesAreUpright() throws {
        let ws = try makeTemporaryDirectory()
        let run = try fetchFrames(["--every", "10", "--format", "png", TestPaths.fixture("rotated_90.mp4").path], workspace: ws)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (url, manifest) = try run.manifest()
        XCTAssertFalse(manifest.items.isEmpty)
        for item in manifest.items {
            XCTAssertEqual(item.width, 360)
            XCTAssertEqual(item.height, 640)
            let image = try ImageDecoder.decode(fileAt: ManifestIO.resolve(item.path, relativeToManifest: url))
            XCTAssertEqual(image.width, 360)
            XCTAssertEqual(image.height, 640)
        }
        try assertItemFilesIntact(manifest, at: url)
    }
}
