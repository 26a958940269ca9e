import FacetCore
import Faces
import Foundation
import Manifest
import Media
import NN
import Tensor

/// `score model`: how well a trained model reconstructs each person (A→A through decoder A, B→B through
/// decoder B) on faces training did not use.
///
/// Held-out faces: `train` uses every face of its two datasets, so the held-out faces are the ones the user
/// names — a faces or dataset manifest per side of the same person from footage the model never saw (another
/// clip, or a dataset built from other videos). Faces whose crop SHA-256 appears in the model's training
/// datasets are skipped and counted, so a side given its own training data cannot pass for held out.
public enum ModelScoring {
    /// Per side: faces scored, faces skipped as training faces, and reconstruction quality over the faces.
    public struct Side: Codable, Sendable {
        public var identity: String
        public var manifest: String
        public var faces: Int
        public var skippedTrainingFaces: Int
        /// Mean absolute error (0...1 per channel), PSNR (dB) and SSIM (8×8 windows on luma, 0...1).
        public var mae: Aggregate
        public var psnr: Aggregate
        public var ssim: Aggregate
    }

    public struct Report: Codable, Sendable {
        public var model: String
        public var modelSha256: String
        public var kind: String
        public var heldOut: String
        public var a: Side
        public var b: Side
        /// A PNG with rows of input | reconstruction pairs (A's faces, then B's).
        public var examples: String
    }

    public struct Aggregate: Codable, Sendable {
        public var mean: Double
        public var median: Double
        public var p95: Double

        init(_ values: [Double]) {
            let s = values.filter(\.isFinite).sorted()
            guard !s.isEmpty else { mean = .nan; median = .nan; p95 = .nan; return }
            mean = s.reduce(0, +) / Double(s.count)
            median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            p95 = s[min(s.count - 1, Int((0.95 * Double(s.count - 1)).rounded()))]
        }
    }

    /// Scores `model` on the held-out faces of side A (`facesA`) and side B (`facesB`), at most `limit` faces a
    /// side, and writes `examples.png` and `model-score.json` into `folder`.
    public static func run(model url: URL, facesA: URL, facesB: URL, limit: Int, folder: URL, progress: ProgressSink) throws -> Report {
        let model = try TrainedModel.load(url)
        let m = model.manifest
        guard let centering = FaceCentering(rawValue: m.alignment.centering),
              let framing = ModelFraming(inputSize: model.inputSize, cropSize: m.alignment.cropSize, coverage: m.alignment.coverage,
                                         centering: centering) else {
            throw TrainedModelError.unsupported(path: url.path, reason: "framing '\(m.alignment.centering)', crop \(m.alignment.cropSize) px")
        }
        let training = try trainingCropHashes(m, modelURL: url)
        var examples: [RGBImage] = []
        let a = try side(.a, identity: m.identities.a, manifest: facesA, model: model, framing: framing, training: training, limit: limit,
                         examples: &examples, progress: progress)
        let b = try side(.b, identity: m.identities.b, manifest: facesB, model: model, framing: framing, training: training, limit: limit,
                         examples: &examples, progress: progress)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let sheet = folder.appendingPathComponent("examples.png")
        try AtomicFile.write(try ImageEncoder(format: .png).encode(grid(examples, side: framing.inputSize)), to: sheet)
        let report = Report(model: url.path, modelSha256: model.manifestSha256, kind: m.model,
                            heldOut: "faces given per side (--a, --b); crops that are in the model's training datasets are skipped",
                            a: a, b: b, examples: sheet.path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(report), to: folder.appendingPathComponent("model-score.json"))
        return report
    }

