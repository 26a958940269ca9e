import FacetCore
import Foundation
import Manifest
import Tensor

/// A trained swap model ready for inference: the `facet.model` manifest `train` wrote, its weights (checked
/// against the manifest's SHA-256) loaded into a `DeepFakesAutoencoder`, and the face framing it expects.
/// Used by `swap` (encode a face of one side, decode with the other side's decoder) and `score model`.
public final class TrainedModel {
    public let manifestURL: URL
    public let manifest: ModelManifest
    public let network: DeepFakesAutoencoder
    /// SHA-256 of the manifest file and of the weights file (lowercase hex).
    public let manifestSha256: String
    public let weightsSha256: String

    /// Reads and checks `url` (a `facet.model` manifest) and loads its weights.
    /// - Throws: `TrainedModelError` for a missing manifest or weights file (66), a manifest of another
    ///   architecture or a weights file that is not the one the manifest lists (65); `NNError` for a weights
    ///   file that does not fit the architecture (65).
    public static func load(_ url: URL) throws -> TrainedModel {
        guard FileManager.default.fileExists(atPath: url.path) else { throw TrainedModelError.missing(path: url.path) }
        let manifest = try ManifestIO.read(ModelManifest.self, from: url)
        let arch = manifest.architecture
        guard arch.name == DeepFakesAutoencoder.architecture else {
            throw TrainedModelError.unsupported(path: url.path, reason: "architecture '\(arch.name)' (this Facet runs \(DeepFakesAutoencoder.architecture))")
        }
        guard arch.inputSize >= 16, arch.inputSize <= 1024, arch.inputSize % 16 == 0, arch.widthDivisor >= 1, arch.widthDivisor <= 64 else {
            throw TrainedModelError.unsupported(path: url.path, reason: "input size \(arch.inputSize) px, width 1/\(arch.widthDivisor)")
        }
        let a = manifest.alignment
        guard a.cropSize >= 16, a.cropSize <= 4096, a.coverage.isFinite, a.coverage >= 0.25, a.coverage <= 1 else {
            throw TrainedModelError.unsupported(path: url.path, reason: "framing crop \(a.cropSize) px, coverage \(a.coverage)")
        }
        let weights = ManifestIO.resolve(manifest.weights.path, relativeToManifest: url)
        guard FileManager.default.fileExists(atPath: weights.path) else { throw TrainedModelError.missing(path: weights.path) }
        let hash = try SHA256.hex(fileAt: weights)
        guard hash == manifest.weights.sha256 else {
            throw TrainedModelError.changedWeights(path: weights.path, manifest: url.lastPathComponent)
        }
        let configuration = DeepFakesAutoencoder.Configuration(inputSize: arch.inputSize, widthDivisor: arch.widthDivisor, seed: 0,
                                                               maskHead: arch.maskHead)
        let network = try DeepFakesAutoencoder(configuration: configuration)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(configuration), as: UTF8.self)
        _ = try Checkpoint.load(from: weights, architecture: DeepFakesAutoencoder.architecture, configurationJSON: json,
                                ignoringConfigurationKeys: ["seed"], parameters: network.allParameters, optimizers: [],
                                ignoringTensorPrefixes: [Checkpoint.discriminatorPrefix])
        let manifestHash = try SHA256.hex(fileAt: url)
        return TrainedModel(manifestURL: url, manifest: manifest, network: network, manifestSha256: manifestHash, weightsSha256: hash)
    }

    init(manifestURL: URL, manifest: ModelManifest, network: DeepFakesAutoencoder, manifestSha256: String, weightsSha256: String) {
        self.manifestURL = manifestURL; self.manifest = manifest; self.network = network
        self.manifestSha256 = manifestSha256; self.weightsSha256 = weightsSha256
    }

    /// Side of the square model input and output, pixels.
    public var inputSize: Int { network.configuration.inputSize }
    public var hasMaskHead: Bool { network.configuration.maskHead }

    /// Faces `[n, S, S, 3]` (RGB in 0...1) through the shared encoder and `decoder`'s decoder: the rendered faces
    /// `[n, S, S, 3]` in (0, 1) and, with a mask head, the learned masks `[n, S, S, 1]` in (0, 1).
    public func render(_ faces: Tensor, decoder: DeepFakesAutoencoder.Side) throws -> (rgb: Tensor, mask: Tensor?) {
        let s = inputSize
        guard faces.shape.count == 4, faces.shape[1] == s, faces.shape[2] == s, faces.shape[3] == 3 else {
            throw NNError.shapeMismatch(layer: "model input", expected: "[n, \(s), \(s), 3]", got: faces.shape)
        }
        return Self.splitMask(try network.forward(faces, side: decoder, training: false))
    }

    /// The RGB channels of a decoder's output and, for a 4-channel output (mask head), the mask channel.
    public static func splitMask(_ y: Tensor) -> (rgb: Tensor, mask: Tensor?) {
        guard y.shape.count == 4, y.shape[3] == 4 else { return (y, nil) }
        let pixels = y.count / 4
        var rgb = [Float](repeating: 0, count: pixels * 3), mask = [Float](repeating: 0, count: pixels)
        y.data.withUnsafeBufferPointer { src in
            for i in 0..<pixels {
                rgb[3 * i] = src[4 * i]; rgb[3 * i + 1] = src[4 * i + 1]; rgb[3 * i + 2] = src[4 * i + 2]
                mask[i] = src[4 * i + 3]
            }
        }
        let shape = Array(y.shape.dropLast())
        return (Tensor(shape: shape + [3], data: rgb), Tensor(shape: shape + [1], data: mask))
    }
}

/// Why a trained model cannot be used; each names the file.
public enum TrainedModelError: FacetError, Equatable {
    case missing(path: String)
    case unsupported(path: String, reason: String)
    case changedWeights(path: String, manifest: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .missing: return .noInput
        case .unsupported, .changedWeights: return .dataError
        }
    }

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such model file; train one with `train` (it writes model.json and model.safetensors)"
        case .unsupported(let p, let r): return "\(p): this model cannot be run: \(r)"
        case .changedWeights(let p, let m): return "\(p): its SHA-256 is not the one \(m) lists (the weights file changed or is damaged)"
        }
    }
}
