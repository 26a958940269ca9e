import FacetCore
import Foundation
import GRDB
import XCTest

/// kill -9 at 20 seeded moments of each long tool, then rerun (issue 18): the result equals an uninterrupted
/// run's, byte for byte where the outputs are deterministic (everything but creation times and timings).
/// The harness is `KillCampaign` (KillResumeSupport.swift); the inputs are small real ones (1.5 s of
/// `two_people_stage.mp4`, every 3rd frame of `d18.mp4`, a 6-iteration `lite` model) so that 20 kills per tool
/// stay affordable.
final class ReliabilityKillTests: XCTestCase {
    /// Row counts of catalog tables, as outcomes.
    func counts(_ workspace: URL, _ tables: [String]) throws -> [String: String] {
        try readCatalog(workspace) { db in
            var result: [String: String] = [:]
            for table in tables { result["catalog:\(table)"] = String(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? -1) }
            return result
        }
    }

    var d18: URL { TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4") }

    /// What a write killed midway leaves (`.NAME.PID.N.tmp`) is removed by the next write into that folder,
    /// while a temporary file a live writer holds (locked) stays, and names that are not Facet's are left alone.
    func testLeftoverTemporaryFilesOfKilledWritersAreRemoved() throws {
        let folder = try makeTemporaryDirectory()
        let dead = folder.appendingPathComponent(".000120.png.22927.503477018.tmp")
        let deadJoin = folder.appendingPathComponent(".out.mkv.4242.join.tmp")
        let other = folder.appendingPathComponent(".notes.tmp")
        for url in [dead, deadJoin, other] { try Data("partial".utf8).write(to: url) }
        let live = try TemporaryFile.create(for: folder.appendingPathComponent("live.png"))
        defer { TemporaryFile.discard(live) }
        try AtomicFile.write(Data("frame".utf8), to: folder.appendingPathComponent("000121.png"))
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        XCTAssertFalse(names.contains(dead.lastPathComponent))
        XCTAssertFalse(names.contains(deadJoin.lastPathComponent))
        XCTAssertTrue(names.contains(other.lastPathComponent), "not a name Facet gives its temporary files")
        XCTAssertTrue(names.contains((live.path as NSString).lastPathComponent), "a live writer's file was removed")
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("000121.png")), Data("frame".utf8))
        // A later sweep takes the live file only once its writer is gone.
        XCTAssertEqual(TemporaryFile.sweep(folder), [])
    }

    func testFetchFramesResumesAfterKills() throws {
        try KillCampaign(tool: "fetch-frames", seed: 0x18_0001, prepare: { try self.makeTemporaryDirectory() },
                         arguments: { _ in ["--format", "png", "--every", "3", self.d18.path] },
                         outcome: { ws in
                             try KillCampaign.digest(ws, roots: ["Datasets", "Manifests"]).merging(try self.counts(ws, ["frames"])) { a, _ in a }
                         }).run(in: self)
    }

    func testDetectResumesAfterKills() throws {
        try KillCampaign(tool: "detect", seed: 0x18_0002, prepare: { try self.makeTemporaryDirectory() },
                         arguments: { _ in ["--mask", "--every", "6", self.d18.path] },
                         outcome: { ws in
                             try KillCampaign.digest(ws, roots: ["Datasets", "Manifests"]).merging(try self.counts(ws, ["faces"])) { a, _ in a }
                         }).run(in: self)
    }

    func testIdentifyLabelAndClusterResumeAfterKills() throws {
        let fx = try KillFixtures.shared.get()
        try KillCampaign(tool: "identify", subcommand: "label", seed: 0x18_0003, kills: 10,
                         prepare: { try KillCampaign.copy(fx.identifyTemplate, in: self) },
                         arguments: { ws in ["--target", "Lin-Manuel Miranda", ws.appendingPathComponent("Manifests/faces-short.json").path] },
                         outcome: { ws in
                             try KillCampaign.digest(ws, roots: ["Manifests", "Datasets/clusters"]).merging(try self.counts(ws, ["face_embeddings"])) { a, _ in a }
                         }).run(in: self)
        try KillCampaign(tool: "identify", subcommand: "cluster", seed: 0x18_0004, kills: 10,
                         prepare: { try KillCampaign.copy(fx.identifyTemplate, in: self) },
                         arguments: { ws in [ws.appendingPathComponent("Manifests/faces-short.json").path] },
                         outcome: { ws in
                             try KillCampaign.digest(ws, roots: ["Manifests", "Datasets/clusters"]).merging(try self.counts(ws, ["face_embeddings"])) { a, _ in a }
                         }).run(in: self)
    }

    func testDedupeResumesAfterKills() throws {
        let fx = try KillFixtures.shared.get()
        try KillCampaign(tool: "dedupe", subcommand: "build", seed: 0x18_0005,
                         prepare: { try KillCampaign.copy(fx.template, in: self) },
                         arguments: { ws in ["--identity", "d18", "--force", ws.appendingPathComponent("Manifests/faces-d18.json").path] },
                         outcome: { ws in
                             try KillCampaign.digest(ws, roots: ["Datasets/d18"]).merging(try self.counts(ws, ["datasets", "dataset_faces"])) { a, _ in a }
                         }).run(in: self)
    }

    func testTrainResumesAfterKills() throws {
        let fx = try KillFixtures.shared.get()
        try KillCampaign(tool: "train", seed: 0x18_0006,
                         prepare: { try KillCampaign.copy(fx.template, in: self) },
                         arguments: { ws in
                             let output = ws.appendingPathComponent("Models/k")
                             let common = ["--iterations", "6", "--threads", "1", "--output", output.path]
                             if FileManager.default.fileExists(atPath: output.appendingPathComponent("checkpoint.safetensors").path) {
                                 return ["--resume"] + common
                             }
                             return common + ["--batch-size", "2", "--checkpoint-every", "2", "--preview-every", "3", "--log-every", "1",
                                              ws.appendingPathComponent("Manifests/faces-short-Lin-Manuel_Miranda.json").path,
                                              ws.appendingPathComponent("Manifests/faces-d18.json").path]
                         },
                         outcome: { ws in
                             try KillCampaign.digest(ws, roots: ["Models/k"], volatileKeys: ["createdAt", "seconds", "tool.parameters"],
                                                     volatileColumns: ["seconds"])
                         }).run(in: self)
    }

    func testSwapResumesAfterKills() throws {
        let fx = try KillFixtures.shared.get()
        try KillCampaign(tool: "swap", seed: 0x18_0007,
                         prepare: { try KillCampaign.copy(fx.template, in: self) },
                         arguments: { ws in
                             ["--model", ws.appendingPathComponent("Models/m/model.json").path, "--codec", "ffv1", "--segment-frames", "10",
                              "--output", ws.appendingPathComponent("Swaps/k.mkv").path, ws.appendingPathComponent("inputs/short.mp4").path]
                         },
                         outcome: { ws in
                             var result = try KillCampaign.digest(ws, roots: ["Swaps", "Manifests/swap-k.json"])
                             let frames = try self.decodedFrames(ws.appendingPathComponent("Swaps/k.mkv"))
                             result["frames"] = SHA256.hex(Data(frames.flatMap(\.image.pixels)))
                             result["frame count"] = String(frames.count)
                             return result
                         }).run(in: self)
    }

    func testScoreResumesAfterKills() throws {
        let fx = try KillFixtures.shared.get()
        try KillCampaign(tool: "score", subcommand: "run", seed: 0x18_0008,
                         prepare: { try KillCampaign.copy(fx.template, in: self) },
                         arguments: { ws in [ws.appendingPathComponent("Manifests/swap-out.json").path] },
                         outcome: { ws in
                             try KillCampaign.digest(ws, roots: ["Scores"], volatileKeys: ["createdAt", "seconds", "facesPerSecond"],
                                                     presenceOnly: { $0.hasSuffix(".html") })
                                 .merging(try self.counts(ws, ["score_runs", "face_scores"])) { a, _ in a }
                         }).run(in: self)
    }
}

