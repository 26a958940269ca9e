import FacetCore
import Foundation
import Manifest

/// Everything a dataset build (`dedupe build`) is asked to do.
public struct DatasetOptions: Sendable {
    /// Faces manifests (from `detect`, or `identify --target`), all of one person.
    public var inputs: [URL]
    public var workspace: URL
    /// The person's name: the dataset goes to `<workspace>/Datasets/<identity>/`.
    public var identity: String
    public var quality: QualitySettings
    public var duplicates: DuplicateSettings
    /// At most this many faces; above it, `CoverageSelector` chooses.
    public var maxFaces: Int
    /// Fewer faces than this gives a warning.
    public var minFaces: Int
    /// Fewer faces than this is refused (exit 65) unless `force`.
    public var hardMinimum: Int
    public var force: Bool
    /// Faces manifests of the video to be swapped: selection follows their pose and expression shares.
    public var reference: [URL]
    /// How much the reference's shares count against an even spread (0...1).
    public var referenceWeight: Double
    public var bins: CoverageBins
    /// Chooses among equally good faces; the same seed gives the same dataset.
    public var seed: UInt64
    /// Rebuild even when the dataset folder was edited by hand since it was written.
    public var replace: Bool
    /// Crop-reading threads (0: one per core).
    public var threads: Int

    public init(inputs: [URL], workspace: URL, identity: String, quality: QualitySettings = QualitySettings(),
                duplicates: DuplicateSettings = DuplicateSettings(), maxFaces: Int = 2000, minFaces: Int = 300, hardMinimum: Int = 100,
                force: Bool = false, reference: [URL] = [], referenceWeight: Double = 0.5, bins: CoverageBins = CoverageBins(),
                seed: UInt64 = 0, replace: Bool = false, threads: Int = 0) {
        self.inputs = inputs; self.workspace = workspace; self.identity = identity; self.quality = quality
        self.duplicates = duplicates; self.maxFaces = maxFaces; self.minFaces = minFaces; self.hardMinimum = hardMinimum
        self.force = force; self.reference = reference; self.referenceWeight = referenceWeight; self.bins = bins
        self.seed = seed; self.replace = replace; self.threads = threads
    }

    /// The dataset folder.
    public var folder: URL { workspace.appendingPathComponent("Datasets").appendingPathComponent(identity) }
    /// The dataset manifest.
    public var manifestURL: URL { folder.appendingPathComponent("dataset.json") }

    /// The options that shape the dataset, by command-line name (recorded in the manifest and hashed into the
    /// catalog key). `force`, `replace` and `threads` do not change which faces are chosen and are left out.
    public var parameters: [String: JSONValue] {
        [
            "min-sharpness": .number(quality.minSharpness), "blur-ratio": .number(quality.blurRatio),
            "min-face-size": .number(quality.minFaceSize), "max-yaw": .number(quality.maxYaw), "max-pitch": .number(quality.maxPitch),
            "max-roll": .number(quality.maxRoll), "min-presence": .number(quality.minPresence),
            "drop-closed-eyes": .bool(quality.dropClosedEyes), "closed-eyes-below": .number(quality.closedEyesBelow),
            "max-hash-distance": .number(Double(duplicates.maxHashDistance)),
            "max-descriptor-distance": .number(duplicates.maxDescriptorDistance), "max-pose-gap": .number(duplicates.maxPoseGap),
            "max-expression-gap": .number(duplicates.maxExpressionGap), "keep-pose-extremes": .bool(duplicates.keepPoseExtremes),
            "max-faces": .number(Double(maxFaces)), "reference-weight": .number(referenceWeight),
            "pose-bin": .number(bins.poseBinDegrees),
            // A JSON number holds integers exactly up to 2^53; larger seeds are written as text.
            "seed": seed < 1 << 53 ? .number(Double(seed)) : .string(String(seed)),
        ]
    }

    /// Checks the values a caller could get wrong.
    func validate() throws {
        func bad(_ message: String) -> DatasetError { .badOption(message) }
        guard !inputs.isEmpty else { throw DatasetError.noInputs }
        try Self.checkIdentity(identity)
        guard maxFaces >= 1 else { throw bad("--max-faces must be 1 or more") }
        guard minFaces >= 0, hardMinimum >= 0 else { throw bad("--min-faces and --hard-min must be 0 or more") }
        guard (0...15).contains(duplicates.maxHashDistance) else { throw bad("--max-hash-distance must be 0...15 bits") }
        guard (0...2).contains(duplicates.maxDescriptorDistance) else { throw bad("--max-descriptor-distance must be 0...2") }
        guard duplicates.maxPoseGap >= 0, duplicates.maxExpressionGap >= 0 else { throw bad("--max-pose-gap and --max-expression-gap must be 0 or more") }
        guard quality.blurRatio >= 0, quality.minSharpness >= 0, quality.minFaceSize >= 0 else {
            throw bad("--blur-ratio, --min-sharpness and --min-face-size must be 0 or more")
        }
        guard quality.maxYaw >= 0, quality.maxPitch >= 0, quality.maxRoll >= 0 else { throw bad("--max-yaw, --max-pitch and --max-roll must be 0 or more") }
        guard (0...1).contains(quality.minPresence) else { throw bad("--min-presence must be 0...1") }
        guard (0...1).contains(referenceWeight) else { throw bad("--reference-weight must be 0...1") }
        guard bins.poseBinDegrees >= 1, bins.poseBinDegrees <= 90 else { throw bad("--pose-bin must be 1...90 degrees") }
    }

