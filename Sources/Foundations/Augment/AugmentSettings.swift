import FacetCore
import Foundation

/// How strongly training faces are augmented. Every range is symmetric around "no change"; all zero
/// (`AugmentSettings.none`) makes the warped input equal the target, the plain centre crop.
public struct AugmentSettings: Codable, Equatable, Sendable {
    /// Random rotation about the crop centre, uniform in ±this many degrees.
    public var rotationDegrees: Double
    /// Random scale, uniform in 1 ± this (0.05 = ±5 %).
    public var zoom: Double
    /// Random shift in x and in y, each uniform in ± this fraction of the crop side.
    public var shift: Double
    /// Probability of a horizontal flip.
    public var flipProbability: Double
    /// L*a*b* colour changes (same for the input and the target of a sample), each uniform in ± the amount:
    /// lightness moves L* that fraction of the way towards white (+) or black (−); contrast scales L* about
    /// the image's mean by 1 ± the amount; colour moves a* and b* (each on its own) that fraction of the way
    /// towards the end of their 0…255 8-bit range, as faceswap's `color_lightness` / `color_ab`.
    public var lightness: Double
    public var contrast: Double
    public var colour: Double
    /// Standard deviation of the random warp's control-point noise, in pixels of a 256 px crop (scaled with
    /// the crop: 5 on 256 px is the DeepFakes original).
    public var warpScale: Double
    /// Instead of the random grid, warp each face onto the landmarks of a similar face of its own dataset
    /// (one of its nearest neighbours by landmark positions), as faceswap's `warp_to_landmarks`.
    public var warpToLandmarks: Bool

    public init(rotationDegrees: Double = 10, zoom: Double = 0.05, shift: Double = 0.05, flipProbability: Double = 0.5,
                lightness: Double = 0.3, contrast: Double = 0.25, colour: Double = 0.08, warpScale: Double = 5,
                warpToLandmarks: Bool = false) {
        self.rotationDegrees = rotationDegrees; self.zoom = zoom; self.shift = shift; self.flipProbability = flipProbability
        self.lightness = lightness; self.contrast = contrast; self.colour = colour; self.warpScale = warpScale
        self.warpToLandmarks = warpToLandmarks
    }

    /// No augmentation at all: input = target = the centre crop.
    public static let none = AugmentSettings(rotationDegrees: 0, zoom: 0, shift: 0, flipProbability: 0, lightness: 0, contrast: 0,
                                             colour: 0, warpScale: 0, warpToLandmarks: false)

