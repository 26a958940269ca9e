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
    /// When an image or manifest shows several faces (or tracks): nil refuses, `largest` takes the largest
    /// face of each image (or of each frame of a manifest).
    public var pickLargest: Bool
    /// Only this track of a faces manifest.
    public var track: Int64?
    /// Enrol the members of this cluster (from `identify cluster`).
    public var cluster: Int64?
    /// Add references that are farther than `threshold` from the identity's existing references.
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
    /// Largest distance of a new reference to the identity's other references (nil for a new identity).
    public var maxDistanceToExisting: Double?
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
        if !images.isEmpty { references += try imageReferences(images, options: options, at: now, progress: progress) }
        for manifest in manifests { references += try manifestReferences(manifest, options: options, catalog: catalog, at: now, progress: progress) }

        // A new reference far from every existing one is probably someone else under the same name.
        var worst: Double?
        if let existing, let id = existing.id {
            let known = try catalog.references(identityId: id).map { IdentityGallery.floats($0.embedding) }
            for reference in references where !known.isEmpty {
                let d = known.map { IdentityGallery.distance(IdentityGallery.floats(reference.embedding), $0) }.min() ?? 0
                worst = max(worst ?? 0, d)
                if d > options.threshold && !options.force {
                    throw IdentifyError.differentPerson(name: existing.name, path: reference.path, distance: d, threshold: options.threshold)
                }
            }
        }
        let (identity, added) = try catalog.enroll(name: name, consent: options.consent, references: references, at: now) { blobs in
            IdentityGallery.blob(IdentityGallery.mean(blobs.map(IdentityGallery.floats)))
        }
        if let clusterId = options.cluster, let id = identity.id { try catalog.markCluster(id: clusterId, identityId: id) }
        return EnrollReport(name: identity.name, created: existing == nil, added: added, references: identity.referenceCount,
                            consent: identity.consent, maxDistanceToExisting: worst.map(round4))
    }

    /// One reference per image: the single face (or the largest with `--pick largest`), its chip cut from the
    /// whole image as dlib does.
    static func imageReferences(_ inputs: [URL], options: EnrollOptions, at time: String, progress: ProgressSink) throws -> [IdentityReferenceRecord] {
        var files: [URL] = []
        for unit in try InputUnit.expand(inputs) {
            switch unit {
            case .images(let root, let list):
                guard !list.isEmpty else { throw FileError.unreadable(path: root.path, reason: "folder holds no images (png, jpg, webp or bmp)") }
                files += list
            case .video(let url):
                throw IdentifyError.badOption("\(url.path): enrol from images or a faces manifest (run detect on a video first)")
            }
        }
        let analyzer = try FaceAnalyzer(range: .full, settings: FaceAnalyzer.Settings(), store: options.models)
        let net = try FaceRecognitionNet(store: options.models)
        var out: [IdentityReferenceRecord] = []
        progress.begin("enrol", total: files.count, unit: "images")
        for (n, file) in files.enumerated() {
            let data: Data
            do { data = try Data(contentsOf: file) } catch { throw FileError.unreadable(path: file.path, reason: error.localizedDescription) }
            let image = try ImageDecoder.decode(data, path: file.path)
            var faces = analyzer.locate(image, tiles: 2)
            guard !faces.isEmpty else { throw IdentifyError.noFace(path: file.path) }
            if faces.count > 1 {
                guard options.pickLargest else {
                    throw IdentifyError.severalFaces(path: file.path, count: faces.count, hint: "crop the image to one person, or pass --pick largest")
                }
                faces.sort { $0.detection.width * $0.detection.height > $1.detection.width * $1.detection.height }
            }
            let chip = try FaceEmbedder.chip(fromImage: image, points5: faces[0].points5)
            let descriptor = try net.embed(chip: chip)
            out.append(IdentityReferenceRecord(identityId: 0, origin: "image", path: file.path, sha256: SHA256.hex(data), faceId: nil,
                                               embedding: IdentityGallery.blob(descriptor), addedAt: time))
            progress.update(done: n + 1)
        }
        progress.finish()
        return out
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
