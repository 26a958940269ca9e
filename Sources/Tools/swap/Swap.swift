import ArgumentParser
import Catalog
import FacetCore
import Foundation
import Models
import Swap
import ToolSupport

/// `swap`: replace one enrolled person's face in videos and images with a trained model's rendering.
@main
struct SwapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap",
        abstract: "Replace one person's face in videos and images with a trained model; the output is labelled as synthetic.",
        discussion: """
            Only the target is replaced: faces are detected and tracked as `detect` does, every track is labelled with \
            `identify`'s rule against the enrolled identities, and only tracks decided as the target are swapped; every \
            other face is left untouched. Every output carries container metadata saying it is synthetic, a \
            <output>.provenance.json sidecar and a catalog row naming the target's consent note; none can be turned off.

            Exit codes: 0 ok, 1 failure (I/O, locked catalog, full disk), 64 usage (bad options, output equal to an \
            input), 65 bad data (damaged model, model framing unlike the faces given, undecodable input), 66 missing \
            input (files, model, models, target not enrolled, no identity enrolled).
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The trained model's manifest (model.json, written by train).", valueName: "model.json"))
    var model: String

    @Option(help: ArgumentHelp("The enrolled person to replace (default: the model's source side's identity).", valueName: "name"))
    var target: String?

    @Option(help: ArgumentHelp("a-to-b renders side A's faces with decoder B; b-to-a the reverse.", valueName: "a-to-b|b-to-a"))
    var direction: String = SwapDirection.aToB.rawValue

    @Option(help: ArgumentHelp("Identity rule, as identify label: calibrated (open-set default), nearest or centroid.",
                               valueName: "calibrated|nearest|centroid"))
    var rule: String = "calibrated"

    @Option(help: ArgumentHelp("Identity threshold (descriptor distance): the fixed rules' threshold (0.6), or a cap under calibrated.",
                               valueName: "distance"))
    var threshold: Double?

    @Option(help: ArgumentHelp("Faces smaller than this (√ box area, px) are not recognised and are never swapped on their own.", valueName: "px"))
    var minFaceSize: Double = 36

    @Option(help: ArgumentHelp("Track smoothing radius in frames (quadratic Savitzky–Golay; 0 = off).", valueName: "frames"))
    var smooth: Int = 3

    @Option(help: ArgumentHelp("Faces per inference batch (faces of several frames go together).", valueName: "n"))
    var batchSize: Int = 16

    @Option(help: ArgumentHelp("Blend mask: learned (mask-head models), hull, or intersection (default with a mask head, else hull).",
                               valueName: "learned|hull|intersection"))
    var mask: String?

    @Option(help: ArgumentHelp("Mask erosion as a fraction of the face size (negative grows it).", valueName: "fraction"))
    var erosion: Double = 0.02

    @Option(help: ArgumentHelp("Mask feathering as a fraction of the face size.", valueName: "fraction"))
    var feather: Double = 0.08

    @Option(help: ArgumentHelp("Keep the original where the face is covered: hands (MediaPipe's hand models), reconstruction (where the model's own reconstruction disagrees), both, or none.",
                               valueName: "hands|reconstruction|both|none"))
    var occlusion: String = SwapOcclusionChoice.none.rawValue

    @Option(help: ArgumentHelp("How far past a hand's landmark hull the original stays, a fraction of the face size.", valueName: "fraction"))
    var handMargin: Double = 0.05

    @Option(help: ArgumentHelp("How far the reconstruction may disagree before a pixel counts as covered (0...1).", valueName: "t"))
    var occlusionThreshold: Double = 0.18

    @Option(help: ArgumentHelp("Colour matching inside the mask, smoothed along each track.", valueName: "none|average|reinhard|histogram"))
    var color: String = SwapColorChoice.reinhard.rawValue

    @Option(help: ArgumentHelp("Blending: feathered alpha, or poisson (seamless cloning).", valueName: "alpha|poisson"))
    var blend: String = SwapBlendChoice.alpha.rawValue

    @Flag(help: "Draw a small 'SYNTHETIC · FACET' badge on every frame (the watermark, metadata and sidecar are always there).")
    var visibleLabel = false

    @Option(help: ArgumentHelp("The badge's corner.", valueName: "top-left|top-right|bottom-left|bottom-right"))
    var labelCorner: String = SwapLabelCorner.bottomRight.rawValue

    @Option(help: ArgumentHelp("Video output: h264 (MP4) or ffv1 (lossless MKV, for exact checks).", valueName: "h264|ffv1"))
    var codec: String = SwapOutputCodec.h264.rawValue

    @Option(help: ArgumentHelp("H.264 quality (0 best ... 51 worst).", valueName: "n"))
    var crf: Int = 18

    @Option(help: ArgumentHelp("x264 preset.", valueName: "name"))
    var preset: String = "veryfast"

    @Option(help: ArgumentHelp("Frames per segment (each encoded alone, joined without re-encoding; the unit of resume and of --shard).",
                               valueName: "n"))
    var segmentFrames: Int = 300

    @Option(help: ArgumentHelp("Swap part K of N of each video's segments; the last shard to finish joins them.", valueName: "K/N"))
    var shard: ShardSpec = .whole

    @Option(help: ArgumentHelp("Write an input | output contact sheet of this many sample frames (default: 6 with --preview, else none).",
                               valueName: "n"))
    var previewFrames: Int?

    @Option(help: ArgumentHelp("Where the contact sheet goes (default: <workspace>/Swaps/preview.png).", valueName: "file"))
    var preview: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file (one input) or folder (default: <workspace>/Swaps/).", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Swap manifest path (one input; default: <workspace>/Manifests/swap-<output>.json).", valueName: "file"))
    var manifest: String?

    @Option(help: ArgumentHelp("Model folder (default: $FACET_MODELS, else ~/.cache/facet/models).", valueName: "dir"))
    var models: String?

    @Option(help: ArgumentHelp("Refuse frames larger than this many pixels.", valueName: "n"))
    var maxPixels: Int = 67_108_864

    @Argument(help: ArgumentHelp("Videos, images, folders of images, or a faces manifest filtered by identify label --target.", valueName: "input"))
    var inputs: [String] = []

    func validate() throws {
        guard SwapDirection(rawValue: direction) != nil else { throw ValidationError("--direction must be a-to-b or b-to-a") }
        if let mask, SwapMaskChoice(rawValue: mask) == nil { throw ValidationError("--mask must be learned, hull or intersection") }
        guard SwapOcclusionChoice(rawValue: occlusion) != nil else { throw ValidationError("--occlusion must be hands, reconstruction, both or none") }
        guard SwapLabelCorner(rawValue: labelCorner) != nil else { throw ValidationError("--label-corner must be top-left, top-right, bottom-left or bottom-right") }
        guard SwapColorChoice(rawValue: color) != nil else { throw ValidationError("--color must be none, average, reinhard or histogram") }
        guard SwapBlendChoice(rawValue: blend) != nil else { throw ValidationError("--blend must be alpha or poisson") }
        guard SwapOutputCodec(rawValue: codec) != nil else { throw ValidationError("--codec must be h264 or ffv1") }
        guard !inputs.isEmpty else { throw ValidationError("give at least one input") }
    }

    func run() throws {
        OpenBLASCoreChoice.applyRecordedChoice()
        try ToolRunner.run(tool: "swap") {
            let url = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL }
            let parameters: [String: String] = [
                "direction": direction, "rule": rule, "threshold": threshold.map { "\($0)" } ?? "default", "min-face-size": "\(minFaceSize)", "smooth": "\(smooth)",
                "mask": mask ?? "default", "erosion": "\(erosion)", "feather": "\(feather)", "occlusion": occlusion, "hand-margin": "\(handMargin)", "visible-label": visibleLabel ? labelCorner : "off",
                "occlusion-threshold": "\(occlusionThreshold)", "color": color, "blend": blend, "codec": codec, "crf": "\(crf)",
                "preset": preset, "segment-frames": "\(segmentFrames)", "target": target ?? "(model's source side)",
            ]
            let options = SwapOptions(
                model: url(model), target: target, direction: SwapDirection(rawValue: direction) ?? .aToB, rule: rule, threshold: threshold,
                minFaceSize: minFaceSize, smoothRadius: smooth, batchSize: batchSize, mask: mask.flatMap(SwapMaskChoice.init(rawValue:)),
                erosion: erosion, feather: feather, occlusion: SwapOcclusionChoice(rawValue: occlusion) ?? .none, handMargin: handMargin,
                visibleLabel: visibleLabel, labelCorner: SwapLabelCorner(rawValue: labelCorner) ?? .bottomRight,
                occlusionThreshold: occlusionThreshold, color: SwapColorChoice(rawValue: color) ?? .reinhard,
                blend: SwapBlendChoice(rawValue: blend) ?? .alpha, codec: SwapOutputCodec(rawValue: codec) ?? .h264, crf: crf, preset: preset,
                segmentFrames: segmentFrames, shardIndex: shard.index, shardCount: shard.count,
                previewFrames: previewFrames, preview: preview.map(url), output: output.map(url), manifest: manifest.map(url),
                workspace: common.workspaceURL, models: ModelStore(directory: models.map(url)), maxPixels: maxPixels, parameters: parameters)
            let progress = ProgressReporter(quiet: common.quiet)
            let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
            let report = try SwapRun.run(inputs: inputs.map(url), options: options, catalog: catalog, progress: progress)
            if common.json { try ToolRunner.printJSON(report) }
            return .ok
        }
    }
}
