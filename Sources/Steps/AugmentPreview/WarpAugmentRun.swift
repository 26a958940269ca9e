import Augment
import FacetCore
import Foundation
import Media

/// What `warp-augment` was asked to do.
public struct WarpAugmentOptions: Sendable {
    public var manifest: URL
    public var settings: AugmentSettings
    /// Model input side and the fraction of the crop it covers.
    public var size: Int
    public var coverage: Double
    public var seed: UInt64
    /// Preview rows (faces spread over the dataset).
    public var previewFaces: Int
    public var preview: URL
    /// Augmented pairs to write as PNG files, and where.
    public var pairs: Int
    public var pairsFolder: URL?

    public init(manifest: URL, settings: AugmentSettings, size: Int, coverage: Double, seed: UInt64, previewFaces: Int, preview: URL,
                pairs: Int, pairsFolder: URL?) {
        self.manifest = manifest; self.settings = settings; self.size = size; self.coverage = coverage; self.seed = seed
        self.previewFaces = previewFaces; self.preview = preview; self.pairs = pairs; self.pairsFolder = pairsFolder
    }
}

public struct WarpAugmentReport: Codable, Sendable {
    public var preview: String
    public var faces: Int
    public var previewFaces: Int
    public var pairs: Int
    public var pairsFolder: String?
    public var outputSize: Int
    public var processingSize: Int
    public var coverage: Double
}

/// `warp-augment`: the augmentation `train` applies, made visible. Reads a dataset (or faces) manifest, writes
/// a preview grid (one row per face: the whole crop, the warped input, the target) and optionally N augmented
/// pairs (`NNNNNN_input.png`, `NNNNNN_target.png`, `NNNNNN_mask.png`).
public enum WarpAugmentRun {
    public static func run(_ options: WarpAugmentOptions, progress: ProgressSink = SilentProgress()) throws -> WarpAugmentReport {
        guard options.previewFaces >= 1, options.pairs >= 0 else {
            throw WarpAugmentError.invalidOption("--faces must be at least 1 and --pairs at least 0")
        }
        let geometry: AugmentGeometry, augmenter: FaceAugmenter
        do {
            geometry = try AugmentGeometry(outputSize: options.size, coverage: options.coverage)
            augmenter = try FaceAugmenter(settings: options.settings, geometry: geometry)
        } catch let error as AugmentError {
            throw WarpAugmentError.invalidOption(error.description)
        }
        let side = try TrainingSide.load(options.manifest, geometry: geometry, findNeighbours: options.settings.warpToLandmarks)
        let s = geometry.outputSize, pixels = s * s
        let encoder = try ImageEncoder(format: .png)

        /// Sample `key` of face `index`: its input, target and mask.
        func sample(_ index: Int, key: UInt64) -> (RGBImage, RGBImage, RGBImage) {
            var input = [Float](repeating: 0, count: pixels * 3), target = input, mask = [Float](repeating: 0, count: pixels)
            var rng = AugmentRandom(seed: options.seed, keys: [key, UInt64(index)])
            let partner: [SIMD2<Double>]? = side.neighbours[index].isEmpty ? nil
                : side.faces[side.neighbours[index][rng.index(below: side.neighbours[index].count)]].landmarks
            input.withUnsafeMutableBufferPointer { ip in target.withUnsafeMutableBufferPointer { tp in mask.withUnsafeMutableBufferPointer { mp in
                augmenter.render(side.faces[index], rng: &rng, partner: partner,
                                 into: AugmentTargets(input: ip.baseAddress, target: tp.baseAddress, faceMask: mp.baseAddress))
            } } }
            return (ImageGrid.image(input, side: s), ImageGrid.image(target, side: s), ImageGrid.grayImage(mask, side: s))
        }

        let count = min(options.previewFaces, side.faces.count)
        var rows: [[RGBImage]] = []
        for k in 0..<count {
            let index = k * side.faces.count / count
            let face = side.faces[index]
            let original = RGBImage(width: face.size, height: face.size, pixels: face.pixels)
            let (input, target, _) = sample(index, key: 0x9E1)
            rows.append([original, input, target])
        }
        let grid = ImageGrid.compose(rows, tile: s)
        try AtomicFile.write(try encoder.encode(grid), to: options.preview)

        if options.pairs > 0, let folder = options.pairsFolder {
            progress.begin("warp-augment", total: options.pairs, unit: "pairs")
            for k in 0..<options.pairs {
                let (input, target, mask) = sample(k % side.faces.count, key: UInt64(k) + 0x1_0000)
                let stem = zeroPadded(k, width: 6)
                try AtomicFile.write(try encoder.encode(input), to: folder.appendingPathComponent("\(stem)_input.png"), durable: false)
                try AtomicFile.write(try encoder.encode(target), to: folder.appendingPathComponent("\(stem)_target.png"), durable: false)
                try AtomicFile.write(try encoder.encode(mask), to: folder.appendingPathComponent("\(stem)_mask.png"), durable: false)
                progress.update(done: k + 1)
            }
            progress.finish()
        }
        return WarpAugmentReport(preview: options.preview.path, faces: side.faces.count, previewFaces: count, pairs: options.pairsFolder == nil ? 0 : options.pairs,
                                 pairsFolder: options.pairsFolder?.path, outputSize: s, processingSize: geometry.processingSize,
                                 coverage: geometry.coverage)
    }
}

/// A `warp-augment` option out of range (a usage error, exit 64).
public enum WarpAugmentError: FacetError, Equatable {
    case invalidOption(String)
    public var exitStatus: ExitStatus { .usage }
    public var description: String {
        switch self { case .invalidOption(let reason): return reason }
    }
}
