import ArgumentParser
import Catalog
import FacetCore
import Foundation
import FrameExtraction
import Media
import ToolSupport

/// `fetch-frames`: video files (or image folders) in, frame images + a frames manifest + catalog rows out.
@main
struct FetchFrames: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-frames",
        abstract: "Extract frames from videos (or import folders of images) into a Facet workspace.",
        discussion: """
            Frames go to <workspace>/Datasets/frames/<name>-<hash>/, the manifest to <workspace>/Manifests/, and \
            every source and frame to the catalog. Re-running the same command does no work twice; an \
            interrupted run resumes. A damaged video yields every frame that could be decoded.

            Exit codes: 0 ok, 1 failure (I/O, locked catalog, full disk), 64 usage, 65 bad data \
            (undecodable, no video stream, too large), 66 missing input.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("Video files, image files, or folders of images.", valueName: "input"))
    var inputs: [String]

    @Option(help: ArgumentHelp("Keep at most N frames per second (the first frame in each 1/N s slot).", valueName: "N"))
    var fps: Double?

    @Option(help: ArgumentHelp("Keep frames whose number is a multiple of N.", valueName: "N"))
    var every: Int?

    @Option(help: ArgumentHelp("Start time: seconds, MM:SS or HH:MM:SS.", valueName: "time"))
    var start: TimeArgument?

    @Option(help: ArgumentHelp("End time (exclusive): seconds, MM:SS or HH:MM:SS.", valueName: "time"))
    var end: TimeArgument?

    @Option(help: ArgumentHelp("At most N frames per input.", valueName: "N"))
    var maxFrames: Int?

    @Option(help: ArgumentHelp("Skip frames whose mean luma change from the last kept frame is below D (0-255 scale, 32x32 thumbnail; 2 is a good start).", valueName: "D"))
    var minChange: Double?

    @Option(help: "Output image format: jpg or png.")
    var format: String = "jpg"

    @Option(help: "JPEG quality 1-100 (higher is better; 100 = FFmpeg qscale 2).")
    var quality: Int = 95

    @Option(help: ArgumentHelp("Refuse videos and images with more pixels per frame than this.", valueName: "pixels"))
    var maxPixels: Int = 8192 * 8192

    @Option(help: ArgumentHelp("Do part K of N: each video's time window is cut into N spans, image folders are dealt round-robin.", valueName: "K/N"))
    var shard: ShardSpec = .whole

    @Option(help: ArgumentHelp("Encoding threads (0: one per core).", valueName: "N"))
    var threads: Int = 0

    @Option(name: .customLong("output"), help: ArgumentHelp("Manifest to write (default: <workspace>/Manifests/frames-<input>.json).", valueName: "file"))
    var manifest: String?

    func validate() throws {
        guard ImageFormat(fileExtension: format) == .jpeg || ImageFormat(fileExtension: format) == .png else {
            throw ValidationError("--format must be jpg or png")
        }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be between 1 and 100") }
        if let fps, !(fps > 0) { throw ValidationError("--fps must be greater than 0") }
        if let every, every < 1 { throw ValidationError("--every must be 1 or more") }
        if let maxFrames, maxFrames < 1 { throw ValidationError("--max-frames must be 1 or more") }
        if let minChange, minChange < 0 { throw ValidationError("--min-change must be 0 or more") }
        if let start, let end, end.seconds <= start.seconds { throw ValidationError("--end must be after --start") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
        guard threads >= 0 else { throw ValidationError("--threads must be 0 or more") }
    }

    func run() throws {
        try ToolRunner.run(tool: "fetch-frames") {
            let progress = ProgressReporter(quiet: common.quiet)
            let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
            let options = FrameExtractionOptions(
                inputs: inputs.map { URL(fileURLWithPath: $0).standardizedFileURL },
                workspace: common.workspaceURL,
                manifestURL: manifest.map { URL(fileURLWithPath: $0).standardizedFileURL },
                fps: fps, every: every, start: start?.seconds, end: end?.seconds, maxFrames: maxFrames, minChange: minChange,
                format: ImageFormat(fileExtension: format) ?? .jpeg, quality: quality, maxPixels: maxPixels,
                shardIndex: shard.index, shardCount: shard.count, threads: threads)
            let report: FrameExtractionReport
            do {
                report = try FrameExtractor(options: options, catalog: catalog, progress: progress).run()
            } catch FrameExtractionError.inputFailed(let failures, let status, let partial) {
                if common.json { try ToolRunner.printJSON(partial) }
                for failure in failures { ToolRunner.printError(tool: "fetch-frames", failure) }
                return status
            }
            if common.json { try ToolRunner.printJSON(report) }
            progress.log("fetch-frames: \(report.frames) frames (\(report.written) written, \(report.reused) already done, "
                + "\(report.similarSkipped) skipped as similar) -> \(report.manifest ?? "no manifest")")
            return .ok
        }
    }
}
