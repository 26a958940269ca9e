import Catalog
import FacetCore
import Foundation
import Manifest
import Media

/// Builds one identity's dataset from faces manifests: quality filters, near-duplicate grouping, coverage
/// selection, then `Datasets/<identity>/` (copied crops and masks, `dataset.json`, `dedupe-report.json`) and
/// a catalog record of the version, its sources, faces and drops.
///
/// Nothing in the dataset folder is touched until every face has been decided, so a refused or failed build
/// leaves the previous version as it was. The same inputs and options give the same dataset, byte for byte:
/// a rebuild of a version the catalog knows reuses its number and date, and an intact folder is not rewritten.
public final class DatasetBuilder {
    public let options: DatasetOptions
    let catalog: Catalog
    let progress: ProgressSink

    public init(options: DatasetOptions, catalog: Catalog, progress: ProgressSink = SilentProgress()) {
        self.options = options
        self.catalog = catalog
        self.progress = progress
    }

    /// A faces manifest read for the build.
    struct Source {
        var url: URL
        var manifest: FacesManifest
        var file: InputFile
    }

    /// A decision about one face of the inputs.
    struct Drop: Error {
        var face: Int
        var reason: DropReason
        var detail: String
        var keptFace: Int?
    }

    public func run() throws -> DatasetReport {
        let started = Date()
        try options.validate()
        let sources = try readSources()
        let reference = try options.reference.flatMap { try FaceSetReader.traits(of: $0) }
        let parametersJSON = ToolRunNaming.canonicalJSON(options.parameters)
        var referenceHashes: [String] = []
        for url in options.reference { referenceHashes.append(try SHA256.hex(fileAt: url)) }
        let key = SHA256.hex(Data(("identity\n\(options.identity)\ninputs\n" + sources.map(\.file.sha256).joined(separator: "\n")
            + "\nreference\n" + referenceHashes.joined(separator: "\n") + "\nparameters\n" + parametersJSON).utf8))
        let faces = collectFaces(sources)
        let readYaw = range(faces.map(\.traits.yaw)), readPitch = range(faces.map(\.traits.pitch))

        // One build of a dataset folder at a time: a second dedupe of the same identity exits 1 at once.
        let lock = try lockFolder()
        defer { lock.release() }

        // An earlier identical build whose folder is intact: nothing to do.
        let existing = try checkExistingFolder()
        if let record = try catalog.dataset(key: key), existing?.intact == true,
           (try? SHA256.hex(fileAt: options.manifestURL)) == record.manifestSha256,
           let manifest = try? ManifestIO.read(DatasetManifest.self, from: options.manifestURL) {
            progress.log("dedupe: dataset \(options.identity) version \(record.version) is up to date (\(record.faces) faces)")
            let kept = manifest.items.map { FaceTraits($0) }
            return DatasetReport(manifest: options.manifestURL.path, report: reportURL.path, identity: options.identity, version: record.version,
                                 reused: true, facesRead: faces.count, kept: record.faces, dropped: try catalog.datasetDropCounts(datasetId: record.id ?? -1),
                                 yawRead: readYaw, yawKept: range(kept.map(\.yaw)), pitchRead: readPitch, pitchKept: range(kept.map(\.pitch)),
                                 warnings: [], seconds: Date().timeIntervalSince(started))
        }

        // Decide every face.
        var drops: [Drop] = []
        let filtered = applyQualityFilters(faces, drops: &drops)
        let readable = try computeSignatures(faces, candidates: filtered, sources: sources, drops: &drops)
        let distinct = group(faces, candidates: readable.faces, signatures: readable.signatures, drops: &drops)
        let selection = select(faces, candidates: distinct, reference: reference, drops: &drops)
        let chosen = selection.chosen.sorted { FaceRef.inSourceOrder(faces[$0], faces[$1]) }
        drops.sort { FaceRef.inSourceOrder(faces[$0.face], faces[$1.face]) }
        let dropCounts = Dictionary(drops.map { ($0.reason.rawValue, 1) }, uniquingKeysWith: +)
        let summary = DropReason.allCases.compactMap { r in dropCounts[r.rawValue].map { "\($0) \(r.rawValue)" } }.joined(separator: ", ")
        var warnings: [String] = []
        if chosen.count < options.hardMinimum {
            guard options.force else {
                throw DatasetError.tooFew(identity: options.identity, kept: chosen.count, minimum: options.hardMinimum,
                                          summary: "\(faces.count) read" + (summary.isEmpty ? "" : ", dropped: \(summary)"))
            }
            warnings.append("only \(chosen.count) faces, below the hard minimum \(options.hardMinimum) (built anyway: --force)")
        } else if chosen.count < options.minFaces {
            warnings.append("only \(chosen.count) faces, fewer than the \(options.minFaces) a good model needs; add footage of \(options.identity)")
        }
        for warning in warnings { progress.log("dedupe: warning: \(warning)") }

        // Write the folder, then the catalog.
        let record = try catalog.dataset(key: key)
        let version = try record?.version ?? catalog.nextDatasetVersion(identity: options.identity)
        let createdAt = record?.createdAt ?? buildTimestamp()
        let manifestURL = options.manifestURL
        if FileManager.default.fileExists(atPath: manifestURL.path) {
            // From here on the folder is changing: no manifest is better than one that disagrees with it.
            do { try FileManager.default.removeItem(at: manifestURL) } catch {
                throw FileError.writeFailed(path: manifestURL.path, reason: "cannot replace: \(error.localizedDescription)")
            }
        }
        let items = try copyFaces(chosen, faces: faces, sources: sources)
        let datasetSources = sources.map { source in
            InputFile(path: ManifestIO.relativePath(of: source.url, fromManifest: manifestURL), sha256: source.file.sha256,
                      bytes: source.file.bytes, kind: "faces")
        }
        let keptTraits = chosen.map { faces[$0].traits }
        let report = DedupeReportDocument(
            tool: ToolInfo(name: "dedupe", parameters: options.parameters), createdAt: createdAt, identity: options.identity,
            datasetVersion: version, dataset: manifestURL.lastPathComponent, sources: datasetSources, facesRead: faces.count,
            kept: chosen.count, dropped: dropCounts, yawRead: readYaw, yawKept: range(keptTraits.map(\.yaw)), pitchRead: readPitch,
            pitchKept: range(keptTraits.map(\.pitch)), warnings: warnings, quotas: selection.quotas,
            drops: drops.map { reportDrop($0, faces: faces, sources: sources) })
        try ManifestIO.write(report, to: reportURL)
        let manifest = DatasetManifest(tool: ToolInfo(name: "dedupe", parameters: options.parameters), createdAt: createdAt,
                                       identity: options.identity, datasetVersion: version, cropSize: sources[0].manifest.cropSize,
                                       centering: sources[0].manifest.centering, sources: datasetSources, items: items)
        try ManifestIO.write(manifest, to: manifestURL)
        try recordInCatalog(key: key, version: version, createdAt: createdAt, parametersJSON: parametersJSON, faces: faces,
                            sources: sources, chosen: chosen, items: items, drops: drops)
        progress.log("dedupe: \(options.identity) version \(version): \(chosen.count) of \(faces.count) faces kept"
            + (summary.isEmpty ? "" : " (dropped: \(summary))") + " -> \(manifestURL.path)")
        return DatasetReport(manifest: manifestURL.path, report: reportURL.path, identity: options.identity, version: version, reused: false,
                             facesRead: faces.count, kept: chosen.count, dropped: dropCounts, yawRead: readYaw,
                             yawKept: range(keptTraits.map(\.yaw)), pitchRead: readPitch, pitchKept: range(keptTraits.map(\.pitch)),
                             warnings: warnings, seconds: Date().timeIntervalSince(started))
    }

