import Catalog
import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Models
import Recognition

/// Chinese whispers (Biemann 2006, as in dlib's `chinese_whispers`) on a graph, by default the one that links
/// two descriptors at most `threshold` apart (every node also links to itself). Each pass visits the nodes in a seeded random
/// order and gives each the label with the largest edge count among its neighbours (ties: the smallest
/// label); it stops after `passes` passes or a pass that changes nothing.
///
/// Memory is O(edges); time is O(n²·d) for the distances (n nodes of d dimensions) plus O(passes·edges).
public enum ChineseWhispers {
    /// Cluster labels `0..<k` for each vector, numbered by first appearance.
    public static func cluster(_ vectors: [[Float]], threshold: Double, passes: Int = 100, seed: UInt64 = 1) -> [Int] {
        let limit = Float(threshold * threshold)
        return cluster(count: vectors.count, passes: passes, seed: seed) { squaredDistance(vectors[$0], vectors[$1]) <= limit }
    }

    /// Cluster labels `0..<k` for `count` nodes, where `linked(i, j)` (asked once per pair, `i < j`) says
    /// whether an edge joins them.
    public static func cluster(count n: Int, passes: Int = 100, seed: UInt64 = 1, linked: (Int, Int) -> Bool) -> [Int] {
        guard n > 0 else { return [] }
        var neighbours = [[Int]](repeating: [], count: n)
        for i in 0..<n {
            neighbours[i].append(i)
            for j in (i + 1)..<max(i + 1, n) where linked(i, j) {
                neighbours[i].append(j)
                neighbours[j].append(i)
            }
        }
        var labels = Array(0..<n)
        var rng = SeededRandom(seed: seed)
        var order = Array(0..<n)
        var counts: [Int: Int] = [:]
        for _ in 0..<max(1, passes) {
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var changed = false
            for node in order {
                counts.removeAll(keepingCapacity: true)
                for other in neighbours[node] { counts[labels[other], default: 0] += 1 }
                var best = labels[node], bestCount = -1
                for (label, count) in counts where count > bestCount || (count == bestCount && label < best) {
                    best = label; bestCount = count
                }
                if best != labels[node] { labels[node] = best; changed = true }
            }
            if !changed { break }
        }
        var renumber: [Int: Int] = [:]
        return labels.map { label in
            if let k = renumber[label] { return k }
            let k = renumber.count
            renumber[label] = k
            return k
        }
    }

    /// Splits each cluster of `labels` (up to `maxRefine` nodes) by average linkage (UPGMA): within the
    /// cluster, the two groups with the smallest mean node distance merge while that mean is at most
    /// `threshold`. Chinese whispers follows chains (A near B near C joins A and C however far apart they are);
    /// this undoes chains whose ends are, on average, more than the threshold apart. Returns labels renumbered by
    /// first appearance. `distance(i, j)` is asked for pairs of nodes in one cluster.
    public static func refine(_ labels: [Int], threshold: Double, maxRefine: Int = 500, distance: (Int, Int) -> Double) -> [Int] {
        var groups: [Int: [Int]] = [:]
        for (node, label) in labels.enumerated() { groups[label, default: []].append(node) }
        var out = labels
        var next = (labels.max() ?? -1) + 1
        for label in groups.keys.sorted() {
            guard let members = groups[label], members.count > 1, members.count <= maxRefine else { continue }
            let m = members.count
            var d = [Double](repeating: 0, count: m * m)
            for i in 0..<m { for j in (i + 1)..<m { let v = distance(members[i], members[j]); d[i * m + j] = v; d[j * m + i] = v } }
            var size = [Int](repeating: 1, count: m)
            var alive = [Bool](repeating: true, count: m)
            var parts = (0..<m).map { [$0] }
            while true {
                var best = (i: -1, j: -1, v: Double.infinity)
                for i in 0..<m where alive[i] { for j in (i + 1)..<m where alive[j] && d[i * m + j] < best.v { best = (i, j, d[i * m + j]) } }
                guard best.i >= 0, best.v <= threshold else { break }
                let (a, b) = (best.i, best.j)
                for k in 0..<m where alive[k] && k != a && k != b {
                    let v = (d[a * m + k] * Double(size[a]) + d[b * m + k] * Double(size[b])) / Double(size[a] + size[b])
                    d[a * m + k] = v; d[k * m + a] = v
                }
                size[a] += size[b]; alive[b] = false; parts[a] += parts[b]; parts[b] = []
            }
            for (k, part) in parts.enumerated() where alive[k] && k != parts.indices.first(where: { alive[$0] }) {
                for i in part { out[members[i]] = next }
                next += 1
            }
        }
        var renumber: [Int: Int] = [:]
        return out.map { label in
            if let k = renumber[label] { return k }
            let k = renumber.count
            renumber[label] = k
            return k
        }
    }

