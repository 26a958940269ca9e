/// A trained swap model, written by `train` next to its weights and read by `swap` (and by `train
/// --init-from`). JSON Schema: `Manifests/model.schema.json`. Paths are relative to the manifest's folder.
public struct ModelManifest: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.model"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    /// When the manifest was written (ISO 8601, UTC).
    public var createdAt: String
    /// The model kind `train` offers (`original`, `lite`, `df128`).
    public var model: String
    public var architecture: ModelArchitecture
    /// The weights (safetensors; tensor names as in `architecture`, no optimizer state).
    public var weights: ModelFile
    /// How faces must be cut and framed for this model: the crops it was trained on and the part of them it sees.
    public var alignment: ModelAlignment
    /// The two people: decoder A renders `a`, decoder B renders `b`.
    public var identities: ModelIdentities
    /// The datasets the model was trained on (A then B).
    public var datasets: [ModelDataset]
    public var training: ModelTraining

    public init(tool: ToolInfo, createdAt: String, model: String, architecture: ModelArchitecture, weights: ModelFile,
                alignment: ModelAlignment, identities: ModelIdentities, datasets: [ModelDataset], training: ModelTraining) {
        self.schema = Self.schemaName
        self.version = Self.currentVersion
        self.tool = tool; self.createdAt = createdAt; self.model = model; self.architecture = architecture
        self.weights = weights; self.alignment = alignment; self.identities = identities; self.datasets = datasets
        self.training = training
    }
}

/// The network: `NN.DeepFakesAutoencoder` with these settings.
public struct ModelArchitecture: Codable, Equatable, Sendable {
    /// `deepfakes-autoencoder`: a shared encoder and one decoder per identity.
    public var name: String
    /// Side of the square RGB input and output, pixels.
    public var inputSize: Int
    /// Filter and dense sizes are the original's divided by this.
    public var widthDivisor: Int
    /// Each decoder also outputs a face mask (its fourth channel).
    public var maskHead: Bool
    /// Trainable scalars of the encoder and of one decoder.
    public var encoderParameters: Int
    public var decoderParameters: Int

    public init(name: String, inputSize: Int, widthDivisor: Int, maskHead: Bool, encoderParameters: Int, decoderParameters: Int) {
        self.name = name; self.inputSize = inputSize; self.widthDivisor = widthDivisor; self.maskHead = maskHead
        self.encoderParameters = encoderParameters; self.decoderParameters = decoderParameters
    }
}

/// A file beside the manifest with its hash.
public struct ModelFile: Codable, Equatable, Sendable {
    public var path: String
    public var sha256: String
    public var bytes: Int64
    public init(path: String, sha256: String, bytes: Int64) { self.path = path; self.sha256 = sha256; self.bytes = bytes }
}

/// The face framing the model expects.
public struct ModelAlignment: Codable, Equatable, Sendable {
    /// How crops are aligned: `facet-mean-face-51` is `detect`'s similarity (Umeyama) of the 51 stable
    /// landmarks onto Facet's mean face.
    public var convention: String
    /// `face` or `head` (see `FaceCentering`), and the crop side the training faces had.
    public var centering: String
    public var cropSize: Int
    /// The model sees the centred square covering this fraction of the crop's side, resized to `inputSize`.
    public var coverage: Double

    public init(convention: String, centering: String, cropSize: Int, coverage: Double) {
        self.convention = convention; self.centering = centering; self.cropSize = cropSize; self.coverage = coverage
    }
}

public struct ModelIdentities: Codable, Equatable, Sendable {
    public var a: String
    public var b: String
    public init(a: String, b: String) { self.a = a; self.b = b }
}

/// One side's training data.
public struct ModelDataset: Codable, Equatable, Sendable {
    /// `A` or `B`.
    public var side: String
    public var identity: String
    /// The manifest read (relative to this manifest's folder), its schema (`facet.dataset` or `facet.faces`)
    /// and the SHA-256 of its bytes.
    public var manifest: String
    public var schema: String
    public var sha256: String
    /// SHA-256 of the faces' crop hashes, sorted, one per line: the same faces give the same value whatever
    /// manifest lists them.
    public var contentSha256: String
    public var faces: Int

    public init(side: String, identity: String, manifest: String, schema: String, sha256: String, contentSha256: String, faces: Int) {
        self.side = side; self.identity = identity; self.manifest = manifest; self.schema = schema; self.sha256 = sha256
        self.contentSha256 = contentSha256; self.faces = faces
    }
}

/// How the model was trained.
public struct ModelTraining: Codable, Equatable, Sendable {
    /// Iterations completed (each a step of side A and a step of side B).
    public var iterations: Int
    public var batchSize: Int
    /// `mae`, `mse`, `ssim` or `mixed`.
    public var loss: String
    public var learningRate: Double
    public var seed: UInt64
    /// Loss weight multipliers inside the eye and mouth hulls; the weight of the background when the mask
    /// weights the loss (1: not weighted).
    public var eyeMultiplier: Double
    public var mouthMultiplier: Double
    public var backgroundWeight: Double
    /// The augmentation settings (`AugmentSettings` fields).
    public var augmentation: [String: JSONValue]
    /// Seconds spent training, over every session of the run.
    public var seconds: Double
    /// Mean loss of each side over the last logged iterations.
    public var finalLossA: Double?
    public var finalLossB: Double?
    /// The model this one started from (`--init-from`): its manifest path and weights hash.
    public var initFrom: ModelFile?

    public init(iterations: Int, batchSize: Int, loss: String, learningRate: Double, seed: UInt64, eyeMultiplier: Double,
                mouthMultiplier: Double, backgroundWeight: Double, augmentation: [String: JSONValue], seconds: Double,
                finalLossA: Double?, finalLossB: Double?, initFrom: ModelFile?) {
        self.iterations = iterations; self.batchSize = batchSize; self.loss = loss; self.learningRate = learningRate
        self.seed = seed; self.eyeMultiplier = eyeMultiplier; self.mouthMultiplier = mouthMultiplier
        self.backgroundWeight = backgroundWeight; self.augmentation = augmentation; self.seconds = seconds
        self.finalLossA = finalLossA; self.finalLossB = finalLossB; self.initFrom = initFrom
    }
}
