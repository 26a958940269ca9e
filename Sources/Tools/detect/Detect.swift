import ArgumentParser
import Catalog
import FaceDetect
import FacetCore
import Faces
import Foundation
import Manifest
import Media
import Models
import ToolSupport

/// `detect`: frames (a frames manifest, videos, images) in; aligned face crops, a faces manifest and
/// catalog rows out.
@main
struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Find, align and measure faces, and link them into tracks.",
        discussion: """
            Inputs are frames manifests from fetch-frames (.json), videos (decoded on the fly, no frame files) \
            or images and folders of images. Crops go to <workspace>/Datasets/faces/, the manifest to \
            <workspace>/Manifests/faces-<input>.json, every face to the catalog. Re-running the same command \
            does no work twice; an interrupted run resumes.

            Exit codes: 0 ok, 1 failure (I/O, locked catalog, full disk), 64 usage, 65 bad data (undecodable \
            input, an input with no face, a manifest of an unknown version, a damaged model), 66 missing input \
            or model.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("Frames manifests (.json), video files, image files, or folders of images.", valueName: "input"))
    var inputs: [String]

    @Option(help: "Detector: full (BlazeFace full range, general video) or short (close-up selfies).")
    var detector: String = "full"

    @Option(help: ArgumentHelp("Drop detections scoring below this (0-1).", valueName: "score"))
    var minScore: Double = 0.5

    @Option(help: ArgumentHelp("Drop faces smaller than this: √(box area) in frame pixels.", valueName: "px"))
    var minSize: Double = 20

    @Option(help: ArgumentHelp("At most N faces per frame, highest score first.", valueName: "N"))
    var maxFaces: Int = 16

    @Option(help: ArgumentHelp("Drop faces whose landmark model's face-presence is below this (0-1).", valueName: "p"))
    var minPresence: Double = 0.5

    @Flag(help: "When a frame gives no face, try it turned 90, 180 and 270 degrees.")
    var rotations = false

    @Option(help: ArgumentHelp("FaceMesh passes per face: 2 runs it again on the region its own landmarks give (steadier), 1 only on the detector's region.", valueName: "N"))
    var meshPasses: Int = 2

    @Option(help: ArgumentHelp("Detector tiles per side (1-4); default 2 for still images, 1 for video.", valueName: "N"))
    var tiles: Int?

    @Option(help: ArgumentHelp("Aligned crop side in pixels.", valueName: "px"))
    var size: Int = 256

    @Option(help: "Crop centering: face (eyebrows to chin, like faceswap's 'face') or head (whole head).")
    var centering: String = "face"

    @Option(help: "Crop format: png or jpg.")
    var format: String = "png"

    @Option(help: "JPEG quality 1-100.")
    var quality: Int = 95

    @Flag(help: "Also write a mask (landmark hull, feathered) beside each crop as <crop>_mask.png.")
    var mask = false

    @Option(help: ArgumentHelp("Smooth landmarks within each track over ±N analysed frames (0: off).", valueName: "N"))
    var smooth: Int = 0

    @Option(help: ArgumentHelp("Videos: analyse only frames whose number is a multiple of N.", valueName: "N"))
    var every: Int?

    @Option(help: ArgumentHelp("At most N frames analysed per input.", valueName: "N"))
    var maxFrames: Int?

    @Option(help: ArgumentHelp("Refuse frames with more pixels than this.", valueName: "pixels"))
    var maxPixels: Int = 8192 * 8192

    @Option(help: ArgumentHelp("Do part K of N: each video's time window, or each list of frames, is cut into N runs.", valueName: "K/N"))
    var shard: ShardSpec = .whole

    @Option(help: ArgumentHelp("Crop-writing threads (0: one per core).", valueName: "N"))
    var threads: Int = 0

    @Option(help: ArgumentHelp("Face analyzers side by side, each on its own frames (0: one per core); 1 analyses one frame at a time with each network spread over the cores (the least time per frame). The faces are the same.", valueName: "N"))
    var analyzers: Int = 0

    @Option(help: ArgumentHelp("Model folder (default: $FACET_MODELS, else ~/.cache/facet/models).", valueName: "dir"))
    var models: String?

    @Option(name: .customLong("output"), help: ArgumentHelp("Manifest to write (default: <workspace>/Manifests/faces-<input>.json).", valueName: "file"))
    var manifest: String?

    @Option(help: ArgumentHelp("Also write a contact sheet PNG: one row per track.", valueName: "file"))
    var contactSheet: String?

    func validate() throws {
        guard BlazeFace.Range(rawValue: detector) != nil else { throw ValidationError("--detector must be full or short") }
        guard FaceCentering(rawValue: centering) != nil else { throw ValidationError("--centering must be face or head") }
        let imageFormat = ImageFormat(fileExtension: format)
        guard imageFormat == .png || imageFormat == .jpeg else { throw ValidationError("--format must be png or jpg") }
        guard threads >= 0 else { throw ValidationError("--threads must be 0 or more") }
        guard (0...256).contains(analyzers) else { throw ValidationError("--analyzers must be 0...256") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
    }

    func run() throws {
        OpenBLASCoreChoice.applyRecordedChoice()
        try ToolRunner.run(tool: "detect") {
            let progress = ProgressReporter(quiet: common.quiet)
            let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
            let options = DetectOptions(
                inputs: inputs.map { URL(fileURLWithPath: $0).standardizedFileURL }, workspace: common.workspaceURL,
                manifestURL: manifest.map { URL(fileURLWithPath: $0).standardizedFileURL },
                models: models.map { URL(fileURLWithPath: $0) }, range: BlazeFace.Range(rawValue: detector) ?? .full,
                analyzer: FaceAnalyzer.Settings(minScore: minScore, minSize: minSize, maxFaces: maxFaces, minPresence: minPresence,
                                                tryRotations: rotations, meshPasses: meshPasses),
                tiles: tiles, size: size, centering: FaceCentering(rawValue: centering) ?? .face,
                format: ImageFormat(fileExtension: format) ?? .png, quality: quality, writeMasks: mask, smoothRadius: smooth,
                every: every, maxFrames: maxFrames, maxPixels: maxPixels, shardIndex: shard.index, shardCount: shard.count,
                threads: threads, analyzers: analyzers)
            let report: DetectReport
            var status = ExitStatus.ok
            do {
                report = try FaceDetector(options: options, catalog: catalog, progress: progress).run()
            } catch DetectError.inputFailed(let failures, let failedStatus, let partial) {
                for failure in failures { ToolRunner.printError(tool: "detect", failure) }
                report = partial
                status = failedStatus
            }
            if let contactSheet, let path = report.manifest {
                try ContactSheet.write(manifestAt: URL(fileURLWithPath: path), to: URL(fileURLWithPath: contactSheet))
            }
            if common.json { try ToolRunner.printJSON(report) }
            progress.log("detect: \(report.faces) faces in \(report.tracks) tracks from \(report.frames) frames "
                + "(\(report.analysed) analysed now) -> \(report.manifest ?? "no manifest")")
            return status
        }
    }
}
