import ArgumentParser
import Catalog
import Datasets
import FacetCore
import Foundation
import ToolSupport

/// `dedupe`: per-identity datasets from faces manifests (`build`, the default), their coverage audit
/// (`audit`) and an integrity check of a dataset folder (`verify`).
@main
struct Dedupe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedupe",
        abstract: "Build a per-identity dataset of distinct, sharp faces that cover poses and expressions; audit its coverage.",
        discussion: """
            Exit codes: 0 ok, 1 failure (I/O, locked catalog, full disk), 64 usage, 65 bad data (an empty or \
            unknown manifest, too few faces without --force, a dataset folder edited by hand), 66 missing input.
            """,
        subcommands: [Build.self, Audit.self, Verify.self],
        defaultSubcommand: Build.self)
}

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Filter, dedupe and select faces into <workspace>/Datasets/<identity>/ (the default command).",
        discussion: """
            Inputs are faces manifests of one person (from detect, or identify --target). Writes the crops (and \
            masks) to Datasets/<identity>/faces/, the dataset manifest Datasets/<identity>/dataset.json, every \
            dropped face with its reason to Datasets/<identity>/dedupe-report.json, and the version to the catalog.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("Faces manifests (.json) of one person.", valueName: "faces-manifest"))
    var inputs: [String]

    @Option(help: ArgumentHelp("The person's name: the dataset folder's name (default: the manifests' identify --target name).", valueName: "name"))
    var identity: String?

    @Option(help: ArgumentHelp("Drop faces whose sharpness (variance of the Laplacian) is below this (0: off).", valueName: "s"))
    var minSharpness: Double = 0
    @Option(help: ArgumentHelp("Drop faces whose sharpness is below this fraction of the median of their video's faces (0: off).", valueName: "r"))
    var blurRatio: Double = 0.4
    @Option(help: ArgumentHelp("Drop faces smaller than this: √(box area) in frame pixels.", valueName: "px"))
    var minFaceSize: Double = 64
    @Option(help: ArgumentHelp("Drop faces turned further than this (|yaw|, degrees).", valueName: "deg"))
    var maxYaw: Double = 80
    @Option(help: ArgumentHelp("Drop faces tilted up or down further than this (|pitch|, degrees).", valueName: "deg"))
    var maxPitch: Double = 60
    @Option(help: ArgumentHelp("Drop faces rolled further than this (|roll|, degrees).", valueName: "deg"))
    var maxRoll: Double = 60
    @Option(help: ArgumentHelp("Drop faces whose FaceMesh presence is below this (0-1).", valueName: "p"))
    var minPresence: Double = 0.8
    @Flag(help: "Drop faces with both eyes closed (blinks).")
    var dropClosedEyes = false
    @Option(help: ArgumentHelp("Eye openness (lid gap / eye width) under which an eye counts as closed.", valueName: "r"))
    var closedEyesBelow: Double = 0.12

    @Option(help: ArgumentHelp("Near-duplicates: largest Hamming distance of the crops' 63-bit perceptual hashes (0-15).", valueName: "bits"))
    var maxHashDistance: Int = 10
    @Option(help: ArgumentHelp("Near-duplicates: largest distance of the crops' unit DCT descriptors (0-2).", valueName: "d"))
    var maxDescriptorDistance: Double = 0.25
    @Option(help: ArgumentHelp("Near-duplicates: largest yaw and pitch difference (roll: twice this).", valueName: "deg"))
    var maxPoseGap: Double = 4
    @Option(help: ArgumentHelp("Near-duplicates: largest expression difference in units (mouth 0.06, eye 0.05, smile 0.06, brow 0.03).", valueName: "u"))
    var maxExpressionGap: Double = 1
    @Flag(help: "Let the faces at the ends of the yaw and pitch ranges be grouped like any other (by default they are always kept).")
    var noKeepPoseExtremes = false

    @Option(help: ArgumentHelp("At most this many faces; above it, choose those that cover poses and expressions best.", valueName: "N"))
    var maxFaces: Int = 2000
    @Option(help: ArgumentHelp("Warn when fewer faces are left.", valueName: "N"))
    var minFaces: Int = 300
    @Option(help: ArgumentHelp("Refuse (exit 65) when fewer faces are left, unless --force.", valueName: "N"))
    var hardMin: Int = 100
    @Flag(help: "Build the dataset even when fewer than --hard-min faces are left.")
    var force = false
    @Option(help: ArgumentHelp("Faces manifest of the video to be swapped: selection follows its pose and expression shares (repeatable).", valueName: "faces-manifest"))
    var reference: [String] = []
    @Option(help: ArgumentHelp("How much the reference's shares count against an even spread (0-1).", valueName: "w"))
    var referenceWeight: Double = 0.5
    @Option(help: ArgumentHelp("Pose bin size for selection, degrees.", valueName: "deg"))
    var poseBin: Double = 10
    @Option(help: ArgumentHelp("Chooses among equally good faces; the same seed gives the same dataset.", valueName: "n"))
    var seed: UInt64 = 0
    @Flag(help: "Rebuild even when the dataset folder was edited by hand (the edits are lost).")
    var replace = false
    @Option(help: ArgumentHelp("Crop-reading threads (0: one per core).", valueName: "N"))
    var threads: Int = 0

    func run() throws {
        try ToolRunner.run(tool: "dedupe") {
            let progress = ProgressReporter(quiet: common.quiet)
            let urls = inputs.map { URL(fileURLWithPath: $0).standardizedFileURL }
            guard let name = try identity ?? DatasetNaming.identity(fromManifests: urls) else {
                throw DatasetError.badOption("--identity is required (the manifests do not name one target person)")
            }
            let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
            let options = DatasetOptions(
                inputs: urls, workspace: common.workspaceURL, identity: name,
                quality: QualitySettings(minSharpness: minSharpness, blurRatio: blurRatio, minFaceSize: minFaceSize, maxYaw: maxYaw,
                                         maxPitch: maxPitch, maxRoll: maxRoll, minPresence: minPresence, dropClosedEyes: dropClosedEyes,
                                         closedEyesBelow: closedEyesBelow),
                duplicates: DuplicateSettings(maxHashDistance: maxHashDistance, maxDescriptorDistance: maxDescriptorDistance, maxPoseGap: maxPoseGap,
                                              maxExpressionGap: maxExpressionGap, keepPoseExtremes: !noKeepPoseExtremes),
                maxFaces: maxFaces, minFaces: minFaces, hardMinimum: hardMin, force: force,
                reference: reference.map { URL(fileURLWithPath: $0).standardizedFileURL }, referenceWeight: referenceWeight,
                bins: CoverageBins(poseBinDegrees: poseBin), seed: seed, replace: replace, threads: threads)
            let report = try DatasetBuilder(options: options, catalog: catalog, progress: progress).run()
            if common.json { try ToolRunner.printJSON(report) }
            return .ok
        }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Report how well a dataset covers poses and expressions, optionally against the target video's faces.",
        discussion: """
            Writes audit.json, pose.png, expressions.png, expression-classes.png, quality.png and one \
            self-contained audit.html to --output (default: audit/ beside a dataset manifest). With --json the \
            audit document is also printed on stdout. A dataset folder edited by hand is refused (exit 65) unless \
            --no-verify.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("A dataset manifest (Datasets/<identity>/dataset.json) or a faces manifest.", valueName: "manifest"))
    var subject: String

    @Option(help: ArgumentHelp("Faces manifest of the target video (repeatable).", valueName: "faces-manifest"))
    var against: [String] = []
    @Option(help: ArgumentHelp("Folder for the audit files.", valueName: "dir"))
    var output: String?
    @Option(help: ArgumentHelp("Pose bin size, degrees.", valueName: "deg"))
    var poseBin: Double = 10
    @Option(help: ArgumentHelp("A bin the target uses is thin when the dataset has fewer faces in it than this.", valueName: "N"))
    var thinBelow: Int = 10
    @Option(help: ArgumentHelp("A bin counts as used by the target from this many of its faces...", valueName: "N"))
    var minTargetFaces: Int = 3
    @Option(help: ArgumentHelp("...and this share of them (0-1).", valueName: "share"))
    var minTargetShare: Double = 0.01
    @Flag(help: "Audit a dataset even when its folder differs from its manifest (the differences are reported).")
    var noVerify = false
    @Option(help: ArgumentHelp("Hashing threads (0: one per core).", valueName: "N"))
    var threads: Int = 0

    func validate() throws {
        guard poseBin >= 1, poseBin <= 90 else { throw ValidationError("--pose-bin must be 1...90 degrees") }
        guard thinBelow >= 1, minTargetFaces >= 1, (0...1).contains(minTargetShare) else {
            throw ValidationError("--thin-below and --min-target-faces must be 1 or more, --min-target-share 0...1")
        }
    }

    func run() throws {
        try ToolRunner.run(tool: "dedupe audit") {
            let progress = ProgressReporter(quiet: common.quiet)
            let options = AuditOptions(subject: URL(fileURLWithPath: subject).standardizedFileURL,
                                       against: against.map { URL(fileURLWithPath: $0).standardizedFileURL },
                                       output: output.map { URL(fileURLWithPath: $0).standardizedFileURL },
                                       bins: CoverageBins(poseBinDegrees: poseBin), thinBelow: thinBelow, minTargetFaces: minTargetFaces,
                                       minTargetShare: minTargetShare, verify: !noVerify, threads: threads)
            let audit = try CoverageAuditRun.run(options, progress: progress)
            if common.json { try ToolRunner.printJSON(audit) }
            return .ok
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a dataset folder against its manifest: every crop's SHA-256, every mask, no extra images.",
        discussion: "Exit codes: 0 intact, 65 changed (each difference on stderr), 66 no such manifest.")

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("A dataset manifest (Datasets/<identity>/dataset.json) or its folder.", valueName: "dataset"))
    var dataset: String
    @Option(help: ArgumentHelp("Hashing threads (0: one per core).", valueName: "N"))
    var threads: Int = 0

    func run() throws {
        try ToolRunner.run(tool: "dedupe verify") {
            var url = URL(fileURLWithPath: dataset).standardizedFileURL
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
                url = url.appendingPathComponent("dataset.json")
            }
            let integrity = try DatasetFolder.verify(manifestAt: url, threads: threads)
            if common.json { try ToolRunner.printJSON(integrity) }
            if integrity.intact {
                if !common.quiet { FileHandle.standardError.write(Data("dedupe verify: \(url.path): intact (\(integrity.items) crops)\n".utf8)) }
                return .ok
            }
            for problem in integrity.problems { ToolRunner.printError(tool: "dedupe verify", "\(url.deletingLastPathComponent().path): \(problem)") }
            return .dataError
        }
    }
}