/// The small workspace the kill campaigns copy, made once per test process with the built tools:
/// `inputs/short.mp4` (the first 1.5 s of `two_people_stage.mp4`, 45 frames, both people), its faces with masks,
/// every 3rd frame of `d18.mp4` with masks, Lin-Manuel Miranda enrolled (`identifyTemplate` stops here), his
/// faces labelled, a 4-iteration `lite` model (`Models/m`) and a swap of the clip (`Swaps/out.mkv`,
/// `Manifests/swap-out.json`).
enum KillFixtures {
    struct Data {
        let template: URL
        let identifyTemplate: URL
    }

    static let shared: Result<Data, any Error> = Result {
        let root = try sharedTemporaryDirectory("kill")
        let ws = root.appendingPathComponent("ws")
        let inputs = ws.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        func check(_ result: ProcessResult, _ what: String) throws {
            guard result.status == 0 else { throw TestFailure("kill fixture: \(what) exited \(result.status): \(result.stderr)") }
        }
        let short = inputs.appendingPathComponent("short.mp4")
        try check(try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                 ["ffmpeg", "-v", "error", "-y", "-i", TestPaths.repo.appendingPathComponent("Datasets/samples/two_people_stage.mp4").path,
                                  "-t", "1.5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", short.path]), "ffmpeg")
        try check(try runDetect(["--mask", "--output", ws.appendingPathComponent("Manifests/faces-short.json").path, short.path], workspace: ws).result,
                  "detect short.mp4")
        try check(try runDetect(["--mask", "--every", "3", TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4").path], workspace: ws).result,
                  "detect d18.mp4")
        try check(try runIdentify("enroll", ["--name", "Lin-Manuel Miranda", "--consent", "public White House footage; tests only",
                                             TestPaths.repo.appendingPathComponent("Datasets/samples/lin-manuel-miranda.jpg").path], workspace: ws), "enroll")
        let identifyTemplate = root.appendingPathComponent("identify")
        try check(try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["cp", "-a", ws.path, identifyTemplate.path]), "cp")
        try check(try runIdentify("label", ["--target", "Lin-Manuel Miranda", ws.appendingPathComponent("Manifests/faces-short.json").path], workspace: ws),
                  "label")
        try check(try runProcess(try TestPaths.executable("train"),
                                 ["--workspace", ws.path, "-q", "--iterations", "4", "--batch-size", "4", "--preview-every", "4", "--threads", "1",
                                  "--output", ws.appendingPathComponent("Models/m").path,
                                  ws.appendingPathComponent("Manifests/faces-short-Lin-Manuel_Miranda.json").path,
                                  ws.appendingPathComponent("Manifests/faces-d18.json").path], timeout: 600), "train")
        // swap needs the weights only: the 50 MB checkpoint would make every copy of the template slow.
        try FileManager.default.removeItem(at: ws.appendingPathComponent("Models/m/checkpoint.safetensors"))
        try? FileManager.default.removeItem(at: ws.appendingPathComponent("Models/m/previews"))
        try check(try runProcess(try TestPaths.executable("swap"),
                                 ["--workspace", ws.path, "-q", "--model", ws.appendingPathComponent("Models/m/model.json").path, "--codec", "ffv1",
                                  "--output", ws.appendingPathComponent("Swaps/out.mkv").path, short.path], timeout: 600), "swap")
        return Data(template: ws, identifyTemplate: identifyTemplate)
    }
}
