import ArgumentParser
import Catalog
import FacetCore
import Foundation
import Models
import Scoring
import ToolSupport
import Watermark

/// `score`: swap quality in batch (identity, pose, expression, temporal stability, seams, bystanders, coverage),
/// with an HTML report per run and per comparison.
@main
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Measure swap runs (identity, pose, expression, flicker, seams, bystanders, coverage) and compare them.",
        discussion: """
            Exit codes: 0 ok, 1 failure (I/O, locked catalog, full disk), 3 no Facet watermark found (provenance), \
            4 a --fail-if gate failed, 64 usage, 65 bad data (an unknown manifest version, undecodable media), \
            66 missing input (a manifest, video or image).
            """,
        subcommands: [Run.self, Compare.self, ModelCommand.self, IdentityRun.self, Provenance.self],
        defaultSubcommand: Run.self)
}

/// Options shared by both subcommands.
struct GateOptions: ParsableArguments {
    @Option(name: .customLong("fail-if"), help: ArgumentHelp(
        "Exit 4 when a run's aggregate meets this condition, e.g. 'id_retrieval<0.9' or 'pose_error.p95>10' (repeatable).", valueName: "expr"))
    var failIf: [String] = []

    func gates() throws -> [Gate] { try failIf.map { try Gate(parsing: $0) } }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Score swap runs (the default command): writes <workspace>/Scores/<manifest name>/ (score.json, report.html, PNGs).",
        discussion: "Inputs are facet.swap manifests. An unchanged run (same manifest, inputs, enrolled identities) is not scored again.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var gateOptions: GateOptions

    @Argument(help: ArgumentHelp("Swap manifests (.json) written by swap.", valueName: "swap-manifest"))
    var manifests: [String]

    @Option(help: ArgumentHelp("Score only part K of N of the tracks (each part to its own folder; the last to finish merges them into the whole run's).",
                               valueName: "K/N"))
    var shard: ShardSpec = .whole
    @Option(help: ArgumentHelp("Output folder (one manifest only; default <workspace>/Scores/<manifest name>).", valueName: "dir"))
    var output: String?
    @Option(help: ArgumentHelp("Worst faces shown as source | output strips.", valueName: "N"))
    var worst: Int = 8
    @Option(help: ArgumentHelp("Analysis threads (0: one per core).", valueName: "N"))
    var threads: Int = 0
    @Flag(help: "Score again even when an unchanged result is cached.")
    var noCache = false
    @Option(help: ArgumentHelp("Folder holding the pretrained models (default: $FACET_MODELS or ~/.cache/facet/models).", valueName: "dir"))
    var models: String?

    func validate() throws {
        if output != nil && manifests.count > 1 { throw ValidationError("--output takes one manifest; without it each run gets its own folder") }
        guard worst >= 0, threads >= 0 else { throw ValidationError("--worst and --threads must be zero or more") }
    }

    func run() throws {
        OpenBLASCoreChoice.applyRecordedChoice()
        try ToolRunner.run(tool: "score") {
            let gates = try gateOptions.gates()
            let progress = ProgressReporter(quiet: common.quiet)
            let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
            let options = ScoreOptions(workspace: common.workspaceURL, outputFolder: output.map { URL(fileURLWithPath: $0).standardizedFileURL },
                                       shardIndex: shard.index, shardCount: shard.count, worst: worst, threads: threads, useCache: !noCache,
                                       models: ModelStore(directory: models.map { URL(fileURLWithPath: $0) }))
            var documents: [ScoreDocument] = [], merged: [ScoreDocument] = []
            var files: [String] = [], mergedFiles: [String] = []
            // Gates judge each run's whole result: a shard's own aggregates until every shard is done, then the merged run's.
            var judged: [ScoreDocument] = [], judgedFiles: [String] = []
            for manifest in manifests {
                let outcome = try RunScorer.run(manifest: URL(fileURLWithPath: manifest).standardizedFileURL, options: options, catalog: catalog,
                                                progress: progress)
                documents.append(outcome.document)
                files.append(outcome.folder.appendingPathComponent("score.json").path)
                progress.log("score: \(manifest): report \(outcome.folder.appendingPathComponent("report.html").path)"
                    + (outcome.cached ? " (cached)" : String(format: " (%.1f s)", outcome.document.seconds)))
                if let whole = outcome.whole {
                    merged.append(whole.document)
                    mergedFiles.append(whole.folder.appendingPathComponent("score.json").path)
                    progress.log("score: \(manifest): whole run (\(shard.count) shards merged): report \(whole.folder.appendingPathComponent("report.html").path)"
                        + (whole.cached ? " (cached)" : ""))
                }
                judged.append(outcome.whole?.document ?? outcome.document)
                judgedFiles.append(outcome.whole.map { $0.folder.appendingPathComponent("score.json").path } ?? files[files.count - 1])
            }
            let table = ComparisonTable(documents: judged, files: judgedFiles, gates: gates)
            if common.json {
                try ToolRunner.printJSON(RunSummary(runs: files, documents: documents, merged: mergedFiles, mergedDocuments: merged, failures: table.failures))
            }
            return Compare.report(table.failures)
        }
    }
}