    static func squaredDistance(_ a: [Float], _ b: [Float]) -> Float {
        var s: Float = 0
        for k in 0..<min(a.count, b.count) { let d = a[k] - b[k]; s += d * d }
        return s
    }
}

/// Settings of `identify cluster`.
public struct ClusterOptions: Sendable {
    /// Descriptors at most this far apart are linked (dlib's 0.6).
    public var threshold: Double
    /// Clusters smaller than this are not reported (their faces count as unclustered).
    public var minSize: Int
    public var seed: UInt64
    /// Cluster faces of video tracks as one node per track (their mean descriptor).
    public var byTrack: Bool
    /// The clusters manifest (default `<workspace>/Manifests/clusters-<input name>.json`).
    public var output: URL?
    public var workspace: URL
    public var models: ModelStore

    public init(threshold: Double = 0.6, minSize: Int = 2, seed: UInt64 = 1, byTrack: Bool = true, output: URL? = nil, workspace: URL,
                models: ModelStore = ModelStore()) {
        self.threshold = threshold; self.minSize = minSize; self.seed = seed; self.byTrack = byTrack; self.output = output
        self.workspace = workspace; self.models = models
    }
}

/// What `identify cluster` did; printed with `--json`.
public struct ClusterReport: Codable, Sendable {
    public var manifest: String
    public var faces: Int
    public var known: Int
    public var unclustered: Int
    /// Per cluster: catalog id, number, size and contact sheet.
    public var clusters: [Summary]
    public struct Summary: Codable, Sendable {
        public var id: Int64
        public var number: Int
        public var size: Int
        public var sheet: String?
    }
}

