#if canImport(Glibc)
import Glibc
#endif
import FacetCore
import Foundation
import GRDB
import Manifest
import XCTest

/// Shards started at the same instant on a brand-new workspace: one catalog, no error, exact row counts,
/// and the shards' manifests together equal an unsharded run's (issue 18, "fresh-catalog race").
final class ReliabilityConcurrencyTests: XCTestCase {
    var d18: URL { TestPaths.video("d18.mp4") }

    func testShardsStartedTogetherOnANewWorkspace() throws {
        try requireSharedMedia(d18)
        let binary = try TestPaths.executable("fetch-frames")
        let whole = try fetchFrames(["--every", "10", d18.path], workspace: try makeTemporaryDirectory())
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let wholeItems = try whole.manifest().1.items
        XCTAssertEqual(wholeItems.count, 22)

        let shards = 5, rounds = 4
        for round in 1...rounds {
            let ws = try makeTemporaryDirectory()
            // Every process is created first and released together through one FIFO-free barrier: each
            // child waits (in `sh`) until a start file appears, so they hit the new catalog at once.
            let go = ws.appendingPathComponent("go")
            var started: [(Process, URL, URL)] = []
            for k in 1...shards {
                let script = "while [ ! -e \"$0\" ]; do :; done; exec \"$@\""
                started.append(try startProcess(URL(fileURLWithPath: "/bin/sh"),
                                                ["-c", script, go.path, binary.path, "--workspace", ws.path, "--json", "-q",
                                                 "--every", "10", "--shard", "\(k)/\(shards)", d18.path]))
            }
            usleep(200_000)
            FileManager.default.createFile(atPath: go.path, contents: nil)
            var items: [FrameItem] = []
            for (k, (process, out, err)) in started.enumerated() {
                process.waitUntilExit()
                let result = collect(process, out, err)
                XCTAssertEqual(result.status, 0, "round \(round), shard \(k + 1)/\(shards): \(result.stderr)")
                XCTAssertEqual(result.stderr, "", "round \(round), shard \(k + 1)")
                let manifestURL = ws.appendingPathComponent("Manifests/frames-d18.shard-\(k + 1)-of-\(shards).json")
                if let manifest = try? ManifestIO.read(FramesManifest.self, from: manifestURL) {
                    items += manifest.items
                } else {
                    XCTFail("round \(round): no manifest from shard \(k + 1)")
                }
            }
            XCTAssertEqual(items.map(\.frameNumber), wholeItems.map(\.frameNumber), "round \(round)")
            XCTAssertEqual(items.map(\.sha256), wholeItems.map(\.sha256), "round \(round): same frame bytes as the unsharded run")
            try readCatalog(ws) { db in
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM frames"), 22, "round \(round)")
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sources"), 1, "round \(round)")
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM extractions WHERE status = 'complete'"), shards, "round \(round)")
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM extraction_frames"), 22, "round \(round)")
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT identifier) FROM grdb_migrations"),
                               try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM grdb_migrations"), "round \(round)")
            }
        }
    }

    /// Two `dedupe` builds of one identity at once: the second exits 1 at once naming the dataset folder, and
    /// leaves the first's folder alone (the lock is `Datasets/.<identity>.dedupe.lock`).
    func testDedupeRefusesASecondBuildOfTheSameDataset() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"))
        let (d3URL, _, _) = try DetectFixtures.d3.get()
        let ws = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(at: ws.appendingPathComponent("Datasets"), withIntermediateDirectories: true)
        let held = try FileLock(path: ws.appendingPathComponent("Datasets/.d3.dedupe.lock").path, timeout: 0)
        let blocked = try runDedupe(["--identity", "d3", "--force", d3URL.path], workspace: ws)
        XCTAssertEqual(blocked.status, 1, blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("another dedupe") && blocked.stderr.contains("Datasets/d3"), blocked.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.appendingPathComponent("Datasets/d3").path))
        held.release()
        let free = try runDedupe(["--identity", "d3", "--force", d3URL.path], workspace: ws)
        XCTAssertEqual(free.status, 0, free.stderr)
    }

    /// `train` on a model folder another process is training (its `.train.lock` held) exits 1, writing nothing.
    func testTrainRefusesALockedModelFolder() throws {
        let data = try trainFixtures()
        let output = try makeTemporaryDirectory().appendingPathComponent("model")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let held = try FileLock(path: output.appendingPathComponent(".train.lock").path, timeout: 0)
        let run = try train(quick(2, output: output) + [data.facesA.path, data.facesB.path], workspace: data.workspace)
        assertTrainRun(run, exits: 1, mentioning: ["another train process", output.path])
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.appendingPathComponent("model.json").path))
        held.release()
    }
}
