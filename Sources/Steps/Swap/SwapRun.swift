import Catalog
import FacetCore
import Faces
import Foundation
import Manifest
import Media
import Models
import NN
import Recognition

/// What one `swap` call did (the `--json` summary).
public struct SwapReport: Codable, Sendable {
    public struct Output: Codable, Sendable {
        public var input: String
        /// The written file; nil while other shards still have segments to write.
        public var output: String?
        public var provenance: String?
        public var manifest: String?
        public var frames: Int
        public var faces: Int
        public var swapped: Int
        public var failed: Int
        public var damagedFrames: Int
        /// Segments of this input written by this call, already present, and in all.
        public var segmentsWritten: Int
        public var segmentsReused: Int
        public var segments: Int
        public var warnings: [String]
    }
    public var model: String
    public var target: String
    public var direction: String
    public var watermark: String
    public var outputs: [Output]
    public var preview: String?
    public var seconds: Double
    /// Where the time went, seconds per stage (see `SwapStages`).
    public var stages: SwapStages
}

/// `swap`: replaces one enrolled person's face in videos and images with a trained model's rendering of the
/// other person, and labels every output as synthetic (container metadata, a provenance sidecar, a catalog row).
public enum SwapRun {
    public static func run(inputs: [URL], options: SwapOptions, catalog: Catalog, progress: ProgressSink) throws -> SwapReport {
        let started = Date()
        try options.validate()
        guard !inputs.isEmpty else { throw SwapError.badOption("give at least one video, image, folder or faces manifest") }
        for input in inputs where !FileManager.default.fileExists(atPath: input.path) { throw MediaError.missing(path: input.path) }
        let model = try TrainedModel.load(options.model)
        let m = model.manifest
        guard let centering = FaceCentering(rawValue: m.alignment.centering),
              let framing = ModelFraming(inputSize: model.inputSize, cropSize: m.alignment.cropSize, coverage: m.alignment.coverage,
                                         centering: centering) else {
            throw TrainedModelError.unsupported(path: options.model.path, reason: "framing '\(m.alignment.centering)', crop \(m.alignment.cropSize) px")
        }
        let decoder: DeepFakesAutoencoder.Side = options.direction == .aToB ? .b : .a
        let sourceIdentity = options.direction == .aToB ? m.identities.a : m.identities.b
        let decoderIdentity = options.direction == .aToB ? m.identities.b : m.identities.a

        // Units of work: videos, images (folders expand to their images), pre-filtered faces manifests.
        var units: [SwapUnit] = []
        for input in inputs {
            if input.pathExtension.lowercased() == "json" {
                units.append(.faces(input, try FilteredFaces.load(input, framing: framing)))
            } else {
                for unit in try InputUnit.expand([input], warn: { progress.log("swap: warning: \($0)") }) {
                    switch unit {
                    case .video(let url): units.append(.video(url))
                    case .images(_, let files): units += files.map { .image($0) }
                    }
                }
            }
        }
        // The target: an enrolled identity, unless every input is a faces manifest already filtered to one person.
        let needsGallery = units.contains { if case .faces = $0 { return false } else { return true } }
        let targetName = options.target ?? sourceIdentity
        var decision: TargetDecision?
        var targetRecord: (id: Int64?, consent: String?) = (nil, nil)
        if needsGallery {
            let gallery = try IdentityGallery(catalog: catalog)
            guard !gallery.isEmpty else { throw SwapError.noIdentities(catalog: catalog.url.path) }
            guard let index = gallery.entries.firstIndex(where: { $0.name.lowercased() == targetName.lowercased() }) else {
                throw SwapError.unknownTarget(name: targetName, known: gallery.entries.map(\.name))
            }
            guard let rule = DecisionRule(rawValue: options.rule) else {
                throw SwapError.badOption("--rule must be \(DecisionRule.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            decision = TargetDecision(gallery: gallery, target: index, rule: rule, threshold: options.threshold, minFaceSize: options.minFaceSize)
            targetRecord = (gallery.entries[index].id, gallery.entries[index].consent)
        } else if let identity = try catalog.identities().first(where: { $0.name.lowercased() == targetName.lowercased() }) {
            targetRecord = (identity.id, identity.consent)
        }
        let resolvedTarget = decision?.targetName ?? targetName

        // Where each output goes; never over an input.
        let outputs = try units.map { try outputURL(for: $0, options: options, single: units.count == 1) }
        let inputPaths = Set(units.map { $0.url.standardizedFileURL.resolvingSymlinksInPath().path })
        for out in outputs where inputPaths.contains(out.standardizedFileURL.resolvingSymlinksInPath().path) {
            throw SwapError.outputIsInput(path: out.path)
        }

        let clock = StageClock()
        // The face models load on first use: a faces manifest, or a video whose analysis an earlier run or shard
        // cached, never needs them.
        let analysis = DeferredAnalysis {
            FrameAnalysis(analyzers: try FaceAnalyzerPool(range: .full, settings: FaceAnalyzer.Settings(), store: options.models),
                          embedder: try FaceEmbedder(store: options.models), catalog: catalog, minFaceSize: options.minFaceSize,
                          progress: progress, clock: clock)
        }
        let hands = options.occlusion.usesHands ? try HandOcclusion(store: options.models, margin: options.handMargin) : nil
        let renderer = FaceRenderer(model: model, framing: framing, decoder: decoder, options: options, clock: clock, hands: hands)
        let modelInfo = SwapModelInfo(manifest: options.model.path, sha256: model.manifestSha256, weightsSha256: model.weightsSha256, kind: m.model,
                                      direction: options.direction.rawValue, sourceIdentity: sourceIdentity, decoderIdentity: decoderIdentity,
                                      inputSize: framing.inputSize, centering: centering.rawValue, cropSize: framing.cropSize,
                                      coverage: framing.coverage)
        let rule = "identify's \(options.rule) rule\(options.threshold.map { ", threshold \($0)" } ?? ""), track vote, min face \(Int(options.minFaceSize)) px"
        let context = SwapContext(options: options, catalog: catalog, progress: progress, clock: clock, analysis: analysis, renderer: renderer,
                                  decision: decision, framing: framing, modelInfo: modelInfo,
                                  target: SwapTarget(name: resolvedTarget, identityId: targetRecord.id, consent: targetRecord.consent, rule: rule))
        var reports: [SwapReport.Output] = []
        var payloads: [String] = []
        var previews: [(RGBImage, RGBImage)] = []
        for (unit, output) in zip(units, outputs) {
            let job = try SwapJob(unit: unit, output: output, context: context)
            payloads.append(job.payload)
            reports.append(try job.run(collectPreview: options.previewFrames > 0 ? options.previewFrames : 0, previews: &previews))
        }
        var previewPath: String?
        if options.previewFrames > 0, !previews.isEmpty {
            let url = options.preview ?? options.workspace.appendingPathComponent("Swaps/preview.png")
            try SwapPreview.write(previews, to: url)
            previewPath = url.path
            progress.log("swap: preview of \(previews.count) frame\(previews.count == 1 ? "" : "s") (input | output) -> \(url.path)")
        }
        return SwapReport(model: options.model.path, target: resolvedTarget, direction: options.direction.rawValue,
                          watermark: payloads.first ?? "", outputs: reports, preview: previewPath,
                          seconds: Date().timeIntervalSince(started), stages: clock.stages)
    }

    /// The output file for a unit: `--output` itself for a single input that is not a folder; else
    /// `<output or workspace/Swaps>/<name>-swapped.<ext>` (`defaultExtension`).
    static func outputURL(for unit: SwapUnit, options: SwapOptions, single: Bool) throws -> URL {
        var isDirectory: ObjCBool = false
        if let output = options.output {
            let exists = FileManager.default.fileExists(atPath: output.path, isDirectory: &isDirectory)
            if single && !(exists && isDirectory.boolValue) && !output.hasDirectoryPath {
                try checkExtension(of: output, for: unit, codec: options.codec)
                try checkContainer(of: output, for: unit)
                return output.standardizedFileURL
            }
            return output.appendingPathComponent("\(unit.stem)-swapped.\(try defaultExtension(for: unit, codec: options.codec))").standardizedFileURL
        }
        return options.workspace.appendingPathComponent("Swaps/\(unit.stem)-swapped.\(try defaultExtension(for: unit, codec: options.codec))")
            .standardizedFileURL
    }

    /// The extension of an output swap names itself: an image's own format (PNG unless JPEG); for a video, Matroska
    /// with FFV1, and with H.264 MP4 when MP4 can carry the source's audio untouched, else Matroska (a camera's PCM
    /// sound, an MKV's FLAC).
    static func defaultExtension(for unit: SwapUnit, codec: SwapOutputCodec) throws -> String {
        switch unit {
        case .image(let url):
            return ImageFormat(fileExtension: url.pathExtension).map { $0 == .jpeg ? "jpg" : "png" } ?? "png"
        case .video, .faces:
            if codec == .ffv1 { return VideoContainer.matroska.fileExtension }
            guard let source = unit.soundSource else { return VideoContainer.mp4.fileExtension }
            guard let container = try VideoContainer.firstCarryingAudio(of: source, preferred: [.mp4, .matroska]) else {
                let refused = try VideoContainer.matroska.audioStreamsItCannotCarry(from: source)
                throw MediaError.unsupportedCodec(path: source.path, codec: refused.joined(separator: ", ") + " (no container can carry it untouched)")
            }
            return container.fileExtension
        }
    }
}

extension SwapRun {
    /// Refuses an `--output` name whose extension says another format than the one written: images are written as
    /// PNG, or JPEG when named .jpg / .jpeg / .jpe; videos as H.264 in MP4 (.mp4, .m4v), MOV (.mov) or Matroska
    /// (.mkv), FFV1 in Matroska (.mkv). A name without an extension takes the format as it is (MP4 for H.264).
    static func checkExtension(of output: URL, for unit: SwapUnit, codec: SwapOutputCodec) throws {
        let ext = output.pathExtension.lowercased()
        guard !ext.isEmpty else { return }
        let name = output.lastPathComponent
        switch unit {
        case .image:
            guard let format = ImageFormat(fileExtension: ext), format == .png || format == .jpeg else {
                throw SwapError.badOption("--output \(name): an image is written as PNG or JPEG; name it .png or .jpg")
            }
        case .video, .faces:
            let fits = codec == .ffv1 ? ["mkv"] : ["mp4", "m4v", "mov", "mkv"]
            guard fits.contains(ext) else {
                throw SwapError.badOption("--output \(name): \(codec == .ffv1 ? "FFV1 is written in Matroska; name it .mkv" : "H.264 is written in MP4, MOV or Matroska; name it .mp4, .mov or .mkv")")
            }
        }
    }

    /// Refuses, before any work, an `--output` video whose container cannot carry the source's audio untouched
    /// (MP4 and PCM sound, say), naming the container that can.
    static func checkContainer(of output: URL, for unit: SwapUnit) throws {
        guard let source = unit.soundSource else { return }
        let container = VideoContainer(forOutput: output)
        let refused = try container.audioStreamsItCannotCarry(from: source)
        guard !refused.isEmpty else { return }
        let better = try VideoContainer.firstCarryingAudio(of: source, preferred: [.matroska, .mov])
        throw SwapError.badOption("--output \(output.lastPathComponent): \(container.displayName) cannot carry \(source.lastPathComponent)'s "
            + refused.joined(separator: ", ") + ", which swap copies untouched" + (better.map { "; name it .\($0.fileExtension)" } ?? ""))
    }
}

/// One input to swap.
enum SwapUnit {
    case video(URL)
    case image(URL)
    /// A faces manifest already filtered to the target (`identify label --target`), read and checked: its faces
    /// are swapped as given.
    case faces(URL, FilteredFaces.Loaded)

    var url: URL {
        switch self { case .video(let u), .image(let u), .faces(let u, _): return u }
    }
    /// The video whose sound the output carries (a faces manifest's video); nil for an image.
    var soundSource: URL? {
        switch self {
        case .video(let url): return url
        case .faces(_, let loaded): return loaded.video
        case .image: return nil
        }
    }
    var stem: String {
        let name = url.deletingPathExtension().lastPathComponent
        return name.isEmpty ? "input" : name
    }
}

/// What every job of one swap call shares.
struct SwapContext {
    let options: SwapOptions
    let catalog: Catalog
    let progress: ProgressSink
    let clock: StageClock
    let analysis: DeferredAnalysis
    let renderer: FaceRenderer
    let decision: TargetDecision?
    let framing: ModelFraming
    let modelInfo: SwapModelInfo
    let target: SwapTarget
}
