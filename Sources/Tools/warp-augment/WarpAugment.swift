import ArgumentParser
import Augment
import AugmentPreview
import FacetCore
import Foundation
import ToolSupport

/// `warp-augment`: shows (and optionally writes) the augmented training pairs `train` makes from a dataset.
@main
struct WarpAugment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warp-augment",
        abstract: "Preview the training augmentation of a dataset: random affine, flip, L*a*b* colour, random warp.",
        discussion: """
            Writes a preview grid PNG with one row per face: the whole crop, the warped model input, the \
            unwarped target. With --pairs N also writes N augmented pairs (input, target, mask PNGs) for \
            inspection. train runs the same code in-process. Seeded: the same command gives the same images.

            Exit codes: 0 ok, 1 failure (I/O), 64 usage, 65 bad data (undecodable crop, wrong crop size, a \
            manifest of an unknown version), 66 missing input.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("A dataset manifest (dedupe) or faces manifest (detect).", valueName: "manifest"))
    var manifest: String

    @Option(help: ArgumentHelp("Model input side in pixels.", valueName: "px"))
    var size: Int = 64

    @Option(help: ArgumentHelp("Fraction of the crop side the model sees.", valueName: "f"))
    var coverage: Double = 0.75

    @Option(help: "Seed of the augmentation.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Faces in the preview (rows).", valueName: "N"))
    var faces: Int = 8

    @Option(help: ArgumentHelp("Preview PNG (default: <workspace>/Previews/augment-<manifest>.png).", valueName: "file"))
    var preview: String?

    @Option(help: ArgumentHelp("Also write N augmented pairs.", valueName: "N"))
    var pairs: Int = 0

    @Option(help: ArgumentHelp("Folder for the pairs (default: <workspace>/Augmented/<manifest>/).", valueName: "dir"))
    var pairsDir: String?

    @OptionGroup(title: "Augmentation") var augmentation: AugmentOptions

    func validate() throws {
        guard faces >= 1 else { throw ValidationError("--faces must be at least 1") }
        guard pairs >= 0 else { throw ValidationError("--pairs must be 0 or more") }
    }

    func run() throws {
        try ToolRunner.run(tool: "warp-augment") {
            let progress = ProgressReporter(quiet: common.quiet)
            let manifestURL = URL(fileURLWithPath: manifest).standardizedFileURL
            let name = manifestURL.deletingPathExtension().lastPathComponent
            let previewURL = preview.map { URL(fileURLWithPath: $0).standardizedFileURL }
                ?? common.workspaceURL.appendingPathComponent("Previews").appendingPathComponent("augment-\(name).png")
            let pairsURL = pairs > 0 ? (pairsDir.map { URL(fileURLWithPath: $0).standardizedFileURL }
                ?? common.workspaceURL.appendingPathComponent("Augmented").appendingPathComponent(name)) : nil
            let options = WarpAugmentOptions(manifest: manifestURL, settings: augmentation.settings, size: size, coverage: coverage,
                                             seed: seed, previewFaces: faces, preview: previewURL, pairs: pairs, pairsFolder: pairsURL)
            let report = try WarpAugmentRun.run(options, progress: progress)
            if common.json { try ToolRunner.printJSON(report) }
            progress.log("warp-augment: \(report.previewFaces) of \(report.faces) faces -> \(report.preview)"
                + (report.pairsFolder.map { ", \(report.pairs) pairs in \($0)" } ?? ""))
            return .ok
        }
    }
}