/// `score run --json`: every run's result in full, the whole runs merged from shards (sharded runs whose shards
/// are all done), plus failed gates.
struct RunSummary: Encodable {
    var runs: [String]
    var documents: [ScoreDocument]
    var merged: [String]
    var mergedDocuments: [ScoreDocument]
    var failures: [GateFailure]
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Every aggregate of several runs side by side, best per row marked; compare.html and bar charts.",
        discussion: "Runs are score.json files, folders holding one, or swap manifests (scored first, or taken from the cache).")

    @OptionGroup var common: CommonOptions
    @OptionGroup var gateOptions: GateOptions

    @Argument(help: ArgumentHelp("Runs: score.json files, their folders, or swap manifests.", valueName: "run"))
    var runs: [String]

    @Flag(help: "Print the table as CSV on stdout.")
    var csv = false
    @Option(help: ArgumentHelp("Folder for compare.html and its plots (default <workspace>/Scores/compare).", valueName: "dir"))
    var output: String?
    @Option(help: ArgumentHelp("Folder holding the pretrained models (for runs that must be scored first).", valueName: "dir"))
    var models: String?

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("give at least one run") }
        if csv && common.json { throw ValidationError("--csv and --json both print on stdout: choose one") }
    }

    func run() throws {
        try ToolRunner.run(tool: "score") {
            let gates = try gateOptions.gates()
            let progress = ProgressReporter(quiet: common.quiet)
            var documents: [ScoreDocument] = []
            var files: [String] = []
            var catalog: Catalog?
            for run in runs {
                switch try RunLocator.locate(URL(fileURLWithPath: run).standardizedFileURL) {
                case .score(let document, let file):
                    documents.append(document); files.append(file.path)
                case .manifest(let manifest):
                    if catalog == nil { catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout) }
                    let options = ScoreOptions(workspace: common.workspaceURL, models: ModelStore(directory: models.map { URL(fileURLWithPath: $0) }))
                    let outcome = try RunScorer.run(manifest: manifest, options: options, catalog: catalog, progress: progress)
                    documents.append(outcome.document); files.append(outcome.folder.appendingPathComponent("score.json").path)
                }
            }
            let table = ComparisonTable(documents: documents, files: files, gates: gates)
            let folder = output.map { URL(fileURLWithPath: $0).standardizedFileURL }
                ?? common.workspaceURL.appendingPathComponent("Scores").appendingPathComponent("compare")
            try ScoreReport.writeComparison(table, to: folder)
            if common.json {
                try ToolRunner.printJSON(table)
            } else if csv {
                FileHandle.standardOutput.write(Data(table.csv().utf8))
            } else {
                FileHandle.standardOutput.write(Data(table.text().utf8))
            }
            progress.log("score: comparison report \(folder.appendingPathComponent("compare.html").path)")
            return Compare.report(table.failures)
        }
    }

    /// Prints one line per failed gate on stderr; exit 4 when any failed.
    static func report(_ failures: [GateFailure]) -> ExitStatus {
        for failure in failures {
            let value = failure.value.map { String(format: "%.4g", $0) } ?? "not measured"
            FileHandle.standardError.write(Data("score: gate failed: \(failure.run): \(failure.gate) (value \(value))\n".utf8))
        }
        return failures.isEmpty ? .ok : .gateFailed
    }
}

struct IdentityRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity-run",
        abstract: "Write the identity-transform swap manifest of a video: the video as its own output, one enrolled person's track 'swapped'.",
        discussion: """
            Scoring it must give zero pose, expression, jitter and colour error, flicker and seam ratios of 1 and full ID \
            retrieval: a check of the scorer on your own footage, and the benchmark's input.
            """)

    @OptionGroup var common: CommonOptions
    @Argument(help: ArgumentHelp("The video.", valueName: "video"))
    var video: String
    @Option(help: ArgumentHelp("The enrolled person whose track is marked swapped.", valueName: "name"))
    var person: String
    @Option(help: ArgumentHelp("Where to write the swap manifest.", valueName: "file"))
    var output: String
    @Option(help: ArgumentHelp("Analyse only the first N frames (the rest are listed without faces).", valueName: "N"))
    var frames: Int?

    func run() throws {
        try ToolRunner.run(tool: "score") {
            let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
            let url = URL(fileURLWithPath: video).standardizedFileURL
            guard FileManager.default.fileExists(atPath: url.path) else { throw FileError.missing(path: url.path) }
            let swapped = try SelfSwap.writeManifest(video: url, person: person, catalog: catalog,
                                                     to: URL(fileURLWithPath: output).standardizedFileURL, limit: frames ?? .max)
            if !common.quiet { FileHandle.standardError.write(Data("score: \(output): \(swapped) faces of \(person) marked swapped\n".utf8)) }
            return .ok
        }
    }
}

