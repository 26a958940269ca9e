import Catalog
import FacetCore
import Foundation
import Manifest
import Models
import Recognition

/// Settings of `identify label`.
public struct LabelOptions: Sendable {
    /// `nearest`/`centroid`: a face matches an identity when its distance is at most this (nil: dlib's 0.6).
    /// `calibrated`: nil keeps the calibration; a value caps every identity's threshold.
    public var threshold: Double?
    /// The decision rule (see `LabelDecider`, `DecisionRule`); `calibrated`, the open-set rule, by default.
    public var rule: DecisionRule
    /// Decide faces of video tracks by their track's vote (see `LabelDecider`).
    public var trackVoting: Bool
    /// Faces smaller than this (√(box area), frame pixels) are not recognised on their own (see `LabelDecider`).
    public var minFaceSize: Double
    /// With a target, also write a faces manifest holding only that identity's faces.
    public var target: String?
    /// The labels manifest (default `<workspace>/Manifests/labels-<faces manifest name>.json`).
    public var labelsURL: URL?
    /// The target's faces manifest (default `<workspace>/Manifests/<faces manifest name>-<target>.json`).
    public var targetURL: URL?
    public var workspace: URL
    public var models: ModelStore

    public init(threshold: Double? = nil, rule: DecisionRule = .calibrated, trackVoting: Bool = true, minFaceSize: Double = 36, target: String? = nil,
                labelsURL: URL? = nil, targetURL: URL? = nil, workspace: URL, models: ModelStore = ModelStore()) {
        self.threshold = threshold; self.rule = rule; self.trackVoting = trackVoting; self.minFaceSize = minFaceSize; self.target = target
        self.labelsURL = labelsURL; self.targetURL = targetURL; self.workspace = workspace; self.models = models
    }

    var parameters: [String: JSONValue] {
        var p: [String: JSONValue] = ["rule": .string(rule.rawValue), "track-voting": .bool(trackVoting), "min-face-size": .number(minFaceSize)]
        if let threshold { p["threshold"] = .number(threshold) }
        if let target { p["target"] = .string(target) }
        return p
    }
}

/// What `identify label` did; printed with `--json`.
public struct LabelReport: Codable, Sendable {
    /// The labels manifest written (absolute).
    public var labels: String
    /// The target's faces manifest (absolute), when a target was given.
    public var filtered: String?
    public var faces: Int
    /// Descriptors computed by this run (the rest came from the catalog's cache).
    public var embedded: Int
    public var tracks: Int
    /// Faces per final label (`unknown` included).
    public var counts: [String: Int]
    /// Per track: its id, label and faces.
    public var trackLabels: [TrackLabel]
    public var labelingId: Int64
    public var seconds: Double
    /// Said on stderr too: with `--target`, that no face was the target, and which track came nearest.
    public var warnings: [String]
}