    /// A name that is safe as a folder name: letters, digits, `.`, `_`, `-` and spaces, not starting with `.`.
    public static func checkIdentity(_ name: String) throws {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._- "))
        guard !name.isEmpty, name.count <= 100, !name.hasPrefix("."), name.trimmingCharacters(in: .whitespaces) == name,
              name.unicodeScalars.allSatisfy({ allowed.contains($0) }) else {
            throw DatasetError.badOption("--identity '\(name)' must be 1-100 letters, digits, '.', '_', '-' or spaces, not starting with '.'")
        }
    }
}

/// Errors about a dataset build or check; each names the file.
public enum DatasetError: FacetError {
    case noInputs
    case badOption(String)
    /// A faces manifest holds no face.
    case emptyManifest(path: String)
    /// The inputs' crops differ in size or centering.
    case mixedCrops(path: String, detail: String)
    /// Not one crop named by the inputs is on disk.
    case cropsGone(path: String, missing: Int)
    /// Fewer faces survive than the hard minimum (and no `--force`).
    case tooFew(identity: String, kept: Int, minimum: Int, summary: String)
    /// The dataset folder differs from its manifest.
    case editedByHand(path: String, problems: [String], total: Int)

    public var exitStatus: ExitStatus {
        switch self {
        case .noInputs, .badOption: return .usage
        case .emptyManifest, .mixedCrops, .tooFew, .editedByHand: return .dataError
        case .cropsGone: return .noInput
        }
    }

    public var description: String {
        switch self {
        case .noInputs: return "no faces manifest given"
        case .badOption(let message): return message
        case .emptyManifest(let p): return "\(p): the faces manifest holds no face"
        case .mixedCrops(let p, let d): return "\(p): \(d); a dataset needs crops of one size and centering (run detect with the same --size and --centering)"
        case .cropsGone(let p, let n): return "\(p): none of its \(n) crop files is on disk (moved or deleted?)"
        case .tooFew(let id, let kept, let minimum, let summary):
            return "\(id): only \(kept) faces are left (\(summary)), fewer than the hard minimum \(minimum); add footage, loosen the filters, or pass --force"
        case .editedByHand(let p, let problems, let total):
            let shown = problems.prefix(5).joined(separator: "; ")
            return "\(p): the dataset folder was changed by hand since it was written (\(total) problem\(total == 1 ? "" : "s"): \(shown)\(total > 5 ? "; ..." : "")); "
                + "run 'dedupe verify' to list them, or rebuild with --replace"
        }
    }
}

/// What a build did; printed as JSON with `--json`.
public struct DatasetReport: Codable, Sendable {
    /// The dataset manifest and the dedupe report, absolute.
    public var manifest: String
    public var report: String
    public var identity: String
    public var version: Int
    /// True when an identical earlier build was found intact and nothing was redone.
    public var reused: Bool
    /// Faces read from the inputs, and faces in the dataset.
    public var facesRead: Int
    public var kept: Int
    /// Faces left out, by reason (`DropReason` raw values).
    public var dropped: [String: Int]
    /// Yaw and pitch ranges (degrees) of the faces read and of those kept.
    public var yawRead: [Double]
    public var yawKept: [Double]
    public var pitchRead: [Double]
    public var pitchKept: [Double]
    public var warnings: [String]
    public var seconds: Double
}

/// Naming helpers for datasets.
public enum DatasetNaming {
    /// The person the manifests were filtered to: `identify --target NAME` records `target` in its parameters.
    /// Nil unless every manifest names the same one.
    public static func identity(fromManifests urls: [URL]) throws -> String? {
        var names = Set<String>()
        for url in urls {
            let manifest = try ManifestIO.read(FacesManifest.self, from: url)
            guard case .string(let name)? = manifest.tool.parameters["target"] else { return nil }
            names.insert(name)
        }
        return names.count == 1 ? names.first : nil
    }
}
