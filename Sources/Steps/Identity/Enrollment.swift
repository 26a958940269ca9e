import Catalog
import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Models
import Recognition

/// Settings of `identify enroll`.
public struct EnrollOptions: Sendable {
    public var name: String
    /// Replaces the identity's consent note when given (kept otherwise).
    public var consent: String?
    /// When an image shows several faces, the face consistent with the other references (or the identity's
    /// existing ones) is taken; when nothing decides, `largest` takes the largest and false refuses. For a
    /// manifest with several tracks, `largest` takes the largest face of each frame.
    public var pickLargest: Bool
    /// Only this track of a faces manifest.
    public var track: Int64?
    /// Enrol the members of this cluster (from `identify cluster`).
    public var cluster: Int64?
    /// Add references whose median distance to the identity's other references (new and existing) is above
    /// `threshold` (see `ReferenceChecks`); without it they are refused, naming the file.
    public var force: Bool
    public var threshold: Double
    public var models: ModelStore

    public init(name: String, consent: String? = nil, pickLargest: Bool = false, track: Int64? = nil, cluster: Int64? = nil,
                force: Bool = false, threshold: Double = 0.6, models: ModelStore = ModelStore()) {
        self.name = name; self.consent = consent; self.pickLargest = pickLargest; self.track = track; self.cluster = cluster
        self.force = force; self.threshold = threshold; self.models = models
    }
}

/// What an enrolment did; printed with `--json`.
public struct EnrollReport: Codable, Sendable {
    public var name: String
    public var created: Bool
    /// References added by this run, and the identity's total.
    public var added: Int
    public var references: Int
    public var consent: String
    /// Largest median distance of a new reference to the identity's other references (nil with no others).
    public var maxDistanceToExisting: Double?
    /// Which face was taken from each image showing several (`how`: `consistent` with the other references,
    /// or `largest` when nothing else decided).
    public var picks: [FacePick]
    /// The identity's reference spread after this enrolment (see `ReferenceChecks.Spread`).
    public var spread: Double?
    public var loose: Bool
    /// Other enrolled identities this one lies within reach of (see `Enroller.lookalikes`).
    public var lookalikes: [Lookalike]
    /// What the user should know (also written to stderr).
    public var warnings: [String]
}

/// Another identity whose threshold an identity's centroid lies within.
public struct Lookalike: Codable, Sendable, Equatable {
    public var name: String
    /// Centroid to centroid, and the other identity's open-set threshold (default calibration).
    public var distance: Double
    public var threshold: Double
}

/// The face taken from an image that shows several.
public struct FacePick: Codable, Sendable, Equatable {
    public var path: String
    public var faces: Int
    /// 0-based, faces ordered largest first.
    public var index: Int
    public var how: String
    /// Its median distance to the other references (`consistent` picks).
    public var distance: Double?
}

/// `identify enroll`: reference faces in, an identity with descriptors and a centroid out.
public enum Enroller {
    public static func run(inputs: [URL], options: EnrollOptions, catalog: Catalog, progress: ProgressSink) throws -> EnrollReport {
        let name = options.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw IdentifyError.badOption("--name must not be empty") }
        guard options.cluster != nil || !inputs.isEmpty else { throw IdentifyError.badOption("give reference images, faces manifests or --cluster ID") }
        let existing = try catalog.identity(named: name)
        var references: [IdentityReferenceRecord] = []
        let now = timestamp()
        if let clusterId = options.cluster {
            guard try catalog.cluster(id: clusterId) != nil else { throw IdentifyError.unknownCluster(id: clusterId) }
            for (member, blob) in try catalog.clusterMembers(clusterId: clusterId) {
                guard let blob else { continue }
                references.append(IdentityReferenceRecord(identityId: 0, origin: "cluster", path: member.cropPath, sha256: member.cropSha256,
                                                          faceId: member.faceId, embedding: blob, addedAt: now))
            }
        }
        var images: [URL] = []
        var manifests: [URL] = []
        for input in inputs {
            if input.pathExtension.lowercased() == "json" { manifests.append(input) } else { images.append(input) }
        }
        var picks: [FacePick] = []
        if !images.isEmpty {
            let anchors = try existing?.id.map { try catalog.references(identityId: $0).map { IdentityGallery.floats($0.embedding) } } ?? []
            let chosen = try imageReferences(images, options: options, anchors: anchors + references.map { IdentityGallery.floats($0.embedding) },
                                             at: now, progress: progress)
            references += chosen.references
            picks = chosen.picks
        }
        for manifest in manifests {
            do {
                references += try manifestReferences(manifest, options: options, catalog: catalog, at: now, progress: progress)
            } catch ManifestError.wrongSchema(_, let found, _) where found == ClustersManifest.schemaName {
                try checkClustersManifest(manifest, cluster: options.cluster)
            }
        }