    var reportURL: URL { options.folder.appendingPathComponent("dedupe-report.json") }

    // MARK: Steps

    func readSources() throws -> [Source] {
        var sources: [Source] = []
        for url in options.inputs {
            let manifest = try ManifestIO.read(FacesManifest.self, from: url)
            guard !manifest.items.isEmpty else { throw DatasetError.emptyManifest(path: url.path) }
            if let first = sources.first {
                if manifest.cropSize != first.manifest.cropSize {
                    throw DatasetError.mixedCrops(path: url.path, detail: "its crops are \(manifest.cropSize) px, those of \(first.url.path) \(first.manifest.cropSize) px")
                }
                if manifest.centering != first.manifest.centering {
                    throw DatasetError.mixedCrops(path: url.path, detail: "its crops are '\(manifest.centering)'-centred, those of \(first.url.path) '\(first.manifest.centering)'")
                }
            }
            let bytes = ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.int64Value ?? 0
            sources.append(Source(url: url, manifest: manifest, file: InputFile(path: url.path, sha256: try SHA256.hex(fileAt: url),
                                                                               bytes: bytes, kind: "faces")))
        }
        return sources
    }

    func collectFaces(_ sources: [Source]) -> [FaceRef] {
        var faces: [FaceRef] = []
        for (s, source) in sources.enumerated() {
            for (i, item) in source.manifest.items.enumerated() {
                faces.append(FaceRef(source: s, item: i, faceId: item.id, track: item.track, input: item.input, frameNumber: item.frameNumber,
                                     faceIndex: item.faceIndex, traits: FaceTraits(item)))
            }
        }
        return faces
    }

