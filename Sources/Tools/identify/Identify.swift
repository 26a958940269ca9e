import ArgumentParser
import Catalog
import FacetCore
import Foundation
import Identity
import Models
import Recognition
import ToolSupport

/// `identify`: enrol people, label every face of a faces manifest, keep only a target's faces, and cluster
/// faces of no enrolled identity.
@main
struct Identify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify",
        abstract: "Enrol people, label faces by person, filter to one person, cluster the unknown.",
        discussion: """
            Faces are compared by dlib's 128-d face descriptors (ResNet), computed from detect's aligned crops and \
            cached in the catalog. Default rule (calibrated, open-set): distance to an identity's centroid, within a \
            threshold per identity from its references' spread (0.40-0.46; one reference 0.48), and 0.05 nearer than any other \
            identity. Old rules: --rule nearest (nearest reference) or centroid, one threshold (0.6).

            Exit codes: 0 ok, 1 failure (I/O, locked catalog, full disk), 64 usage, 65 bad data (an image with no \
            face or several, references of a different person, an unknown manifest version, an undecodable crop), \
            66 missing input (files, crops, models, an unknown identity, no identity enrolled).
            """,
        subcommands: [Enroll.self, List.self, Remove.self, Label.self, Cluster.self])
}

/// Options shared by the subcommands that run the face-recognition network.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Model folder (default: $FACET_MODELS, else ~/.cache/facet/models).", valueName: "dir"))
    var models: String?

    var store: ModelStore { ModelStore(directory: models.map { URL(fileURLWithPath: $0) }) }
}

func fileURL(_ path: String) -> URL { URL(fileURLWithPath: path).standardizedFileURL }

extension Identify {
    struct Enroll: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol a person from reference images, a faces manifest, or a cluster; adds to an existing identity.")

        @OptionGroup var common: CommonOptions
        @OptionGroup var model: ModelOptions

        @Option(help: "The person's name (unique, case-insensitive).")
        var name: String

        @Option(help: ArgumentHelp("Consent note stored with the identity (who agreed to what, when).", valueName: "note"))
        var consent: String?

        @Option(help: ArgumentHelp("With several faces in an image (or tracks in a manifest): 'largest' takes the largest.", valueName: "largest"))
        var pick: String?

        @Option(help: ArgumentHelp("Only this track of a faces manifest (see its contact sheet).", valueName: "id"))
        var track: Int64?

        @Option(help: ArgumentHelp("Enrol the faces of this cluster (ids from `identify cluster`).", valueName: "id"))
        var cluster: Int64?

        @Option(help: ArgumentHelp("New references farther than this from the identity's are refused.", valueName: "distance"))
        var threshold: Double = 0.6

        @Flag(help: "Add references even when they look like a different person.")
        var force = false

        @Argument(help: ArgumentHelp("Reference images, folders of images, or faces manifests (.json); with --cluster, the clusters manifest it comes from may be given too.", valueName: "input"))
        var inputs: [String] = []

        func validate() throws {
            if let pick, pick != "largest" { throw ValidationError("--pick must be 'largest'") }
            guard threshold > 0 else { throw ValidationError("--threshold must be positive") }
        }

