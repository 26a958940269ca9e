import Augment
import FacetCore
import Foundation
import Manifest
import Media
import NN
import Tensor

/// The CSV loss log, `loss.csv`: `iteration,seconds,loss_a,loss_b,mask_loss_a,mask_loss_b,d_loss_a,d_loss_b,
/// g_loss_a,g_loss_b,cycle_loss_a,cycle_loss_b`, one row per logging window (the means of its iterations;
/// mask columns empty without a mask head, the discriminators' (`d_`) and generator's adversarial (`g_`)
/// losses empty without a GAN or before its warm-up ends, `cycle_loss_a` (A→B→A) and `_b` empty without a cycle weight).
final class LossLog {
    static let header = "iteration,seconds,loss_a,loss_b,mask_loss_a,mask_loss_b,d_loss_a,d_loss_b,g_loss_a,g_loss_b,cycle_loss_a,cycle_loss_b"
    let url: URL
    private(set) var points: [LossCurve.Point] = []
    private var pending = ""

    /// Opens the log for a run at `iteration`: a new run starts an empty file; a resumed one keeps the rows up
    /// to `iteration` (later rows belong to iterations the resumed run redoes) and rewrites the file atomically.
    init(url: URL, resumingAt iteration: Int?) throws {
        self.url = url
        var kept = [Self.header]
        if let iteration, let text = try? String(contentsOf: url, encoding: .utf8) {
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                guard fields.count >= 4, let it = Int(fields[0]), it <= iteration,
                      let a = Double(fields[2]), let b = Double(fields[3]) else { continue }
                // Rows written before the adversarial columns existed get empty ones.
                kept.append(String(line) + String(repeating: ",", count: max(0, 12 - fields.count)))
                let extra = (6..<12).map { $0 < fields.count ? Double(fields[$0]) : nil }
                points.append(LossCurve.Point(iteration: it, lossA: a, lossB: b, adversarial: AdversarialLosses(
                    discriminatorA: extra[0], discriminatorB: extra[1], generatorA: extra[2], generatorB: extra[3], cycleA: extra[4], cycleB: extra[5])))
            }
        }
        try AtomicFile.write(Data((kept.joined(separator: "\n") + "\n").utf8), to: url)
    }

    func append(iteration: Int, seconds: Double, lossA: Double, lossB: Double, maskA: Double?, maskB: Double?,
                adversarial: AdversarialLosses = AdversarialLosses()) {
        func f(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "" }
        let a = adversarial
        pending += "\(iteration),\(String(format: "%.1f", seconds)),\(f(lossA)),\(f(lossB)),\(f(maskA)),\(f(maskB)),"
            + [a.discriminatorA, a.discriminatorB, a.generatorA, a.generatorB, a.cycleA, a.cycleB].map(f).joined(separator: ",") + "\n"
        points.append(LossCurve.Point(iteration: iteration, lossA: lossA, lossB: lossB, adversarial: adversarial))
    }

    /// Appends the pending rows to the file.
    func flush() throws {
        guard !pending.isEmpty else { return }
        guard let handle = FileHandle(forWritingAtPath: url.path) else {
            throw FileError.writeFailed(path: url.path, reason: "cannot open for appending")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(pending.utf8))
        } catch {
            throw FileError.writeFailed(path: url.path, reason: error.localizedDescription)
        }
        pending = ""
    }
}

/// The preview grid: one column per preview face, rows A, A→A, A→B, B, B→B, B→A (a side's faces, then them
/// through decoder A and decoder B), each face the plain centre crop the model sees.
struct PreviewRenderer {
    let facesA: Tensor
    let facesB: Tensor
    let size: Int

    init(samplerA: BatchSampler, samplerB: BatchSampler, count: Int) throws {
        func spread(_ n: Int) -> [Int] { (0..<min(count, n)).map { $0 * n / min(count, n) } }
        facesA = try samplerA.centreCrops(spread(samplerA.side.faces.count))
        facesB = try samplerB.centreCrops(spread(samplerB.side.faces.count))
        size = samplerA.augmenter.geometry.outputSize
    }