/// `identify cluster`: faces of no enrolled identity grouped into people, with a contact sheet per group.
public enum Clusterer {
    public static func run(facesManifests urls: [URL], options: ClusterOptions, catalog: Catalog, progress: ProgressSink) throws -> ClusterReport {
        guard !urls.isEmpty else { throw IdentifyError.badOption("give one or more faces manifests") }
        guard options.threshold > 0, options.threshold.isFinite else { throw IdentifyError.badOption("--threshold must be a positive distance") }
        guard options.minSize >= 1 else { throw IdentifyError.badOption("--min-size must be 1 or more") }
        let gallery = try IdentityGallery(catalog: catalog)
        let embedder = try FaceEmbedder(store: options.models)
        let out = options.output ?? ToolRunNaming.defaultManifestURL(kind: "clusters", inputs: urls, workspace: options.workspace,
                                                                      shardIndex: 1, shardCount: 1, dropPrefix: "faces-")
        // Every face with its descriptor and the node (track or single face) it belongs to.
        struct Face { var item: FaceItem; var source: Int; var hash: String; var url: URL; var vector: [Float]; var node: String }
        var faces: [Face] = []
        var sources: [ManifestReference] = []
        for (s, url) in urls.enumerated() {
            let manifest = try ManifestIO.read(FacesManifest.self, from: url)
            guard !manifest.items.isEmpty else { throw IdentifyError.emptyManifest(path: url.path) }
            let (vectors, hashes, _) = try embedder.embed(manifest.items, manifestURL: url, catalog: catalog, progress: progress)
            sources.append(ManifestReference(path: ManifestIO.relativePath(of: url, fromManifest: out), sha256: try SHA256.hex(fileAt: url)))
            for (i, item) in manifest.items.enumerated() {
                let isVideo = manifest.inputs.indices.contains(item.input) && manifest.inputs[item.input].kind == "video"
                let node = options.byTrack && isVideo ? "\(s)/track/\(item.track)" : "face/\(faces.count)"
                faces.append(Face(item: item, source: s, hash: hashes[i], url: ManifestIO.resolve(item.crop, relativeToManifest: url),
                                  vector: vectors[i], node: node))
            }
        }
        var nodeOf: [String: Int] = [:]
        var nodes: [[Int]] = []
        for (i, face) in faces.enumerated() {
            if let node = nodeOf[face.node] { nodes[node].append(i) } else { nodeOf[face.node] = nodes.count; nodes.append([i]) }
        }
        // Up to 16 faces spread over each node stand for it. Averaging a track's descriptors would shrink its
        // distances to other tracks (0.14–0.35 less on the demo clip) and chain different people together, so
        // two nodes are linked, and a node is known, by the *median* distance between their faces.
        let samples = nodes.map { members -> [[Float]] in
            let picks = members.count <= 16 ? Array(members.indices) : (0..<16).map { $0 * (members.count - 1) / 15 }
            return picks.map { faces[members[$0]].vector }
        }
        // A node is known when the labelling rule (the calibrated open-set rule, as `label` and `swap` use)
        // gives its sampled faces an identity as one track.
        let decider = LabelDecider(gallery: gallery, rule: .calibrated, minFaceSize: 0)
        let unknownNodes = nodes.indices.filter { node in
            guard !gallery.isEmpty else { return true }
            let perFace = samples[node].map { gallery.distances($0, rule: DecisionRule.calibrated.distance) }
            return decider.decideTrack(perFace, faceSizes: perFace.map { _ in 1 }).vote.identity == nil
        }
        let known = faces.count - unknownNodes.reduce(0) { $0 + nodes[$1].count }
        func nodeDistance(_ i: Int, _ j: Int) -> Double {
            let a = samples[unknownNodes[i]], b = samples[unknownNodes[j]]
            var d: [Double] = []
            d.reserveCapacity(a.count * b.count)
            for x in a { for y in b { d.append(IdentityGallery.distance(x, y)) } }
            return LabelDecider.median(d)
        }
        let whispers = ChineseWhispers.cluster(count: unknownNodes.count, seed: options.seed) { nodeDistance($0, $1) <= options.threshold }
        let labels = ChineseWhispers.refine(whispers, threshold: options.threshold, distance: nodeDistance)
        var groups: [[Int]] = Array(repeating: [], count: (labels.max() ?? -1) + 1)
        for (k, node) in unknownNodes.enumerated() { groups[labels[k]] += nodes[node] }
        groups = groups.filter { $0.count >= options.minSize }
            .sorted { $0.count != $1.count ? $0.count > $1.count : ($0.min() ?? 0) < ($1.min() ?? 0) }
        let clustered = groups.reduce(0) { $0 + $1.count }

        // Sheets, then catalog rows, then the manifest.
        let folder = options.workspace.appendingPathComponent("Datasets/clusters")
            .appendingPathComponent(out.deletingPathExtension().lastPathComponent)
        var stored: [(number: Int, sheetPath: String?, members: [ClusterMemberRecord])] = []
        for (g, group) in groups.enumerated() {
            let sheet = folder.appendingPathComponent("cluster-\(g + 1).png")
            let image = ContactSheet.grid(crops: group.map { faces[$0].url }, number: g + 1)
            try AtomicFile.write(try ImageEncoder(format: .png).encode(image), to: sheet)
            stored.append((g + 1, sheet.path, group.map { ClusterMemberRecord(clusterId: 0, faceId: faces[$0].item.id, cropPath: faces[$0].url.path,
                                                                              cropSha256: faces[$0].hash) }))
        }
        var parameters: [String: JSONValue] = ["threshold": .number(options.threshold), "min-size": .number(Double(options.minSize)),
                                               "seed": .number(Double(options.seed)), "by-track": .bool(options.byTrack)]
        let rows = try catalog.recordClustering(parameters: ToolRunNaming.canonicalJSON(parameters),
                                                manifests: ToolRunNaming.canonicalJSON(["paths": .array(urls.map { .string($0.path) })]),
                                                faces: faces.count - known, at: timestamp(), clusters: stored)
        parameters["command"] = .string("cluster")
        let entries = zip(groups, rows).map { group, row in
            ClusterEntry(id: row.id ?? 0, number: row.number,
                         sheet: row.sheetPath.map { ManifestIO.relativePath(of: URL(fileURLWithPath: $0), fromManifest: out) },
                         members: group.map { i in
                             ClusterMember(faceId: faces[i].item.id, crop: ManifestIO.relativePath(of: faces[i].url, fromManifest: out),
                                           source: faces[i].source, track: faces[i].item.track)
                         })
        }
        let manifest = ClustersManifest(tool: ToolInfo(name: "identify", parameters: parameters), createdAt: timestamp(), sources: sources,
                                        threshold: options.threshold, faces: faces.count - known, known: known, clusters: entries,
                                        unclustered: faces.count - known - clustered)
        try ManifestIO.write(manifest, to: out)
        return ClusterReport(manifest: out.path, faces: faces.count - known, known: known, unclustered: faces.count - known - clustered,
                             clusters: rows.map { .init(id: $0.id ?? 0, number: $0.number, size: $0.size, sheet: $0.sheetPath) })
    }
}