        func run() throws {
            OpenBLASCoreChoice.applyRecordedChoice()
            try ToolRunner.run(tool: "identify enroll") {
                let progress = ProgressReporter(quiet: common.quiet)
                let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
                let report = try Enroller.run(
                    inputs: inputs.map(fileURL),
                    options: EnrollOptions(name: name, consent: consent, pickLargest: pick == "largest", track: track, cluster: cluster,
                                           force: force, threshold: threshold, models: model.store),
                    catalog: catalog, progress: progress)
                if common.json { try ToolRunner.printJSON(report) }
                progress.log("identify: \(report.created ? "enrolled" : "updated") '\(report.name)': \(report.added) new references, \(report.references) in all")
                return .ok
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List enrolled identities with their references, spread, effective threshold and consent notes.")
        @OptionGroup var common: CommonOptions

        func run() throws {
            try ToolRunner.run(tool: "identify list") {
                let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
                let identities = try IdentityListing.list(catalog: catalog)
                if common.json { try ToolRunner.printJSON(identities); return .ok }
                for identity in identities {
                    let consent = identity.consent.isEmpty ? "(no consent note)" : identity.consent
                    let spread = identity.spread.map { String(format: "spread %.3f", $0) } ?? "spread -"
                    let flag = identity.loose ? "\tLOOSE: \(identity.worstReference ?? "?") is \(String(format: "%.3f", identity.worstDistance ?? 0)) from the others" : ""
                    let threshold = String(format: "threshold %.3f (tracks %.3f)", identity.threshold, identity.trackThreshold)
                    print("\(identity.name)\t\(identity.references) references\t\(spread)\t\(threshold)\t\(consent)\(flag)")
                }
                return .ok
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an identity and its references (past labels keep the name).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Names of the identities to remove.")
        var names: [String]

        func run() throws {
            try ToolRunner.run(tool: "identify remove") {
                let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
                for name in names { try IdentityListing.remove(name: name, catalog: catalog) }
                if common.json { try ToolRunner.printJSON(["removed": names]) }
                return .ok
            }
        }
    }

    struct Label: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Label every face of a faces manifest with the nearest enrolled identity or 'unknown'; --target keeps one person.",
            discussion: """
                Faces of a video track are decided together: the track takes the identity with the smallest median \
                distance over its faces when that median passes the rule, and each face keeps it unless its \
                own distance is beyond the identity's threshold + 0.1 (then it is unknown, never another person). \
                Of tracks seen in the same frame only the nearest can take an identity. Faces of images \
                are decided one by one. Writes a labels manifest and catalog rows with every distance.
                """)

        @OptionGroup var common: CommonOptions
        @OptionGroup var model: ModelOptions

        @Option(help: ArgumentHelp("nearest/centroid: a face matches at this distance or less (default 0.6); calibrated: caps every identity's threshold.",
                                   valueName: "distance"))
        var threshold: Double?

        @Option(help: "calibrated (open-set: per-identity thresholds and a margin), nearest (nearest reference, fixed threshold) or centroid.")
        var rule: String = "calibrated"

        @Flag(help: "Decide every face on its own, ignoring tracks.")
        var noTrackVoting = false

        @Option(help: ArgumentHelp("Faces smaller than this (sqrt of box area, frame pixels) are not recognised on their own.", valueName: "px"))
        var minFaceSize: Double = 36

        @Option(help: ArgumentHelp("Also write a faces manifest holding only this identity's faces.", valueName: "name"))
        var target: String?

        @Option(help: ArgumentHelp("The target's faces manifest (default: <workspace>/Manifests/<faces manifest name>-<target>.json).", valueName: "file"))
        var output: String?

        @Option(help: ArgumentHelp("The labels manifest (default: <workspace>/Manifests/labels-<faces manifest name>.json).", valueName: "file"))
        var labels: String?

        @Argument(help: ArgumentHelp("A faces manifest from detect.", valueName: "faces.json"))
        var faces: String

        func validate() throws {
            guard DecisionRule(rawValue: rule) != nil else { throw ValidationError("--rule must be calibrated, nearest or centroid") }
            if let threshold, !(threshold > 0) { throw ValidationError("--threshold must be positive") }
            guard minFaceSize >= 0 else { throw ValidationError("--min-face-size must be 0 or more pixels") }
            if output != nil && target == nil { throw ValidationError("--output names the --target manifest; give --target") }
        }

        func run() throws {
            OpenBLASCoreChoice.applyRecordedChoice()
            try ToolRunner.run(tool: "identify label") {
                let progress = ProgressReporter(quiet: common.quiet)
                let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
                let options = LabelOptions(threshold: threshold, rule: DecisionRule(rawValue: rule) ?? .calibrated, trackVoting: !noTrackVoting,
                                           minFaceSize: minFaceSize, target: target, labelsURL: labels.map(fileURL), targetURL: output.map(fileURL),
                                           workspace: common.workspaceURL, models: model.store)
                let report = try Labeler.run(facesManifest: fileURL(faces), options: options, catalog: catalog, progress: progress)
                if common.json { try ToolRunner.printJSON(report) }
                let counts = report.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                progress.log("identify: \(report.faces) faces in \(report.tracks) tracks: \(counts) -> \(report.filtered ?? report.labels)")
                return .ok
            }
        }
    }

    struct Cluster: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Group faces of no enrolled identity into people (Chinese whispers), with a contact sheet per group.",
            discussion: "Enrol a group with `identify enroll --name NAME --cluster ID`.")

        @OptionGroup var common: CommonOptions
        @OptionGroup var model: ModelOptions

        @Option(help: ArgumentHelp("Link faces whose descriptors are at most this far apart.", valueName: "distance"))
        var threshold: Double = 0.6

        @Option(help: ArgumentHelp("Report clusters of at least N faces.", valueName: "N"))
        var minSize: Int = 2

        @Option(help: "Seed of the clustering's visiting order.")
        var seed: UInt64 = 1

        @Flag(help: "Cluster every face on its own instead of one node per video track.")
        var noTracks = false

        @Option(help: ArgumentHelp("The clusters manifest (default: <workspace>/Manifests/clusters-<input>.json).", valueName: "file"))
        var output: String?

        @Argument(help: ArgumentHelp("Faces manifests from detect.", valueName: "faces.json"))
        var faces: [String]

        func run() throws {
            OpenBLASCoreChoice.applyRecordedChoice()
            try ToolRunner.run(tool: "identify cluster") {
                let progress = ProgressReporter(quiet: common.quiet)
                let catalog = try Catalog(url: common.catalogURL, busyTimeout: common.busyTimeout)
                let options = ClusterOptions(threshold: threshold, minSize: minSize, seed: seed, byTrack: !noTracks, output: output.map(fileURL),
                                             workspace: common.workspaceURL, models: model.store)
                let report = try Clusterer.run(facesManifests: faces.map(fileURL), options: options, catalog: catalog, progress: progress)
                if common.json { try ToolRunner.printJSON(report) }
                progress.log("identify: \(report.clusters.count) clusters of \(report.faces) unknown faces (\(report.unclustered) unclustered, "
                    + "\(report.known) of enrolled people left out) -> \(report.manifest)")
                for c in report.clusters { progress.log("  cluster id \(c.id): \(c.size) faces, sheet \(c.sheet ?? "-")") }
                return .ok
            }
        }
    }
}