    func render(_ model: DeepFakesAutoencoder) throws -> RGBImage {
        func row(_ t: Tensor) -> [RGBImage] {
            let (rgb, _) = SwapTrainer.split(t)
            let pixels = size * size * 3
            return rgb.data.withUnsafeBufferPointer { buffer in
                (0..<rgb.shape[0]).compactMap { k in buffer.baseAddress.map { ImageGrid.image($0 + k * pixels, side: size) } }
            }
        }
        let rows = [row(facesA), row(try model.forward(facesA, side: .a, training: false)), row(try model.forward(facesA, side: .b, training: false)),
                    row(facesB), row(try model.forward(facesB, side: .b, training: false)), row(try model.forward(facesB, side: .a, training: false))]
        return ImageGrid.compose(rows, tile: size)
    }
}

/// Writes the trained weights and the `facet.model` manifest that `swap` reads.
enum ModelExporter {
    static let alignmentConvention = "facet-mean-face-51"

    static func export(trainer: SwapTrainer, settings: TrainingSettings, sides: [TrainingSide], folder: URL, seconds: Double,
                       finalLoss: (Double, Double)?, initFrom: ModelFile?, toolParameters: [String: JSONValue]) throws -> URL {
        let weightsURL = folder.appendingPathComponent("model.safetensors"), manifestURL = folder.appendingPathComponent("model.json")
        try trainer.exportWeights(to: weightsURL, metadata: [:])
        let size = ((try? FileManager.default.attributesOfItem(atPath: weightsURL.path))?[.size] as? NSNumber)?.int64Value ?? 0
        let model = trainer.model
        let manifest = ModelManifest(
            tool: ToolInfo(name: "train", parameters: toolParameters), createdAt: timestamp(), model: settings.model.rawValue,
            architecture: ModelArchitecture(name: DeepFakesAutoencoder.architecture, inputSize: model.configuration.inputSize,
                                            widthDivisor: model.configuration.widthDivisor, maskHead: model.configuration.maskHead,
                                            encoderParameters: model.encoder.parameterCount, decoderParameters: model.decoderA.parameterCount),
            weights: ModelFile(path: "model.safetensors", sha256: try SHA256.hex(fileAt: weightsURL), bytes: size),
            alignment: ModelAlignment(convention: alignmentConvention, centering: sides[0].centering, cropSize: sides[0].cropSize,
                                      coverage: settings.coverage),
            identities: ModelIdentities(a: sides[0].identity, b: sides[1].identity),
            datasets: zip(["A", "B"], sides).map { label, side in
                ModelDataset(side: label, identity: side.identity, manifest: ManifestIO.relativePath(of: side.manifestURL, fromManifest: manifestURL),
                             schema: side.schema, sha256: side.manifestSHA256, contentSha256: side.contentSHA256, faces: side.faces.count)
            },
            training: ModelTraining(iterations: trainer.iteration, batchSize: settings.batchSize, loss: settings.loss.rawValue,
                                    learningRate: settings.learningRate, seed: settings.seed, eyeMultiplier: settings.weighting.eyeMultiplier,
                                    mouthMultiplier: settings.weighting.mouthMultiplier, backgroundWeight: settings.weighting.backgroundWeight,
                                    augmentation: augmentationJSON(settings.augmentation), seconds: (seconds * 10).rounded() / 10,
                                    finalLossA: finalLoss?.0, finalLossB: finalLoss?.1,
                                    initFrom: initFrom.map { ModelFile(path: ManifestIO.relativePath(of: URL(fileURLWithPath: $0.path),
                                                                                                     fromManifest: manifestURL),
                                                                       sha256: $0.sha256, bytes: $0.bytes) }))
        try ManifestIO.write(manifest, to: manifestURL)
        return manifestURL
    }

    static func augmentationJSON(_ settings: AugmentSettings) -> [String: JSONValue] {
        guard let data = try? JSONEncoder().encode(settings),
              case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) else { return [:] }
        return object
    }
}