/// `identify label`: every face of a faces manifest gets the nearest enrolled identity or `unknown`.
public enum Labeler {
    public static func run(facesManifest url: URL, options: LabelOptions, catalog: Catalog, progress: ProgressSink) throws -> LabelReport {
        let started = Date()
        if let t = options.threshold, !(t > 0 && t.isFinite) { throw IdentifyError.badOption("--threshold must be a positive distance") }
        let gallery = try IdentityGallery(catalog: catalog)
        guard !gallery.isEmpty else { throw IdentifyError.noIdentities(catalog: catalog.url.path) }
        var targetIndex: Int?
        if let target = options.target {
            targetIndex = gallery.entries.firstIndex { $0.name.caseInsensitiveCompare(target) == .orderedSame }
            guard targetIndex != nil else { throw IdentifyError.unknownIdentity(name: target, known: gallery.entries.map(\.name)) }
        }
        let manifest = try ManifestIO.read(FacesManifest.self, from: url)
        guard !manifest.items.isEmpty else { throw IdentifyError.emptyManifest(path: url.path) }

        let embedder = try FaceEmbedder(store: options.models)
        let (descriptors, hashes, embedded) = try embedder.embed(manifest.items, manifestURL: url, catalog: catalog, progress: progress)

        // Distances face × identity, then decisions per track (video inputs) or per face (images).
        let distances = descriptors.map { gallery.distances($0, rule: options.rule.distance) }
        let decider = LabelDecider(gallery: gallery, rule: options.rule, threshold: options.threshold, minFaceSize: options.minFaceSize)
        var decisions = [LabelDecider.Decision?](repeating: nil, count: manifest.items.count)
        var trackOrder: [Int64] = []
        var trackFaces: [Int64: [Int]] = [:]
        for (i, item) in manifest.items.enumerated() {
            let isVideo = manifest.inputs.indices.contains(item.input) && manifest.inputs[item.input].kind == "video"
            if options.trackVoting && isVideo {
                if trackFaces[item.track] == nil { trackOrder.append(item.track) }
                trackFaces[item.track, default: []].append(i)
            } else {
                decisions[i] = decider.decideFace(distances[i], faceSize: item.faceSize)
            }
        }
        // Tracks of one input seen in the same frame are different people: each other's cohort.
        let members = trackOrder.map { trackFaces[$0] ?? [] }
        let frames = members.map { Set($0.map { "\(manifest.items[$0].input)/\(manifest.items[$0].frameNumber)" }) }
        let votes = decider.decideVideo(members.map { $0.map { distances[$0] } }, faceSizes: members.map { $0.map { manifest.items[$0].faceSize } },
                                        overlaps: { !frames[$0].isDisjoint(with: frames[$1]) })
        var tracks: [TrackLabel] = []
        for (t, track) in trackOrder.enumerated() {
            let (faces, vote) = votes[t]
            for (k, i) in members[t].enumerated() { decisions[i] = faces[k] }
            tracks.append(TrackLabel(track: track, identity: vote.identity.map { decider.names[$0] }, medianDistance: vote.medianDistance.map(round4),
                                     faces: members[t].count, outliers: vote.outliers))
        }

        // Outputs: labels manifest, optional target manifest, catalog rows.
        let stem = url.deletingPathExtension().lastPathComponent
        let labelsURL = options.labelsURL ?? options.workspace.appendingPathComponent("Manifests/labels-\(stem).json")
        let manifestHash = try SHA256.hex(fileAt: url)
        var items: [FaceLabel] = []
        var counts: [String: Int] = [:]
        var rows: [FaceLabelRecord] = []
        for (i, item) in manifest.items.enumerated() {
            let d = decisions[i] ?? decider.decideFace(distances[i], faceSize: item.faceSize)
            let name = d.identity.map { decider.names[$0] }
            counts[name ?? "unknown", default: 0] += 1
            let crop = ManifestIO.relativePath(of: ManifestIO.resolve(item.crop, relativeToManifest: url), fromManifest: labelsURL)
            items.append(FaceLabel(faceId: item.id, crop: crop, track: item.track, identity: name, distance: d.distance.map(round4),
                                   nearest: d.nearest.map { decider.names[$0] }, nearestDistance: d.nearestDistance.map(round4),
                                   faceDecision: d.faceDecision.map { decider.names[$0] }, decidedBy: d.byTrack ? "track" : "face"))
            rows.append(FaceLabelRecord(labelingId: 0, faceId: item.id, track: item.track, cropSha256: hashes[i],
                                        identityId: d.identity.map { gallery.entries[$0].id }, identityName: name, distance: d.distance,
                                        nearestName: d.nearest.map { decider.names[$0] }, nearestDistance: d.nearestDistance,
                                        faceDecision: d.faceDecision.map { decider.names[$0] }, decidedBy: d.byTrack ? "track" : "face"))
        }
        var tool = ToolInfo(name: "identify", parameters: options.parameters)
        tool.parameters["command"] = .string("label")
        let identities = gallery.entries.map { LabelsIdentity(name: $0.name, references: $0.references.count, consent: $0.consent) }
        let labels = LabelsManifest(tool: tool, createdAt: timestamp(),
                                    faces: ManifestReference(path: ManifestIO.relativePath(of: url, fromManifest: labelsURL), sha256: manifestHash),
                                    threshold: options.threshold ?? decider.threshold, rule: options.rule.rawValue, trackVoting: options.trackVoting,
                                    identities: identities, tracks: tracks, items: items, counts: counts)
        try ManifestIO.write(labels, to: labelsURL)

        var filteredURL: URL?
        var warnings: [String] = []
        if let targetIndex {
            let name = gallery.entries[targetIndex].name
            let out = options.targetURL ?? options.workspace.appendingPathComponent("Manifests/\(stem)-\(fileSafe(name)).json")
            let keep = manifest.items.indices.filter { decisions[$0]?.identity == targetIndex }
            try writeFiltered(manifest, from: url, keeping: keep, to: out, tool: tool)
            filteredURL = out
            if keep.isEmpty {
                var message = "no face of \(url.lastPathComponent) was decided as '\(name)'"
                // A track within dlib's same-person distance may be the person in harder conditions than the
                // references: say which, and the safe way to include it after looking.
                if let near = decider.nearestUnnamedTrack(to: targetIndex, distances: members.map { $0.map { distances[$0] } },
                                                          faceSizes: members.map { $0.map { manifest.items[$0].faceSize } },
                                                          votes: votes.map(\.vote)) {
                    let track = trackOrder[near.track]
                    message += "; track \(track) (\(members[near.track].count) faces) lies " + String(format: "%.3f", near.median)
                        + " from it, beyond the " + String(format: "%.3f", near.limit) + " a track needs: if that is '\(name)' "
                        + "(look at the contact sheet), enrol it: identify enroll --name '\(name)' --track \(track) '\(url.path)'"
                }
                warnings.append(message)
                progress.log("identify: warning: \(message)")
            }
        }
        let snapshot = ToolRunNaming.canonicalJSON(Dictionary(uniqueKeysWithValues: identities.map { ($0.name, JSONValue.number(Double($0.references))) }))
        let labelingId = try catalog.recordLabeling(
            LabelingRecord(manifestPath: url.path, manifestSha256: manifestHash, outputPath: filteredURL?.path ?? labelsURL.path,
                           threshold: options.threshold ?? decider.threshold, rule: options.rule.rawValue, identities: snapshot,
                           faces: items.count, unknown: counts["unknown"] ?? 0, createdAt: timestamp()),
            labels: rows)
        return LabelReport(labels: labelsURL.path, filtered: filteredURL?.path, faces: items.count, embedded: embedded, tracks: tracks.count,
                           counts: counts, trackLabels: tracks, labelingId: labelingId, seconds: Date().timeIntervalSince(started),
                           warnings: warnings)
    }

    /// A faces manifest holding only `keep` (indices into `manifest.items`), with every path re-expressed
    /// relative to `out`. The tool field names `identify` and the filter.
    static func writeFiltered(_ manifest: FacesManifest, from url: URL, keeping keep: [Int], to out: URL, tool: ToolInfo) throws {
        func moved(_ path: String) -> String {
            ManifestIO.relativePath(of: ManifestIO.resolve(path, relativeToManifest: url), fromManifest: out)
        }
        var filtered = manifest
        var info = tool
        info.parameters["faces"] = .string(moved(url.lastPathComponent))
        filtered.tool = info
        filtered.createdAt = timestamp()
        filtered.inputs = manifest.inputs.map { var input = $0; input.path = moved($0.path); return input }
        filtered.items = keep.map { i in
            var item = manifest.items[i]
            item.crop = moved(item.crop)
            item.mask = item.mask.map(moved)
            item.frame = item.frame.map(moved)
            return item
        }
        try ManifestIO.write(filtered, to: out)
    }
}

/// Rounds to 4 decimals (distances in manifests).
func round4(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }

/// A name usable in a file name: letters, digits, `-` and `_`; everything else becomes `_`.
public func fileSafe(_ name: String) -> String {
    String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
}