struct Provenance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provenance",
        abstract: "Check videos or images for Facet's provenance: the watermark in the pixels, the container label, the sidecar.",
        discussion: "Exit 0 when every file carries the watermark, 3 when one does not, 65/66 for an unreadable or missing file.")

    @OptionGroup var common: CommonOptions
    @Argument(help: ArgumentHelp("Videos or images to check; a folder checks its images and videos.", valueName: "file"))
    var files: [String]

    func run() throws {
        try ToolRunner.run(tool: "score") {
            var reports: [ProvenanceReport] = []
            for file in try ProvenanceCheck.files(files.map { URL(fileURLWithPath: $0) }) { reports.append(try ProvenanceCheck.check(url: file)) }
            if common.json {
                try ToolRunner.printJSON(reports)
            } else {
                for r in reports {
                    let found = r.detected
                        ? "watermark found (payload \(r.payload.map { "\($0)" } ?? "unreadable"), false-positive probability "
                            + String(format: "%.1e", r.falsePositiveProbability) + (r.flipped ? ", mirrored" : "")
                            + ((r.payloadErrorBound ?? 0) > 1e-4 ? ", payload wrong with probability ≤ "
                                + String(format: "%.1e", r.payloadErrorBound ?? 0) + " (read by the deep search)" : "") + ")"
                        : "no Facet watermark found (z \(String(format: "%.2f", r.zScore)) over \(r.framesUsed) frames)"
                    let label = r.containerLabel.map { "; container label: \($0)" } ?? ""
                    let sidecar = r.sidecar.map { "; sidecar \($0)" } ?? ""
                    FileHandle.standardOutput.write(Data("\(r.file): \(found)\(label)\(sidecar)\n".utf8))
                }
            }
            return reports.allSatisfy(\.detected) ? .ok : .notFound
        }
    }
}

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Reconstruction quality of a trained model (A→A, B→B: MAE, PSNR, SSIM) on held-out faces, with example rows.",
        discussion: """
            Held-out faces are the ones you give per side (faces or dataset manifests of the same people from footage \
            the model never saw); crops that are in the model's training datasets are skipped and counted. \
            Writes <workspace>/Scores/model-<name>/model-score.json and examples.png (input | reconstruction rows).
            """)

    @OptionGroup var common: CommonOptions
    @Argument(help: ArgumentHelp("The model's manifest (model.json).", valueName: "model.json"))
    var model: String
    @Option(help: ArgumentHelp("Held-out faces of side A (faces or dataset manifest).", valueName: "manifest"))
    var a: String
    @Option(help: ArgumentHelp("Held-out faces of side B (faces or dataset manifest).", valueName: "manifest"))
    var b: String
    @Option(help: ArgumentHelp("At most this many faces per side (spread evenly).", valueName: "n"))
    var maxFaces: Int = 200
    @Option(name: .shortAndLong, help: ArgumentHelp("Output folder (default: <workspace>/Scores/model-<model folder>).", valueName: "dir"))
    var output: String?

    func validate() throws { guard maxFaces >= 1 else { throw ValidationError("--max-faces must be at least 1") } }

    func run() throws {
        OpenBLASCoreChoice.applyRecordedChoice()
        try ToolRunner.run(tool: "score") {
            let url = URL(fileURLWithPath: model).standardizedFileURL
            let folder = output.map { URL(fileURLWithPath: $0).standardizedFileURL }
                ?? common.workspaceURL.appendingPathComponent("Scores/model-\(url.deletingLastPathComponent().lastPathComponent)")
            let report = try ModelScoring.run(model: url, facesA: URL(fileURLWithPath: a).standardizedFileURL,
                                              facesB: URL(fileURLWithPath: b).standardizedFileURL, limit: maxFaces, folder: folder,
                                              progress: ProgressReporter(quiet: common.quiet))
            if common.json { try ToolRunner.printJSON(report); return .ok }
            for side in [report.a, report.b] {
                print(String(format: "%@: %d held-out faces (%d training faces skipped): SSIM %.3f, PSNR %.1f dB, MAE %.4f (means)",
                             side.identity, side.faces, side.skippedTrainingFaces, side.ssim.mean, side.psnr.mean, side.mae.mean))
            }
            print("examples: \(report.examples)")
            return .ok
        }
    }
}
