#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
import Manifest
import Media
import NN
import Tensor
import Training
import XCTest

/// `train` through the built binary on real faces: outputs, exact resume, signals, --init-from, bad input.
final class TrainCLITests: XCTestCase {
    func testTrainWritesModelPreviewsLogsAndCatalogRows() throws {
        let data = try trainFixtures()
        let output = try makeTemporaryDirectory().appendingPathComponent("model")
        let run = try train(quick(4, output: output) + [data.facesA.path, data.facesB.path], workspace: data.workspace)
        assertTrainRun(run, exits: 0, mentioning: [])
        let report = try run.requireReport()
        XCTAssertEqual(report.iterations, 4)
        XCTAssertEqual(report.stoppedBy, "iterations")
        XCTAssertEqual(report.faces, [10, 10])
        XCTAssertEqual(report.identities, ["a", "b"])
        XCTAssertTrue(report.warnings.contains { $0.contains("only 10 faces") }, "\(report.warnings)")   // a tiny dataset warns
        for name in ["checkpoint.safetensors", "model.safetensors", "model.json", "preview.png", "loss.csv", "loss.png",
                     "previews/0000002.png", "previews/0000004.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: output.appendingPathComponent(name).path), name)
        }
        try validate(output.appendingPathComponent("model.json"), schema: "model.schema.json")
        let manifest = try ManifestIO.read(ModelManifest.self, from: output.appendingPathComponent("model.json"))
        XCTAssertEqual(manifest.model, "lite")
        XCTAssertEqual(manifest.training.iterations, 4)
        XCTAssertEqual(manifest.alignment.cropSize, 256)
        XCTAssertEqual(manifest.datasets.map(\.faces), [10, 10])
        XCTAssertEqual(manifest.weights.sha256, try SHA256sum(output.appendingPathComponent("model.safetensors")))
        // Preview: 3 columns, 6 rows of 64 px tiles with 2 px gaps.
        let preview = try ImageDecoder.decode(fileAt: output.appendingPathComponent("preview.png"))
        XCTAssertEqual(preview.width, 3 * 64 + 4 * 2)
        XCTAssertEqual(preview.height, 6 * 64 + 7 * 2)
        let csv = try String(contentsOf: output.appendingPathComponent("loss.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 5)
        XCTAssertEqual(csv[0], "iteration,seconds,loss_a,loss_b,mask_loss_a,mask_loss_b,d_loss_a,d_loss_b,g_loss_a,g_loss_b,cycle_loss_a,cycle_loss_b")
        // The defaults: no mask head, the GAN's discriminators training from the start, the generator's term after
        // the warm-up (so empty here), no cycle term.
        let fields = csv[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(fields.count, 12, "\(csv[1])")
        XCTAssertEqual(fields.enumerated().filter { $0.element.isEmpty }.map(\.offset), [4, 5, 8, 9, 10, 11], "\(csv[1])")
        let (status, iterations, losses) = try readCatalog(data.workspace) { db -> (String, Int, Int) in
            let row = try Row.fetchOne(db, sql: "SELECT id, status, iterations FROM training_runs WHERE output_path = ?", arguments: [output.path])
            let id: Int64 = row?["id"] ?? -1
            return (row?["status"] ?? "", row?["iterations"] ?? -1,
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM training_losses WHERE run_id = ?", arguments: [id]) ?? 0)
        }
        XCTAssertEqual(status, "complete")
        XCTAssertEqual(iterations, 4)
        XCTAssertEqual(losses, 4)
    }

    func testResumedRunIsBitIdenticalToAnUninterruptedOne() throws {
        let data = try trainFixtures()
        let folder = try makeTemporaryDirectory()
        let straight = folder.appendingPathComponent("straight"), resumed = folder.appendingPathComponent("resumed")
        let datasets = [data.facesA.path, data.facesB.path]
        let common = ["--mask-head", "--loss", "mixed", "--warp-to-landmarks"]
        assertTrainRun(try train(quick(6, output: straight, common) + datasets, workspace: data.workspace), exits: 0, mentioning: [])
        assertTrainRun(try train(quick(3, output: resumed, common) + datasets, workspace: data.workspace), exits: 0, mentioning: [])
        // Resuming needs neither the datasets nor the settings again.
        let second = try train(quick(6, output: resumed, ["--resume"]), workspace: data.workspace)
        assertTrainRun(second, exits: 0, mentioning: [])
        XCTAssertEqual(try second.requireReport().startIteration, 3)
        let a = try Data(contentsOf: straight.appendingPathComponent("model.safetensors"))
        let b = try Data(contentsOf: resumed.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(a == b, "the resumed model's weights differ from the uninterrupted run's")
        // A resumed run refuses a different setting.
        let refused = try train(quick(8, output: resumed, ["--resume", "--batch-size", "4"]), workspace: data.workspace)
        assertTrainRun(refused, exits: 65, mentioning: ["--batch-size 4 differs from the checkpoint's 2"])
    }

    /// A GAN + cycle run: resumed mid-way it ends bit-identical to an uninterrupted one (generator,
    /// discriminators, every Adam state); its log has the adversarial columns after the warm-up; `swap`'s loader
    /// reads its model; `--init-from` carries its discriminators into a new GAN run, and starts them fresh from a plain model.
    func testGANAndCycleRunResumesBitIdenticallyAndInitFromCarriesTheDiscriminators() throws {
        let data = try trainFixtures()
        let folder = try makeTemporaryDirectory()
        let straight = folder.appendingPathComponent("straight"), resumed = folder.appendingPathComponent("resumed")
        let datasets = [data.facesA.path, data.facesB.path]
        let gan = ["--gan-weight", "0.1", "--gan-warmup", "2", "--cycle-weight", "1"]
        assertTrainRun(try train(quick(6, output: straight, gan) + datasets, workspace: data.workspace), exits: 0, mentioning: [])
        assertTrainRun(try train(quick(3, output: resumed, gan) + datasets, workspace: data.workspace), exits: 0, mentioning: [])
        let second = try train(quick(6, output: resumed, ["--resume"]), workspace: data.workspace)
        assertTrainRun(second, exits: 0, mentioning: [])
        XCTAssertEqual(try second.requireReport().startIteration, 3)
        let a = try Data(contentsOf: straight.appendingPathComponent("model.safetensors"))
        XCTAssertTrue(a == (try Data(contentsOf: resumed.appendingPathComponent("model.safetensors"))),
                      "the resumed GAN model's weights differ from the uninterrupted run's")
        XCTAssertTrue(try SafeTensors.read(straight.appendingPathComponent("checkpoint.safetensors")).tensors
            .contains { $0.name == "optimizer.DB.v.discriminatorB.output.kernel" })
        let csv = try String(contentsOf: straight.appendingPathComponent("loss.csv"), encoding: .utf8).split(separator: "\n")
            .dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(csv.count, 6)
        for row in csv {
            XCTAssertEqual(row.count, 12)
            let warm = Int(row[0]) ?? 0 <= 2
            for k in [6, 7, 10, 11] { XCTAssertNotNil(Double(row[k]), "row \(row[0]) column \(k)") }
            for k in [8, 9] { XCTAssertEqual(Double(row[k]) == nil, warm, "row \(row[0]) column \(k): the generator's term starts after the warm-up") }
        }
        XCTAssertEqual(try ImageDecoder.decode(fileAt: straight.appendingPathComponent("loss.png")).height, 700)
        XCTAssertEqual(try TrainedModel.load(straight.appendingPathComponent("model.json")).inputSize, 64)
        // A changed weight is refused on resume.
        let refused = try train(quick(8, output: resumed, ["--resume", "--gan-weight", "0.2"]), workspace: data.workspace)
        assertTrainRun(refused, exits: 65, mentioning: ["--gan-weight 0.2 differs from the checkpoint's 0.1"])

        // --init-from a GAN model: the new GAN run starts with its discriminators.
        let carried = folder.appendingPathComponent("carried")
        let run = try train(["--init-from", straight.appendingPathComponent("model.json").path, "--iterations", "0", "--gan-weight", "0.3",
                             "--output", carried.path] + datasets, workspace: data.workspace)
        assertTrainRun(run, exits: 0, mentioning: [])
        XCTAssertTrue(try SafeTensors.read(carried.appendingPathComponent("model.safetensors")).tensors.map(\.tensor)
                      == SafeTensors.read(straight.appendingPathComponent("model.safetensors")).tensors.map(\.tensor))
        // From a plain model they start fresh; a plain run from a GAN model drops them.
        let plain = folder.appendingPathComponent("plain")
        let dropped = try train(["--init-from", straight.appendingPathComponent("model.json").path, "--iterations", "0", "--gan-weight", "0",
                                 "--output", plain.path] + datasets, workspace: data.workspace)
        assertTrainRun(dropped, exits: 0, mentioning: [])
        XCTAssertFalse(try SafeTensors.read(plain.appendingPathComponent("model.safetensors")).tensors.contains { $0.name.hasPrefix("discriminator") })
        let fresh = try train(["--init-from", plain.appendingPathComponent("model.json").path, "--iterations", "0", "--gan-weight", "0.1",
                               "--output", folder.appendingPathComponent("fresh").path] + datasets, workspace: data.workspace)
        assertTrainRun(fresh, exits: 0, mentioning: [])
        func discriminators(_ name: String) throws -> [Tensor] {
            try SafeTensors.read(folder.appendingPathComponent(name).appendingPathComponent("model.safetensors")).tensors
                .filter { $0.name.hasPrefix("discriminator") }.map(\.tensor)
        }
        XCTAssertEqual(try discriminators("fresh").count, 16)
        XCTAssertNotEqual(try discriminators("fresh"), try discriminators("straight"))
    }

    func testSIGINTStopsWithACheckpointAndTheModel() throws {
        let data = try trainFixtures()
        let output = try makeTemporaryDirectory().appendingPathComponent("model")
        let binary = try TestPaths.executable("train")
        let (process, outURL, errURL) = try startProcess(binary, ["--workspace", data.workspace.path, "--json", "-q"]
            + quick(100_000, output: output) + [data.facesA.path, data.facesB.path])
        let checkpoint = output.appendingPathComponent("checkpoint.safetensors")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint.path) && process.isRunning && Date() < deadline { usleep(20_000) }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let result = collect(process, outURL, errURL)
        XCTAssertEqual(result.status, 128 + SIGINT, result.stderr)
        let report = try XCTUnwrap(try? JSONDecoder().decode(TrainReport.self, from: result.stdoutData), result.stderr)
        XCTAssertEqual(report.stoppedBy, "signal")
        XCTAssertGreaterThanOrEqual(report.iterations, 2)
        let (state, iteration) = try TrainingState.read(checkpoint: checkpoint)
        XCTAssertEqual(iteration, report.iterations)
        XCTAssertEqual(state.settings.batchSize, 2)
        let manifest = try ManifestIO.read(ModelManifest.self, from: output.appendingPathComponent("model.json"))
        XCTAssertEqual(manifest.training.iterations, report.iterations)
        let status = try readCatalog(data.workspace) { db in
            try String.fetchOne(db, sql: "SELECT status FROM training_runs WHERE output_path = ?", arguments: [output.path])
        }
        XCTAssertEqual(status, "stopped")
    }

    func testKillDuringACheckpointWriteKeepsThePreviousCheckpoint() throws {
        let data = try trainFixtures()
        let output = try makeTemporaryDirectory().appendingPathComponent("model")
        let binary = try TestPaths.executable("train")
        // A checkpoint every iteration: most of the time goes to writing them.
        let (process, outURL, errURL) = try startProcess(binary, ["--workspace", data.workspace.path, "--json", "-q", "--iterations", "100000",
            "--batch-size", "2", "--checkpoint-every", "1", "--output", output.path, data.facesA.path, data.facesB.path])
        let checkpoint = output.appendingPathComponent("checkpoint.safetensors")
        let deadline = Date().addingTimeInterval(120)
        var caught = false
        while process.isRunning && Date() < deadline {
            if FileManager.default.fileExists(atPath: checkpoint.path),
               temporaryFiles(in: output).contains(where: { $0.hasPrefix(".checkpoint.safetensors.") }) {
                kill(process.processIdentifier, SIGKILL)
                caught = true
                break
            }
            usleep(500)
        }
        process.waitUntilExit()
        _ = collect(process, outURL, errURL)
        XCTAssertTrue(caught, "never saw a checkpoint being written")
        XCTAssertFalse(temporaryFiles(in: output).isEmpty, "the half-written checkpoint should be left as a temporary file")
        // The previous checkpoint is whole: it loads and the run resumes from it, cleaning up the leftover.
        let (_, iteration) = try TrainingState.read(checkpoint: checkpoint)
        XCTAssertGreaterThanOrEqual(iteration, 1)
        let resumed = try train(["--resume", "--iterations", String(iteration + 1), "--output", output.path], workspace: data.workspace)
        assertTrainRun(resumed, exits: 0, mentioning: [])
        XCTAssertEqual(try resumed.requireReport().startIteration, iteration)
        XCTAssertEqual(temporaryFiles(in: output), [])
    }

    func testInitFromStartsWithTheTrainedWeights() throws {
        let data = try trainFixtures()
        let folder = try makeTemporaryDirectory()
        let first = folder.appendingPathComponent("first"), second = folder.appendingPathComponent("second")
        assertTrainRun(try train(quick(3, output: first) + [data.facesA.path, data.facesB.path], workspace: data.workspace), exits: 0, mentioning: [])
        // No iterations: the new model is exactly the one it started from.
        let run = try train(["--init-from", first.appendingPathComponent("model.json").path, "--iterations", "0", "--seed", "9",
                             "--output", second.path, data.facesB.path, data.facesA.path], workspace: data.workspace)
        assertTrainRun(run, exits: 0, mentioning: [])
        let a = try SafeTensors.read(first.appendingPathComponent("model.safetensors"))
        let b = try SafeTensors.read(second.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        XCTAssertTrue(a.tensors.map(\.tensor) == b.tensors.map(\.tensor), "weights differ from the model they started from")
        let manifest = try ManifestIO.read(ModelManifest.self, from: second.appendingPathComponent("model.json"))
        XCTAssertEqual(manifest.training.initFrom?.path, "../first/model.json")
        try validate(second.appendingPathComponent("model.json"), schema: "model.schema.json")
        // A model of another architecture is refused.
        let mismatch = try train(["--init-from", first.appendingPathComponent("model.json").path, "--mask-head", "--iterations", "1",
                                  "--output", folder.appendingPathComponent("third").path, data.facesA.path, data.facesB.path],
                                 workspace: data.workspace)
        assertTrainRun(mismatch, exits: 65, mentioning: ["cannot initialise from this model", "mask head"])
    }

    func testBadInputsExitWithTheDocumentedCodes() throws {
        let data = try trainFixtures()
        let folder = try makeTemporaryDirectory()
        let datasets = [data.facesA.path, data.facesB.path]

        // An empty dataset.
        let empty = folder.appendingPathComponent("faces-empty.json")
        try FileManager.default.copyItem(at: data.facesA, to: empty)
        try editJSON(empty) { $0["items"] = [Any]() }
        let emptyRun = try train(quick(2, output: folder.appendingPathComponent("m1")) + [empty.path, data.facesB.path], workspace: data.workspace)
        assertTrainRun(emptyRun, exits: 65, mentioning: [empty.path, "has no faces"])

        // Crops of different sizes.
        let sizes = try train(quick(2, output: folder.appendingPathComponent("m2")) + [data.facesA.path, data.facesB128.path], workspace: data.workspace)
        assertTrainRun(sizes, exits: 65, mentioning: [data.facesA.path, data.facesB128.path, "256 px", "128 px"])

        // A missing dataset.
        let missing = try train(quick(2, output: folder.appendingPathComponent("m3")) + [data.facesA.path, folder.appendingPathComponent("nope.json").path],
                                workspace: data.workspace)
        assertTrainRun(missing, exits: 66, mentioning: ["nope.json"])

        // A negative GAN ramp: a usage error, nothing written.
        let ramp = folder.appendingPathComponent("m4")
        assertTrainRun(try train(quick(2, output: ramp) + ["--gan-ramp=-1"] + datasets, workspace: data.workspace),
                       exits: 64, mentioning: ["--gan-ramp must be 0 or more"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: ramp.appendingPathComponent("model.json").path))

        // A trained run to damage.
        let model = folder.appendingPathComponent("model")
        assertTrainRun(try train(quick(2, output: model) + datasets, workspace: data.workspace), exits: 0, mentioning: [])
        // Training again into it without --resume or --force.
        assertTrainRun(try train(quick(2, output: model) + datasets, workspace: data.workspace), exits: 64, mentioning: ["--resume", "--force"])

        // A corrupt (truncated) checkpoint: refused, nothing else touched.
        let checkpoint = model.appendingPathComponent("checkpoint.safetensors")
        let csvBefore = try Data(contentsOf: model.appendingPathComponent("loss.csv"))
        let manifestBefore = try Data(contentsOf: model.appendingPathComponent("model.json"))
        let handle = try FileHandle(forWritingTo: checkpoint)
        try handle.truncate(atOffset: (try handle.seekToEnd()) / 2)
        try handle.close()
        let corrupt = try train(quick(4, output: model, ["--resume"]), workspace: data.workspace)
        assertTrainRun(corrupt, exits: 65, mentioning: [checkpoint.path])
        XCTAssertEqual(try Data(contentsOf: model.appendingPathComponent("loss.csv")), csvBefore)
        XCTAssertEqual(try Data(contentsOf: model.appendingPathComponent("model.json")), manifestBefore)
        // Garbage instead of a checkpoint.
        try Data("not a checkpoint at all".utf8).write(to: checkpoint)
        assertTrainRun(try train(quick(4, output: model, ["--resume"]), workspace: data.workspace), exits: 65, mentioning: [checkpoint.path])
        // No checkpoint to resume.
        assertTrainRun(try train(quick(4, output: folder.appendingPathComponent("none"), ["--resume"]), workspace: data.workspace),
                       exits: 66, mentioning: ["no such checkpoint"])

        // A model manifest from a newer Facet.
        let newer = model.appendingPathComponent("model-v2.json")
        try FileManager.default.copyItem(at: model.appendingPathComponent("model.json"), to: newer)
        try editJSON(newer) { $0["version"] = "2.0" }
        let newerRun = try train(["--init-from", newer.path, "--iterations", "1", "--output", folder.appendingPathComponent("m4").path] + datasets,
                                 workspace: data.workspace)
        assertTrainRun(newerRun, exits: 65, mentioning: [newer.path, "version 2.0"])

        // Usage errors.
        assertTrainRun(try train(["--output", model.path] + datasets, workspace: data.workspace), exits: 64, mentioning: ["--iterations"])
        assertTrainRun(try train(quick(2, output: model, ["--model", "huge"]) + datasets, workspace: data.workspace), exits: 64, mentioning: ["--model"])
    }

    /// A `facet.dataset` manifest (what dedupe writes) made from the faces fixture, with real crop hashes.
    func datasetManifest(from faces: URL, identity: String, to url: URL, edit: (inout [DatasetItem]) -> Void = { _ in }) throws {
        let manifest = try ManifestIO.read(FacesManifest.self, from: faces)
        var items = try manifest.items.map { face -> DatasetItem in
            let crop = ManifestIO.resolve(face.crop, relativeToManifest: faces)
            return DatasetItem(face: face, crop: ManifestIO.relativePath(of: crop, fromManifest: url), sha256: try XCTUnwrap(try SHA256sum(crop)),
                               mask: face.mask.map { ManifestIO.relativePath(of: ManifestIO.resolve($0, relativeToManifest: faces), fromManifest: url) },
                               source: 0)
        }
        edit(&items)
        let dataset = DatasetManifest(tool: ToolInfo(name: "dedupe", parameters: [:]), createdAt: "2026-11-21T00:00:00Z", identity: identity,
                                      datasetVersion: 1, cropSize: manifest.cropSize, centering: manifest.centering,
                                      sources: [InputFile(path: ManifestIO.relativePath(of: faces, fromManifest: url), sha256: String(repeating: "0", count: 64),
                                                          bytes: 1, kind: "video")], items: items)
        try ManifestIO.write(dataset, to: url)
    }

    func testDatasetManifestsTrainAndChangedCropsAreRefused() throws {
        let data = try trainFixtures()
        let folder = try makeTemporaryDirectory()
        let alice = folder.appendingPathComponent("alice.json"), bob = folder.appendingPathComponent("bob.json")
        try datasetManifest(from: data.facesA, identity: "Alice", to: alice)
        try datasetManifest(from: data.facesB, identity: "Bob", to: bob)
        let run = try train(quick(2, output: folder.appendingPathComponent("m")) + [alice.path, bob.path], workspace: data.workspace)
        assertTrainRun(run, exits: 0, mentioning: [])
        XCTAssertEqual(try run.requireReport().identities, ["Alice", "Bob"])
        let manifest = try ManifestIO.read(ModelManifest.self, from: folder.appendingPathComponent("m/model.json"))
        XCTAssertEqual(manifest.datasets.map(\.schema), ["facet.dataset", "facet.dataset"])
        // The default model folder is named after the identities. (Dataset manifests beside their crops' workspace:
        // one naming files outside its own workspace and the tool's is refused, ReliabilityConfinementTests.)
        let aliceHere = data.workspace.appendingPathComponent("alice-\(UUID().uuidString).json")
        let bobHere = data.workspace.appendingPathComponent("bob-\(UUID().uuidString).json")
        try datasetManifest(from: data.facesA, identity: "Alice", to: aliceHere)
        try datasetManifest(from: data.facesB, identity: "Bob", to: bobHere)
        addTeardownBlock { try? FileManager.default.removeItem(at: aliceHere); try? FileManager.default.removeItem(at: bobHere) }
        let named = try train(["--iterations", "1", "--batch-size", "2", aliceHere.path, bobHere.path], workspace: folder)
        assertTrainRun(named, exits: 0, mentioning: [])
        XCTAssertEqual(try named.requireReport().output, folder.appendingPathComponent("Models/Alice_Bob").path)

        // A crop whose bytes are not the ones listed.
        let edited = folder.appendingPathComponent("edited.json")
        try datasetManifest(from: data.facesA, identity: "Alice", to: edited) { $0[3].sha256 = String(repeating: "a", count: 64) }
        let changed = try train(quick(2, output: folder.appendingPathComponent("m2")) + [edited.path, bob.path], workspace: data.workspace)
        assertTrainRun(changed, exits: 65, mentioning: ["content differs", edited.path])

        // A crop of another size than the manifest's.
        let small = try ManifestIO.read(FacesManifest.self, from: data.facesB128).items[0]
        let smallCrop = ManifestIO.resolve(small.crop, relativeToManifest: data.facesB128)
        let mixed = folder.appendingPathComponent("mixed.json")
        try datasetManifest(from: data.facesA, identity: "Alice", to: mixed) { items in
            items[1].crop = ManifestIO.relativePath(of: smallCrop, fromManifest: mixed)
            items[1].sha256 = (try? SHA256sum(smallCrop)) ?? ""
        }
        let sizes = try train(quick(2, output: folder.appendingPathComponent("m3")) + [mixed.path, bob.path], workspace: data.workspace)
        assertTrainRun(sizes, exits: 65, mentioning: [smallCrop.path, "128×128", "256×256"])
    }

    func testWarpAugmentWritesAPreviewAndPairsDeterministically() throws {
        let data = try trainFixtures()
        let folder = try makeTemporaryDirectory()
        let binary = try TestPaths.executable("warp-augment")
        func run(_ name: String) throws -> ProcessResult {
            try runProcess(binary, ["--workspace", data.workspace.path, "-q", "--json", "--faces", "4", "--pairs", "3", "--seed", "5",
                                    "--preview", folder.appendingPathComponent("\(name).png").path,
                                    "--pairs-dir", folder.appendingPathComponent(name).path, data.facesA.path])
        }
        let first = try run("one"), second = try run("two")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(second.status, 0, second.stderr)
        let preview = try ImageDecoder.decode(fileAt: folder.appendingPathComponent("one.png"))
        XCTAssertEqual(preview.width, 3 * 64 + 4 * 2)
        XCTAssertEqual(preview.height, 4 * 64 + 5 * 2)
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("one.png")), try Data(contentsOf: folder.appendingPathComponent("two.png")))
        for k in 0..<3 {
            for part in ["input", "target", "mask"] {
                let name = String(format: "%06d_%@.png", k, part)
                let image = try ImageDecoder.decode(fileAt: folder.appendingPathComponent("one").appendingPathComponent(name))
                XCTAssertEqual(image.width, 64, name)
                XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("one").appendingPathComponent(name)),
                               try Data(contentsOf: folder.appendingPathComponent("two").appendingPathComponent(name)), name)
            }
        }
        let bad = try runProcess(binary, ["--workspace", data.workspace.path, "-q", "--coverage", "0.1", data.facesA.path])
        XCTAssertEqual(bad.status, 64, bad.stderr)
    }
}

/// SHA-256 of a file as `sha256sum` reports it.
func SHA256sum(_ url: URL) throws -> String? { try sha256sum([url])[url.path] }