        // Every new reference must agree with the identity's others (existing and new): a reference whose
        // median distance to them is beyond the threshold is probably someone else (a bystander, a wrong file).
        let known: [[Float]]
        if let id = existing?.id { known = try catalog.references(identityId: id).map { IdentityGallery.floats($0.embedding) } } else { known = [] }
        var vectors = references.map { IdentityGallery.floats($0.embedding) }
        var worst: Double?
        var oddFrames: [(path: String, distance: Double)] = []
        var keep = [Bool](repeating: true, count: references.count)
        for (i, reference) in references.enumerated() {
            let others = known + vectors.indices.filter { $0 != i }.map { vectors[$0] }
            // With one other reference only, a disagreement is blamed on the new one when the other is stored,
            // and on the later file of two new ones.
            if others.isEmpty || (others.count == 1 && known.isEmpty && i == 0) { continue }
            let d = ReferenceChecks.consensusDistance(vectors[i], to: others)
            guard d > options.threshold && !options.force else { worst = max(worst ?? 0, d); continue }
            // A frame of a track or cluster nobody chose by hand (blur, a profile, a hand over the face) is left
            // out; a file the user named is refused.
            if reference.origin == "image" {
                throw IdentifyError.differentPerson(name: existing?.name ?? name, path: reference.path, distance: d, threshold: options.threshold)
            }
            keep[i] = false
            oddFrames.append((reference.path, d))
        }
        var warnings: [String] = []
        if !oddFrames.isEmpty {
            let frames = references.indices.filter { references[$0].origin != "image" }.count
            // Most of the faces disagreeing with the rest is not a few odd frames: refuse.
            if oddFrames.count * 2 > frames {
                let first = oddFrames[0]
                throw IdentifyError.differentPerson(name: existing?.name ?? name, path: first.path, distance: first.distance, threshold: options.threshold)
            }
            warnings.append("left out \(oddFrames.count) of \(frames) faces that disagree with the others (beyond " +
                            "\(options.threshold) median distance), the first \(oddFrames[0].path) at " + String(format: "%.3f", oddFrames[0].distance))
            references = references.indices.filter { keep[$0] }.map { references[$0] }
            vectors = vectors.indices.filter { keep[$0] }.map { vectors[$0] }
        }
        // The new references together must agree with the stored ones: many faces of someone else (a bystander's
        // track) would otherwise outvote the few stored references in each face's own check above.
        if !known.isEmpty && vectors.count > 1 && !options.force {
            let d = LabelDecider.median(vectors.map { ReferenceChecks.consensusDistance($0, to: known) })
            if d > options.threshold {
                throw IdentifyError.differentGroup(name: existing?.name ?? name, count: vectors.count, firstPath: references.first?.path ?? name,
                                                   distance: d, threshold: options.threshold)
            }
        }
        let (identity, added) = try catalog.enroll(name: name, consent: options.consent, references: references, at: now) { blobs in
            IdentityGallery.blob(IdentityGallery.mean(blobs.map(IdentityGallery.floats)))
        }
        if let clusterId = options.cluster, let id = identity.id { try catalog.markCluster(id: clusterId, identityId: id) }
        let stored = try identity.id.map { try catalog.references(identityId: $0).map { IdentityGallery.floats($0.embedding) } } ?? []
        let spread = ReferenceChecks.spread(stored)
        let similar = try lookalikes(of: identity.id, catalog: catalog)
        warnings += similar.map { other in
            "'\(identity.name)' lies \(String(format: "%.3f", other.distance)) from '\(other.name)', within that identity's threshold " +
                "\(String(format: "%.3f", other.threshold)): if they are one person, both names stay unknown wherever they appear (two " +
                "identities within reach); enrol the references under one name (identify enroll --name '\(other.name)')"
        }
        if stored.count >= 2 && OpenSetCalibration.standard.isOnePhoto(stored) {
            warnings.append("the \(stored.count) references of '\(identity.name)' are copies of one photo (all within " +
                            "\(String(format: "%.2f", OpenSetCalibration.standard.duplicate)) of their mean), so they count as one reference; " +
                            "add other photos of this person for a threshold calibrated to them")
        }
        for warning in warnings { progress.log("identify: warning: \(warning)") }
        return EnrollReport(name: identity.name, created: existing == nil, added: added, references: identity.referenceCount,
                            consent: identity.consent, maxDistanceToExisting: worst.map(round4), picks: picks,
                            spread: spread.map { round4($0.median) }, loose: spread?.loose ?? false, lookalikes: similar, warnings: warnings)
    }

    /// The other identities whose open-set threshold the centroid of identity `id` lies within, nearest first: the
    /// same person enrolled twice (or a look-alike), which the decision rule's margin then leaves unknown under
    /// both names.
    static func lookalikes(of id: Int64?, catalog: Catalog) throws -> [Lookalike] {
        let gallery = try IdentityGallery(catalog: catalog)
        guard let mine = gallery.entries.first(where: { $0.id == id }) else { return [] }
        let thresholds = gallery.thresholds()
        return gallery.entries.indices.compactMap { k -> Lookalike? in
            let other = gallery.entries[k]
            guard other.id != id else { return nil }
            let d = IdentityGallery.distance(mine.centroid, other.centroid)
            return d <= thresholds[k] ? Lookalike(name: other.name, distance: round4(d), threshold: round4(thresholds[k])) : nil
        }.sorted { $0.distance < $1.distance }
    }

    /// One reference per image, its chip cut from the whole image as dlib does. An image with one face gives
    /// it; of an image with several, the face consistent with the others is taken: the one whose median
    /// distance to `anchors` (the identity's stored references) and the single-face images' faces is smallest,
    /// within `threshold` and 0.05 clear of the next; with neither, the faces of the other several-face images
    /// decide (each image by its nearest face). When nothing decides, `--pick largest` takes the largest face,
    /// else the image is refused.
    static func imageReferences(_ inputs: [URL], options: EnrollOptions, anchors: [[Float]], at time: String,
                                progress: ProgressSink) throws -> (references: [IdentityReferenceRecord], picks: [FacePick]) {
        var files: [URL] = []
        for unit in try InputUnit.expand(inputs, warn: { progress.log("identify: warning: \($0)") }) {
            switch unit {
            case .images(let root, let list):
                guard !list.isEmpty else { throw InputUnit.noImages(in: root) }
                files += list
            case .video(let url):
                throw IdentifyError.badOption("\(url.path): enrol from images or a faces manifest (run detect on a video first)")
            }
        }
        let analyzer = try FaceAnalyzer(range: .full, settings: FaceAnalyzer.Settings(), store: options.models)
        let net = try FaceRecognitionNet(store: options.models)
        // Every face of every image, largest first, with its descriptor.
        var candidates: [(file: URL, sha: String, faces: [[Float]])] = []
        progress.begin("enrol", total: files.count, unit: "images")
        for (n, file) in files.enumerated() {
            let data: Data
            do { data = try Data(contentsOf: file) } catch { throw FileError.unreadable(path: file.path, reason: error.localizedDescription) }
            let image = try ImageDecoder.decode(data, path: file.path)
            let faces = analyzer.locate(image, tiles: 2).sorted { $0.detection.width * $0.detection.height > $1.detection.width * $1.detection.height }
            guard !faces.isEmpty else { throw IdentifyError.noFace(path: file.path) }
            let chips = try faces.map { try FaceEmbedder.chip(fromImage: image, points5: $0.points5) }
            candidates.append((file, SHA256.hex(data), try net.embed(chips: chips)))
            progress.update(done: n + 1)
        }
        progress.finish()
        let singles = anchors + candidates.filter { $0.faces.count == 1 }.map { $0.faces[0] }
        var out: [IdentityReferenceRecord] = []
        var picks: [FacePick] = []
        for (k, candidate) in candidates.enumerated() {
            var taken = 0
            if candidate.faces.count > 1 {
                var consensus = singles
                if consensus.isEmpty {
                    // No single face to go by: each other image contributes its face nearest to each candidate.
                    let others = candidates.indices.filter { $0 != k }.map { candidates[$0].faces }
                    let scores = candidate.faces.map { face in
                        ReferenceChecks.median(others.map { faces in faces.map { IdentityGallery.distance(face, $0) }.min() ?? .infinity })
                    }
                    let order = scores.indices.sorted { scores[$0] < scores[$1] }
                    if !others.isEmpty, scores[order[0]] <= options.threshold, scores[order[1]] - scores[order[0]] >= 0.05 {
                        consensus = [candidate.faces[order[0]]]
                    }
                }
                if let pick = ReferenceChecks.pick(candidate.faces, consensus: consensus, limit: options.threshold) {
                    taken = pick.index
                    let distance = singles.isEmpty ? nil : round4(pick.distance)
                    picks.append(FacePick(path: candidate.file.path, faces: candidate.faces.count, index: taken, how: "consistent", distance: distance))
                } else if options.pickLargest {
                    picks.append(FacePick(path: candidate.file.path, faces: candidate.faces.count, index: 0, how: "largest", distance: nil))
                } else {
                    throw IdentifyError.severalFaces(path: candidate.file.path, count: candidate.faces.count,
                                                     hint: "no face agrees with the other references; crop the image to one person, or pass --pick largest")
                }
                progress.log("identify: \(candidate.file.path): took face \(taken + 1) of \(candidate.faces.count) (largest first), "
                    + (picks.last?.how == "consistent" ? "the one consistent with the other references" : "the largest (nothing else decided)"))
            }
            out.append(IdentityReferenceRecord(identityId: 0, origin: "image", path: candidate.file.path, sha256: candidate.sha, faceId: nil,
                                               embedding: IdentityGallery.blob(candidate.faces[taken]), addedAt: time))
        }
        return (out, picks)
    }

    /// The clusters manifest that `identify cluster` printed is where a cluster id comes from: given beside
    /// `--cluster` it only confirms the id (its members come from the catalog); given alone it says what is missing.
    static func checkClustersManifest(_ url: URL, cluster: Int64?) throws {
        let ids = try ManifestIO.read(ClustersManifest.self, from: url).clusters.map(\.id)
        let list = "(its clusters: " + ids.map(String.init).joined(separator: ", ") + ")"
        guard let cluster else { throw IdentifyError.badOption("\(url.path): a clusters manifest; choose a cluster with --cluster ID \(list)") }
        guard ids.contains(cluster) else { throw IdentifyError.badOption("\(url.path): has no cluster \(cluster) \(list)") }
    }

    /// References from a faces manifest: all its faces when they are one track (or `--track`), the largest
    /// face per frame with `--pick largest`; several tracks without either are refused.
    static func manifestReferences(_ url: URL, options: EnrollOptions, catalog: Catalog, at time: String,
                                   progress: ProgressSink) throws -> [IdentityReferenceRecord] {
        let manifest = try ManifestIO.read(FacesManifest.self, from: url)
        var items = manifest.items
        if let track = options.track { items = items.filter { $0.track == track } }
        guard !items.isEmpty else {
            throw options.track.map { IdentifyError.badOption("\(url.path): no face has track \($0)") } ?? IdentifyError.emptyManifest(path: url.path)
        }
        let tracks = Set(items.map(\.track))
        if tracks.count > 1 {
            guard options.pickLargest else {
                throw IdentifyError.severalFaces(path: url.path, count: tracks.count,
                                                 hint: "the faces form \(tracks.count) tracks (people); pass --track ID (see the contact sheet) or --pick largest")
            }
            var largest: [String: FaceItem] = [:]
            for item in items {
                let key = "\(item.input)/\(item.frameNumber)"
                if let best = largest[key], best.faceSize >= item.faceSize { continue }
                largest[key] = item
            }
            items = items.filter { largest["\($0.input)/\($0.frameNumber)"]?.id == $0.id }
        }
        let embedder = try FaceEmbedder(store: options.models)
        let (vectors, hashes, _) = try embedder.embed(items, manifestURL: url, catalog: catalog, progress: progress)
        return items.indices.map { i in
            IdentityReferenceRecord(identityId: 0, origin: "faces", path: ManifestIO.resolve(items[i].crop, relativeToManifest: url).path,
                                    sha256: hashes[i], faceId: items[i].id, embedding: IdentityGallery.blob(vectors[i]), addedAt: time)
        }
    }
}
