import Augment
import Foundation
import Manifest
import NN

/// What defines a training run's trajectory, stored in every checkpoint (`__metadata__["facet.train"]`,
/// JSON) so `--resume` continues exactly the same run and refuses a different one.
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var model: SwapModelKind
    public var maskHead: Bool
    public var batchSize: Int
    public var loss: ReconstructionLoss
    public var learningRate: Double
    public var seed: UInt64
    public var weighting: LossWeighting
    public var coverage: Double
    public var augmentation: AugmentSettings
    /// The GAN and cycle options; nil (and absent from the JSON) when both are off.
    public var adversarial: AdversarialSettings?

    public init(model: SwapModelKind, maskHead: Bool, batchSize: Int, loss: ReconstructionLoss, learningRate: Double, seed: UInt64,
                weighting: LossWeighting, coverage: Double, augmentation: AugmentSettings, adversarial: AdversarialSettings? = nil) {
        self.model = model; self.maskHead = maskHead; self.batchSize = batchSize; self.loss = loss
        self.learningRate = learningRate; self.seed = seed; self.weighting = weighting; self.coverage = coverage
        self.augmentation = augmentation; self.adversarial = adversarial
    }

    /// Throws `TrainingError.invalidOption` for values out of range.
    public func validate() throws {
        guard (1...1024).contains(batchSize) else { throw TrainingError.invalidOption("--batch-size must be 1...1024") }
        guard learningRate.isFinite, learningRate > 0, learningRate < 1 else {
            throw TrainingError.invalidOption("--learning-rate must be above 0 and below 1")
        }
        for (name, value) in [("--eye-multiplier", weighting.eyeMultiplier), ("--mouth-multiplier", weighting.mouthMultiplier)] {
            guard value.isFinite, value >= 1, value <= 100 else { throw TrainingError.invalidOption("\(name) must be 1...100") }
        }
        guard weighting.backgroundWeight.isFinite, (0...1).contains(weighting.backgroundWeight) else {
            throw TrainingError.invalidOption("--background-weight must be 0...1")
        }
        try adversarial?.validate()
        do {
            try augmentation.validate()
            _ = try AugmentGeometry(outputSize: model.inputSize, coverage: coverage)
        } catch let error as AugmentError {
            throw TrainingError.invalidOption(error.description)
        }
    }

    /// The settings as the JSON object manifests and the catalog record.
    public var jsonObject: [String: JSONValue] {
        guard let data = try? JSONEncoder().encode(self),
              case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) else { return [:] }
        return object
    }
}

/// One side's data as a checkpoint remembers it.
public struct DatasetRecord: Codable, Equatable, Sendable {
    public var identity: String
    /// Absolute path of the manifest read.
    public var manifest: String
    public var schema: String
    public var manifestSHA256: String
    public var contentSHA256: String
    public var faces: Int
    public var cropSize: Int
    public var centering: String

    public init(_ side: TrainingSide) {
        identity = side.identity; manifest = side.manifestURL.path; schema = side.schema; manifestSHA256 = side.manifestSHA256
        contentSHA256 = side.contentSHA256; faces = side.faces.count; cropSize = side.cropSize; centering = side.centering
    }
}

/// The checkpoint's run state: settings, data, time spent, where it started from.
public struct TrainingState: Codable, Equatable, Sendable {
    public static let metadataKey = "facet.train"
    public static let formatVersion = 1
    public var format: Int
    public var settings: TrainingSettings
    public var datasets: [DatasetRecord]
    /// Training seconds over every session so far.
    public var seconds: Double
    /// The model this run started from, if any (absolute manifest path and weights hash).
    public var initFrom: ModelFile?

    /// How often the run writes its outputs (absent in checkpoints written before it was stored: a resumed run
    /// then takes the command line's values or the defaults).
    public var cadence: TrainingCadence?
    /// The last logged mean losses [A, B] (the model manifest's final losses when a resumed session has no
    /// iteration left to do); absent in older checkpoints.
    public var recentLoss: [Double]?

    public init(settings: TrainingSettings, datasets: [DatasetRecord], seconds: Double, initFrom: ModelFile?, cadence: TrainingCadence? = nil,
                recentLoss: [Double]? = nil) {
        format = Self.formatVersion
        self.settings = settings; self.datasets = datasets; self.seconds = seconds; self.initFrom = initFrom; self.cadence = cadence
        self.recentLoss = recentLoss
    }

    /// The metadata entry written into checkpoints.
    public func metadata() throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return [Self.metadataKey: String(decoding: try encoder.encode(self), as: UTF8.self)]
    }

    /// The state stored in the checkpoint at `url` (its header only). Throws `NNError` for a missing or
    /// unreadable file and `TrainingError.resumeMismatch` for a checkpoint `train` did not write or a newer format.
    public static func read(checkpoint url: URL) throws -> (state: TrainingState, iteration: Int) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw NNError.checkpointMissing(path: url.path) }
        let header = try SafeTensors.Reader(url).header
        guard let text = header.metadata[metadataKey] else {
            throw TrainingError.resumeMismatch(path: url.path, problems: ["no '\(metadataKey)' metadata: not a checkpoint written by train"])
        }
        struct Format: Decodable { let format: Int }
        if let format = try? JSONDecoder().decode(Format.self, from: Data(text.utf8)), format.format > formatVersion {
            throw TrainingError.resumeMismatch(path: url.path, problems: ["checkpoint format \(format.format) is newer than this Facet's (\(formatVersion)); upgrade Facet"])
        }
        guard let state = try? JSONDecoder().decode(TrainingState.self, from: Data(text.utf8)),
              let iteration = Int(header.metadata["iteration"] ?? "") else {
            throw TrainingError.resumeMismatch(path: url.path, problems: ["its '\(metadataKey)' metadata cannot be read"])
        }
        return (state, iteration)
    }
}

/// How often a run writes checkpoints, previews and loss rows, and the preview's faces per side. Stored in the
/// checkpoint, so `--resume` without these options writes the same files an uninterrupted run writes (found by
/// the kill -9 campaign: a resumed run fell back to the defaults, losing loss rows and previews). They do not
/// change the weights, so a resumed run may give other values.
public struct TrainingCadence: Codable, Equatable, Sendable {
    public var checkpointEvery: Int
    public var previewEvery: Int
    public var previewFaces: Int
    public var logEvery: Int

    public static let defaults = TrainingCadence(checkpointEvery: 500, previewEvery: 500, previewFaces: 8, logEvery: 10)

    public init(checkpointEvery: Int, previewEvery: Int, previewFaces: Int, logEvery: Int) {
        self.checkpointEvery = checkpointEvery; self.previewEvery = previewEvery; self.previewFaces = previewFaces; self.logEvery = logEvery
    }

    /// The options' values where given, else the checkpoint's, else the defaults; each at least 1.
    public init(_ options: TrainOptions, stored: TrainingCadence?) {
        let base = stored ?? Self.defaults
        checkpointEvery = max(1, options.checkpointEvery ?? base.checkpointEvery)
        previewEvery = max(1, options.previewEvery ?? base.previewEvery)
        previewFaces = max(1, options.previewFaces ?? base.previewFaces)
        logEvery = max(1, options.logEvery ?? base.logEvery)
    }
}
