import Catalog
import FacetCore
import Foundation
import Manifest
import Recognition

/// Merging a sharded run. `score run --shard K/N` scores the tracks of shard K into `<whole>-shard-K-of-N/`; each
/// shard, when it finishes (or is found in the cache), looks for every other shard's `score.json` with the key
/// that shard would have now. When all N are there it merges them into the whole run's folder `<whole>/`: the
/// outputs' faces (every face is in exactly one shard, sorted by frame and face as a whole run sorts them), their
/// tracks (a track lies wholly in one shard, so its flicker ratio and jitter are the whole run's), the worst faces
/// (each shard kept its N worst, so the N worst of them are the run's), and the aggregates recomputed from the
/// merged per-face rows: the same `score.json`, report and catalog row as scoring the run whole. The merged result
/// carries the whole run's cache key (shard `1/1`), so a later unsharded `score run` of the unchanged run is a
/// cache hit, and in the catalog it replaces the shards' rows (one `score_runs` row per run, each face once).
extension RunScorer {
    static func mergeShards(manifest url: URL, swap: SwapManifest, gallery: IdentityGallery, keys: CacheKeys, options: ScoreOptions, catalog: Catalog?,
                            progress: ProgressSink) throws -> MergedRun? {
        let whole = wholeFolder(for: url, options: options)
        let count = options.shardCount
        var shards: [(document: ScoreDocument, folder: URL)] = []
        var missing: [String] = []
        for k in 1...count {
            let folder = shardFolder(whole, index: k, count: count)
            if let document = try? ManifestIO.read(ScoreDocument.self, from: folder.appendingPathComponent("score.json")),
               document.cacheKey == keys.key(shard: "\(k)/\(count)") {
                shards.append((document, folder))
            } else {
                missing.append("\(k)/\(count)")
            }
        }
        guard missing.isEmpty else {
            progress.log("score: \(url.lastPathComponent): shard \(options.shardLabel) done; the whole run is merged into \(whole.path) "
                + "when shard\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) \(missing.count > 1 ? "are" : "is") done too")
            return nil
        }
        let key = keys.key(shard: "1/1")
        let shardKeys = shards.map(\.document.cacheKey)
        let resultURL = whole.appendingPathComponent("score.json")
        if options.useCache, let cached = try? ManifestIO.read(ScoreDocument.self, from: resultURL), cached.cacheKey == key {
            try catalog?.removeScoreRuns(cacheKeys: shardKeys)
            try storeIfMissing(cached, folder: whole, in: catalog)
            progress.log("score: \(url.lastPathComponent): every shard done; the whole run is cached in \(resultURL.path)")
            return MergedRun(document: cached, folder: whole, cached: true)
        }

        guard let first = shards.first?.document, shards.allSatisfy({ $0.document.outputs.count == first.outputs.count }) else {
            throw ScoringError.badMedia(path: whole.path, reason: "the shards' results list different outputs")
        }
        var outputs = first.outputs
        for o in outputs.indices {
            outputs[o].faces = shards.flatMap { $0.document.outputs[o].faces }.sorted { ($0.frame, $0.faceIndex) < ($1.frame, $1.faceIndex) }
            outputs[o].tracks = shards.flatMap { $0.document.outputs[o].tracks }.sorted { $0.track < $1.track }
        }
        let strips: [(WorstFace, Strip)] = shards.flatMap { shard in
            shard.document.worst.map { ($0, Strip.file(shard.folder.appendingPathComponent($0.strip))) }
        }.sorted { ($1.0.badness, $0.0.output, $0.0.frame, $0.0.track) < ($0.0.badness, $1.0.output, $1.0.frame, $1.0.track) }
        var document = try makeDocument(manifest: url, swap: swap, key: key, shard: "1/1", context: FaceContext(gallery: gallery, swap: swap),
                                        outputs: outputs, seconds: shards.reduce(0) { $0 + $1.document.seconds }, options: options, catalog: catalog,
                                        parameters: ["mergedShards": .number(Double(count))])
        try write(&document, strips: Array(strips.prefix(options.worst)), to: whole, catalog: catalog, replacing: shardKeys, progress: progress)
        progress.log("score: \(url.lastPathComponent): all \(count) shards done; merged the whole run into \(resultURL.path)")
        return MergedRun(document: document, folder: whole, cached: false)
    }
}