    /// Throws `AugmentError.invalidSettings` for negative or out-of-range values.
    public func validate() throws {
        let ranges: [(String, Double, ClosedRange<Double>)] = [
            ("rotation", rotationDegrees, 0...180), ("zoom", zoom, 0...0.9), ("shift", shift, 0...1),
            ("flip probability", flipProbability, 0...1), ("lightness", lightness, 0...1), ("contrast", contrast, 0...0.9),
            ("colour", colour, 0...1), ("warp scale", warpScale, 0...64),
        ]
        for (name, value, range) in ranges where !(value.isFinite && range.contains(value)) {
            throw AugmentError.invalidSettings("\(name) \(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
    }
}

/// Where the model's input comes from in a face crop: the centred square covering `coverage` of the crop's
/// side, resampled to `outputSize`. Faces are kept at `processingSize` (the crop scaled so that the covered
/// square is about `outputSize` pixels), where all warping happens.
public struct AugmentGeometry: Codable, Equatable, Sendable {
    /// Model input side, pixels.
    public let outputSize: Int
    /// Fraction of the crop side the model sees (0.625 is DeepFakes' original framing).
    public let coverage: Double
    /// Side of the working copy of each crop: ⌈outputSize / coverage⌉.
    public let processingSize: Int

    public init(outputSize: Int, coverage: Double) throws {
        guard outputSize >= 8, outputSize <= 1024 else { throw AugmentError.invalidSettings("output size \(outputSize) is outside 8...1024") }
        guard coverage.isFinite, coverage >= 0.25, coverage <= 1 else {
            throw AugmentError.invalidSettings("coverage \(coverage) is outside 0.25...1")
        }
        self.outputSize = outputSize
        self.coverage = coverage
        processingSize = Int((Double(outputSize) / coverage - 1e-9).rounded(.up))
    }

    /// Half the side of the covered square, processing pixels.
    public var radius: Double { coverage * Double(processingSize) / 2 }
    /// Standard deviation of the warp noise in processing pixels for `settings`.
    public func warpSigma(_ settings: AugmentSettings) -> Double { settings.warpScale * Double(processingSize) / 256 }
}

/// Bad augmentation settings or training faces; all exit 65 (bad data): the tools turn settings that came
/// from the command line into usage errors themselves (`TrainingError.invalidOption`).
public enum AugmentError: FacetError, Equatable {
    /// Settings or a face the augmenter cannot use (out-of-range values, not a square crop, no 68 landmarks).
    case invalidSettings(String)
    /// A dataset with no faces.
    case emptyDataset(path: String)
    /// A crop or mask whose size is not the manifest's crop size.
    case wrongImageSize(path: String, expected: Int, width: Int, height: Int)
    /// A crop whose bytes are not the ones the dataset manifest lists.
    case contentChanged(path: String, manifest: String)
    /// A face the augmenter cannot use (no 68 landmarks, ...).
    case badFace(path: String, reason: String)

    public var exitStatus: ExitStatus { .dataError }

    public var description: String {
        switch self {
        case .invalidSettings(let reason): return "invalid augmentation: \(reason)"
        case .emptyDataset(let path): return "\(path): the dataset has no faces"
        case .wrongImageSize(let path, let expected, let w, let h):
            return "\(path): image is \(w)×\(h), the manifest says \(expected)×\(expected)"
        case .contentChanged(let path, let manifest):
            return "\(path): content differs from the SHA-256 recorded in \(manifest) (the dataset folder was edited; re-run dedupe)"
        case .badFace(let path, let reason): return "\(path): unusable face: \(reason)"
        }
    }
}

/// One sample's random choices, drawn from `AugmentRandom` in a fixed order so a seed fixes them.
public struct AugmentDraw: Equatable, Sendable {
    /// Degrees, counter-clockwise on screen.
    public var rotationDegrees: Double
    public var scale: Double
    /// Shift in processing pixels.
    public var shift: SIMD2<Double>
    public var flip: Bool
    /// Colour changes (see `AugmentSettings`): lightness, contrast, a*, b*.
    public var lightness: Double, contrast: Double, colourA: Double, colourB: Double
    /// Noise of the 5×5 control points, processing pixels, row-major (`[row * 5 + column]`).
    public var warpNoise: [SIMD2<Double>]
    /// With warp-to-landmarks: which of the face's neighbours to warp onto (an index into its neighbour list).
    public var neighbourChoice: Int

    /// Draws every choice for `settings` at `geometry` (always the same number of random values, so turning
    /// one augmentation off does not change the others' draws).
    public init(settings: AugmentSettings, geometry: AugmentGeometry, rng: inout AugmentRandom) {
        let p = Double(geometry.processingSize)
        rotationDegrees = rng.symmetric(settings.rotationDegrees)
        scale = 1 + rng.symmetric(settings.zoom)
        shift = SIMD2(rng.symmetric(settings.shift) * p, rng.symmetric(settings.shift) * p)
        flip = rng.unit() < settings.flipProbability
        lightness = rng.symmetric(settings.lightness)
        contrast = rng.symmetric(settings.contrast)
        colourA = rng.symmetric(settings.colour)
        colourB = rng.symmetric(settings.colour)
        let sigma = geometry.warpSigma(settings)
        var noise: [SIMD2<Double>] = []
        noise.reserveCapacity(25)
        for _ in 0..<25 {
            let x = rng.gaussian(), y = rng.gaussian()
            noise.append(sigma == 0 ? .zero : SIMD2(x, y) * sigma)
        }
        warpNoise = noise
        neighbourChoice = Int(rng.next() >> 33)
    }

    /// True when the draw changes colours.
    public var changesColour: Bool { lightness != 0 || contrast != 0 || colourA != 0 || colourB != 0 }
}