    private static func side(_ side: DeepFakesAutoencoder.Side, identity: String, manifest url: URL, model: TrainedModel, framing: ModelFraming,
                             training: Set<String>, limit: Int, examples: inout [RGBImage], progress: ProgressSink) throws -> Side {
        let (items, cropSize, centering): ([String], Int, String)
        switch try FaceSetManifest.read(url) {
        case .dataset(let d): (items, cropSize, centering) = (d.items.map(\.crop), d.cropSize, d.centering)
        case .faces(let f): (items, cropSize, centering) = (f.items.map(\.crop), f.cropSize, f.centering)
        }
        guard cropSize == framing.cropSize, centering == framing.centering.rawValue else {
            throw ScoringError.badMedia(path: url.path, reason: "its faces are \(cropSize) px '\(centering)' crops; the model was trained on " +
                                        "\(framing.cropSize) px '\(framing.centering.rawValue)' crops")
        }
        let s = framing.inputSize, pixels = s * s * 3
        // The model's input square inside a crop: crop pixels → model pixels, inverted.
        guard let toCrop = framing.modelMatrix(alignment: .identity).inverse else {
            throw ScoringError.badMedia(path: url.path, reason: "the model's framing is degenerate")
        }
        var inputs: [Float] = [], skipped = 0
        let step = max(1, items.count / max(1, limit))
        progress.begin("model \(side.rawValue)", total: min(items.count, limit), unit: "faces")
        for path in stride(from: 0, to: items.count, by: step).map({ items[$0] }).prefix(limit) {
            let crop = ManifestIO.resolve(path, relativeToManifest: url)
            let data: Data
            do { data = try Data(contentsOf: crop) } catch { throw MediaError.missing(path: crop.path) }
            if training.contains(SHA256.hex(data)) { skipped += 1; continue }
            let image = try ImageDecoder.decode(data, path: crop.path)
            var face = [Float](repeating: 0, count: pixels)
            face.withUnsafeMutableBufferPointer { FaceWarp.sample(image, width: s, height: s, toImage: toCrop, into: $0.baseAddress!) }
            inputs += face
            progress.update(done: inputs.count / pixels)
        }
        progress.finish()
        let n = inputs.count / pixels
        guard n > 0 else {
            throw ScoringError.badMedia(path: url.path, reason: "no held-out face to score (\(skipped) of its faces are the model's training faces)")
        }
        var mae: [Double] = [], psnr: [Double] = [], ssim: [Double] = []
        for start in stride(from: 0, to: n, by: 16) {
            let count = min(16, n - start)
            let batch = Tensor(shape: [count, s, s, 3], data: Array(inputs[(start * pixels)..<((start + count) * pixels)]))
            let out = try model.render(batch, decoder: side).rgb
            for k in 0..<count {
                let x = Array(batch.data[(k * pixels)..<((k + 1) * pixels)]), y = Array(out.data[(k * pixels)..<((k + 1) * pixels)])
                var abs = 0.0, sq = 0.0
                for i in 0..<pixels { let d = Double(x[i] - y[i]); abs += Swift.abs(d); sq += d * d }
                mae.append(abs / Double(pixels))
                psnr.append(10 * log10(1 / max(sq / Double(pixels), 1e-12)))
                ssim.append(lumaSSIM(x, y, side: s))
                if examples.count < 16 && k < 8 && start == 0 { examples.append(ImageGrid.image(x, side: s)); examples.append(ImageGrid.image(y, side: s)) }
            }
        }
        return Side(identity: identity, manifest: url.path, faces: n, skippedTrainingFaces: skipped, mae: Aggregate(mae), psnr: Aggregate(psnr),
                    ssim: Aggregate(ssim))
    }

    /// SSIM of two S×S RGB images (0...1) on luma, mean over non-overlapping 8×8 windows (C1 = 0.01², C2 = 0.03²).
    static func lumaSSIM(_ a: [Float], _ b: [Float], side s: Int) -> Double {
        let c1 = 0.0001, c2 = 0.0009, w = 8
        var total = 0.0, windows = 0
        for y0 in stride(from: 0, through: s - w, by: w) {
            for x0 in stride(from: 0, through: s - w, by: w) {
                var ma = 0.0, mb = 0.0, va = 0.0, vb = 0.0, cov = 0.0
                for y in y0..<(y0 + w) {
                    for x in x0..<(x0 + w) {
                        let o = (y * s + x) * 3
                        let la = 0.299 * Double(a[o]) + 0.587 * Double(a[o + 1]) + 0.114 * Double(a[o + 2])
                        let lb = 0.299 * Double(b[o]) + 0.587 * Double(b[o + 1]) + 0.114 * Double(b[o + 2])
                        ma += la; mb += lb; va += la * la; vb += lb * lb; cov += la * lb
                    }
                }
                let n = Double(w * w)
                ma /= n; mb /= n
                va = va / n - ma * ma; vb = vb / n - mb * mb; cov = cov / n - ma * mb
                total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
                windows += 1
            }
        }
        return windows > 0 ? total / Double(windows) : .nan
    }

    /// SHA-256 of every crop of the model's training datasets (those still readable).
    static func trainingCropHashes(_ m: ModelManifest, modelURL: URL) throws -> Set<String> {
        var hashes = Set<String>()
        for dataset in m.datasets {
            let url = ManifestIO.resolve(dataset.manifest, relativeToManifest: modelURL)
            guard let set = try? FaceSetManifest.read(url) else { continue }
            switch set {
            case .dataset(let d): for item in d.items { hashes.insert(item.sha256) }
            case .faces(let f):
                for item in f.items {
                    if let data = try? Data(contentsOf: ManifestIO.resolve(item.crop, relativeToManifest: url)) { hashes.insert(SHA256.hex(data)) }
                }
            }
        }
        return hashes
    }

    /// Pairs of images side by side, one pair per row.
    static func grid(_ images: [RGBImage], side s: Int) -> RGBImage {
        let rows = max(1, (images.count + 1) / 2), gap = 2
        var canvas = Canvas(width: 2 * s + 3 * gap, height: rows * (s + gap) + gap, background: (24, 24, 24))
        for (k, image) in images.enumerated() { canvas.draw(image, x: gap + (k % 2) * (s + gap), y: gap + (k / 2) * (s + gap)) }
        return canvas.image
    }
}