    /// An exclusive lock on `Datasets/.<identity>.dedupe.lock` (beside the folder, so a refused build leaves
    /// no folder behind); `FileError.writeFailed` (exit 1) when another dedupe holds it.
    func lockFolder() throws -> FileLock {
        let parent = options.folder.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw FileError.writeFailed(path: parent.path, reason: error.localizedDescription)
        }
        do {
            return try FileLock(path: parent.appendingPathComponent(".\(options.folder.lastPathComponent).dedupe.lock").path, timeout: 0)
        } catch FileLockError.timedOut {
            throw FileError.writeFailed(path: options.folder.path, reason: "another dedupe process is building this dataset")
        }
    }

    /// The dataset folder's state when it has a manifest; throws when it was edited by hand (unless `replace`).
    func checkExistingFolder() throws -> DatasetIntegrity? {
        let url = options.manifestURL
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let integrity: DatasetIntegrity
        do { integrity = try DatasetFolder.verify(manifestAt: url, threads: options.threads) } catch {
            if options.replace { return nil }
            throw DatasetError.editedByHand(path: url.path, problems: ["\(error)"], total: 1)
        }
        if !integrity.intact && !options.replace {
            throw DatasetError.editedByHand(path: options.folder.path, problems: integrity.problems, total: integrity.problems.count)
        }
        return integrity
    }

    /// Faces passing the quality filters (indices into `faces`); the rest become drops.
    func applyQualityFilters(_ faces: [FaceRef], drops: inout [Drop]) -> [Int] {
        var sharpnessByVideo: [[Int]: [Double]] = [:]
        for face in faces { sharpnessByVideo[[face.source, face.input], default: []].append(face.traits.sharpness) }
        let medians = sharpnessByVideo.mapValues { median($0) }
        var passed: [Int] = []
        for (i, face) in faces.enumerated() {
            if let failure = options.quality.check(face.traits, medianSharpness: medians[[face.source, face.input]] ?? 0) {
                drops.append(Drop(face: i, reason: failure.reason, detail: failure.detail, keptFace: nil))
            } else {
                passed.append(i)
            }
        }
        return passed
    }

    /// Reads the crops of `candidates` (in parallel) and computes their signatures. Faces whose crop or mask
    /// is gone, or whose crop cannot be decoded, become drops; when every crop of the inputs is gone, throws.
    func computeSignatures(_ faces: [FaceRef], candidates: [Int], sources: [Source],
                           drops: inout [Drop]) throws -> (faces: [Int], signatures: SignatureTable) {
        progress.begin("dedupe: reading crops", total: candidates.count, unit: "faces")
        let counter = ProgressCounter(progress)
        let outcomes = parallelMap(candidates.count, threads: options.threads) { j -> Result<FaceSignature, Drop> in
            defer { counter.step() }
            let face = faces[candidates[j]]
            let source = sources[face.source]
            let item = source.manifest.items[face.item]
            let crop = ManifestIO.resolve(item.crop, relativeToManifest: source.url)
            guard FileManager.default.fileExists(atPath: crop.path) else {
                return .failure(Drop(face: candidates[j], reason: .cropMissing, detail: "\(crop.path) is not on disk", keptFace: nil))
            }
            if let mask = item.mask, !FileManager.default.fileExists(atPath: ManifestIO.resolve(mask, relativeToManifest: source.url).path) {
                return .failure(Drop(face: candidates[j], reason: .cropMissing, detail: "mask \(ManifestIO.resolve(mask, relativeToManifest: source.url).path) is not on disk", keptFace: nil))
            }
            do {
                let image = try ImageDecoder.decode(fileAt: crop, maxPixels: 4096 * 4096)
                guard image.width == source.manifest.cropSize, image.height == source.manifest.cropSize else {
                    return .failure(Drop(face: candidates[j], reason: .cropUnreadable,
                                         detail: "\(crop.path) is \(image.width)x\(image.height), the manifest says \(source.manifest.cropSize) px", keptFace: nil))
                }
                return .success(FaceSignature(image: image))
            } catch {
                return .failure(Drop(face: candidates[j], reason: .cropUnreadable, detail: "\(error)", keptFace: nil))
            }
        }
        progress.finish()
        var kept: [Int] = []
        var table = SignatureTable()
        table.reserve(candidates.count)
        var missing = 0
        for (j, outcome) in outcomes.enumerated() {
            switch outcome {
            case .success(let signature):
                kept.append(candidates[j])
                table.append(signature)
            case .failure(let drop):
                if drop.reason == .cropMissing { missing += 1 }
                drops.append(drop)
            }
        }
        if missing > 0 {
            progress.log("dedupe: warning: \(missing) crop file\(missing == 1 ? " is" : "s are") gone (dropped as crop-missing; see the report)")
        }
        if kept.isEmpty && missing > 0 && missing == candidates.count {
            throw DatasetError.cropsGone(path: sources.count == 1 ? sources[0].url.path : options.inputs.map(\.path).joined(separator: ", "),
                                         missing: missing)
        }
        return (kept, table)
    }

    /// Near-duplicate grouping of `candidates`; returns the kept ones.
    func group(_ faces: [FaceRef], candidates: [Int], signatures: SignatureTable, drops: inout [Drop]) -> [Int] {
        let matches = NearDuplicateGrouper.group(traits: candidates.map { faces[$0].traits }, signatures: signatures,
                                                 tieBreaks: candidates.map { faces[$0].tieBreak(seed: options.seed) },
                                                 settings: options.duplicates)
        var kept: [Int] = []
        for (j, match) in matches.enumerated() {
            guard let match else { kept.append(candidates[j]); continue }
            let keeper = faces[candidates[match.keeper]]
            let detail = String(format: "near-duplicate of face %lld (source %d, frame %d): hash distance %d, descriptor distance %.3f%@",
                                keeper.faceId, keeper.source, keeper.frameNumber, match.hashDistance, match.descriptorDistance,
                                match.mirrored ? ", mirrored" : "")
            drops.append(Drop(face: candidates[j], reason: .duplicate, detail: detail, keptFace: candidates[match.keeper]))
        }
        return kept
    }

    /// Coverage selection when more than `maxFaces` remain.
    func select(_ faces: [FaceRef], candidates: [Int], reference: [FaceTraits], drops: inout [Drop])
        -> (chosen: [Int], quotas: [CoverageSelector.CellQuota]) {
        let result = CoverageSelector.select(traits: candidates.map { faces[$0].traits }, tracks: candidates.map { faces[$0].track },
                                             tieBreaks: candidates.map { faces[$0].tieBreak(seed: options.seed) }, count: options.maxFaces,
                                             bins: options.bins, reference: options.reference.isEmpty ? nil : reference,
                                             referenceWeight: options.referenceWeight)
        let quotaByCell = Dictionary(result.quotas.map { ($0.cell, $0) }, uniquingKeysWith: { a, _ in a })
        var chosen: [Int] = []
        for (j, face) in candidates.enumerated() {
            if result.selected[j] { chosen.append(face); continue }
            let label = options.bins.poseLabel(of: result.cellOf[j])
            let quota = quotaByCell[label]
            drops.append(Drop(face: face, reason: .overCap,
                              detail: "pose cell \(label): \(quota?.quota ?? 0) of \(quota?.available ?? 0) kept to stay within --max-faces \(options.maxFaces)",
                              keptFace: nil))
        }
        return (chosen, result.quotas)
    }

    /// Copies the chosen faces' crops (and masks) into `faces/`, removes files of earlier versions, and
    /// returns the manifest items in order.
    func copyFaces(_ chosen: [Int], faces: [FaceRef], sources: [Source]) throws -> [DatasetItem] {
        let folder = options.folder.appendingPathComponent("faces")
        progress.begin("dedupe: copying crops", total: chosen.count, unit: "faces")
        let counter = ProgressCounter(progress)
        let outcomes = parallelMap(chosen.count, threads: options.threads) { j -> Result<DatasetItem, Error> in
            defer { counter.step() }
            let face = faces[chosen[j]]
            let source = sources[face.source]
            let item = source.manifest.items[face.item]
            let origin = ManifestIO.resolve(item.crop, relativeToManifest: source.url)
            let name = DatasetFolder.cropName(face, originalExtension: origin.pathExtension)
            do {
                let sha = try DatasetFolder.copy(origin, to: folder.appendingPathComponent(name), side: source.manifest.cropSize)
                var maskPath: String?
                if let mask = item.mask {
                    let maskName = DatasetFolder.maskName(forCrop: name)
                    _ = try DatasetFolder.copy(ManifestIO.resolve(mask, relativeToManifest: source.url), to: folder.appendingPathComponent(maskName),
                                             side: source.manifest.cropSize)
                    maskPath = "faces/" + maskName
                }
                return .success(DatasetItem(face: item, crop: "faces/" + name, sha256: sha, mask: maskPath, source: face.source))
            } catch {
                return .failure(error)
            }
        }
        progress.finish()
        var items: [DatasetItem] = []
        for outcome in outcomes { items.append(try outcome.get()) }
        var keep = Set<String>()
        for item in items {
            keep.insert((item.crop as NSString).lastPathComponent)
            if let mask = item.mask { keep.insert((mask as NSString).lastPathComponent) }
        }
        try DatasetFolder.removeStale(in: folder, keep: keep)
        return items
    }

    func reportDrop(_ drop: Drop, faces: [FaceRef], sources: [Source]) -> DedupeReportDocument.Drop {
        func cropPath(_ index: Int) -> String {
            let face = faces[index]
            let source = sources[face.source]
            let url = ManifestIO.resolve(source.manifest.items[face.item].crop, relativeToManifest: source.url)
            return ManifestIO.relativePath(of: url, fromManifest: reportURL)
        }
        let face = faces[drop.face]
        return DedupeReportDocument.Drop(source: face.source, item: face.item, faceId: face.faceId, crop: cropPath(drop.face),
                                         reason: drop.reason.rawValue, detail: drop.detail, keptFaceId: drop.keptFace.map { faces[$0].faceId },
                                         keptCrop: drop.keptFace.map(cropPath))
    }

    func recordInCatalog(key: String, version: Int, createdAt: String, parametersJSON: String, faces: [FaceRef], sources: [Source],
                         chosen: [Int], items: [DatasetItem], drops: [Drop]) throws {
        let workspace = options.workspace
        func workspacePath(_ url: URL) -> String {
            let relative = ManifestIO.relativePath(of: url, fromManifest: workspace.appendingPathComponent("catalog.sqlite"))
            return relative.hasPrefix("../") ? url.standardizedFileURL.path : relative
        }
        func originCrop(_ index: Int) -> String {
            let face = faces[index]
            return workspacePath(ManifestIO.resolve(sources[face.source].manifest.items[face.item].crop, relativeToManifest: sources[face.source].url))
        }
        var keptPerSource = [Int](repeating: 0, count: sources.count)
        for index in chosen { keptPerSource[faces[index].source] += 1 }
        let record = DatasetRecord(identity: options.identity, version: version, key: key, manifestPath: workspacePath(options.manifestURL),
                                   manifestSha256: try SHA256.hex(fileAt: options.manifestURL), parameters: parametersJSON,
                                   faces: chosen.count, candidates: faces.count, createdAt: createdAt)
        let sourceRows = sources.enumerated().map { s, source in
            DatasetSourceRecord(datasetId: 0, position: s, path: source.url.standardizedFileURL.path, sha256: source.file.sha256,
                                facesRead: source.manifest.items.count, facesKept: keptPerSource[s])
        }
        let faceRows = zip(chosen, items).enumerated().map { position, pair in
            DatasetFaceRecord(datasetId: 0, position: position, source: faces[pair.0].source, faceId: faces[pair.0].faceId,
                              cropPath: workspacePath(options.folder.appendingPathComponent(pair.1.crop)), cropSha256: pair.1.sha256,
                              originCropPath: originCrop(pair.0))
        }
        let dropRows = drops.map { drop in
            DatasetDropRecord(datasetId: 0, source: faces[drop.face].source, item: faces[drop.face].item, faceId: faces[drop.face].faceId,
                              originCropPath: originCrop(drop.face), reason: drop.reason.rawValue, detail: drop.detail,
                              keptFaceId: drop.keptFace.map { faces[$0].faceId })
        }
        try catalog.recordDataset(record, sources: sourceRows, faces: faceRows, drops: dropRows)
    }
}

/// Counts finished items from worker threads and forwards the count to a progress sink.
final class ProgressCounter: @unchecked Sendable {
    private let sink: ProgressSink
    private let lock = NSLock()
    private var done = 0

    init(_ sink: ProgressSink) { self.sink = sink }

    func step() {
        lock.lock()
        done += 1
        let now = done
        lock.unlock()
        sink.update(done: now)
    }
}
