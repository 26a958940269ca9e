import Augment
import Foundation
import NN
import Tensor

/// Builds each iteration's batches from the faces, deterministically: which faces and how each is
/// augmented follow from (seed, side, iteration) alone, so a resumed run gets exactly the batches an
/// uninterrupted one would have.
///
/// Faces are taken in epochs: epoch e is a permutation of the faces drawn from (seed, side, e), and sample
/// j of iteration i is position (i·n + j) of the concatenated epochs (n = batch size). Each sample's
/// augmentation comes from `AugmentRandom(seed, [i, side, j])`.
public final class BatchSampler: @unchecked Sendable {
    public let side: TrainingSide
    public let sideIndex: UInt64
    public let augmenter: FaceAugmenter
    public let seed: UInt64
    public let batchSize: Int
    /// Pixel weighting of the reconstruction loss.
    public let weighting: LossWeighting
    /// Also produce the face masks (for a mask head).
    public let wantsMasks: Bool
    private var permutationCache: (epoch: Int, order: [Int])?
    private let lock = NSLock()

    public init(side: TrainingSide, sideIndex: UInt64, augmenter: FaceAugmenter, seed: UInt64, batchSize: Int,
                weighting: LossWeighting, wantsMasks: Bool) {
        self.side = side; self.sideIndex = sideIndex; self.augmenter = augmenter; self.seed = seed
        self.batchSize = batchSize; self.weighting = weighting; self.wantsMasks = wantsMasks
    }

    /// The face index of sample `j` of iteration `iteration`.
    public func faceIndex(iteration: Int, sample j: Int) -> Int {
        let count = side.faces.count
        let position = iteration * batchSize + j
        return permutation(epoch: position / count)[position % count]
    }

    func permutation(epoch: Int) -> [Int] {
        lock.lock(); defer { lock.unlock() }
        if let cached = permutationCache, cached.epoch == epoch { return cached.order }
        var rng = AugmentRandom(seed: seed, keys: [0xE90C, sideIndex, UInt64(epoch)])
        var order = Array(0..<side.faces.count)
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.index(below: i + 1)) }
        }
        permutationCache = (epoch, order)
        return order
    }

    /// The batch of iteration `iteration`, samples rendered across the cores.
    public func batch(iteration: Int) -> TrainingBatch {
        let n = batchSize, s = augmenter.geometry.outputSize, pixels = s * s
        let faces = (0..<n).map { faceIndex(iteration: iteration, sample: $0) }
        var input = [Float](repeating: 0, count: n * pixels * 3), target = input
        let needsMasks = weighting.usesMasks || wantsMasks
        var face = [Float](repeating: 0, count: needsMasks ? n * pixels : 0)
        var eyes = [Float](repeating: 0, count: weighting.usesRegions ? n * pixels : 0), mouth = eyes
        input.withUnsafeMutableBufferPointer { ip in target.withUnsafeMutableBufferPointer { tp in
            face.withUnsafeMutableBufferPointer { fp in eyes.withUnsafeMutableBufferPointer { ep in mouth.withUnsafeMutableBufferPointer { mp in
                // Buffers left empty (masks nobody needs) must get no address at all.
                func address(_ b: UnsafeMutableBufferPointer<Float>) -> UnsafeMutablePointer<Float>? { b.isEmpty ? nil : b.baseAddress }
                let pointers = SamplePointers(input: address(ip), target: address(tp), face: address(fp), eyes: address(ep), mouth: address(mp))
                Parallel.ranges(n, work: n * pixels * 200) { range in
                    for j in range {
                        var rng = AugmentRandom(seed: seed, keys: [UInt64(iteration), sideIndex, UInt64(j)])
                        let index = faces[j]
                        let partner = self.partner(of: index, rng: &rng)
                        augmenter.render(side.faces[index], rng: &rng, partner: partner, into: pointers.targets(sample: j, pixels: pixels))
                    }
                }
            } } }
        } }
        let imageShape = [n, s, s, 3], maskShape = [n, s, s, 1]
        return TrainingBatch(input: Tensor(shape: imageShape, data: input), target: Tensor(shape: imageShape, data: target),
                             weights: weighting.weights(face: face, eyes: eyes, mouth: mouth, shape: maskShape),
                             mask: wantsMasks ? Tensor(shape: maskShape, data: face) : nil)
    }

    /// The landmarks to warp face `index` onto (one of its neighbours), with warp-to-landmarks.
    func partner(of index: Int, rng: inout AugmentRandom) -> [SIMD2<Double>]? {
        guard augmenter.settings.warpToLandmarks else { return nil }
        let candidates = side.neighbours[index]
        guard !candidates.isEmpty else { return nil }
        return side.faces[candidates[rng.index(below: candidates.count)]].landmarks
    }

    /// The plain centre crops (no augmentation) of `faces`, `[k, S, S, 3]`, for previews.
    public func centreCrops(_ faces: [Int]) throws -> Tensor {
        let s = augmenter.geometry.outputSize, pixels = s * s
        let plain = try FaceAugmenter(settings: .none, geometry: augmenter.geometry)
        var target = [Float](repeating: 0, count: faces.count * pixels * 3)
        var rng = AugmentRandom(seed: 0)
        target.withUnsafeMutableBufferPointer { tp in
            for (j, index) in faces.enumerated() {
                plain.render(side.faces[index], rng: &rng, into: AugmentTargets(target: tp.baseAddress.map { $0 + j * pixels * 3 }))
            }
        }
        return Tensor(shape: [faces.count, s, s, 3], data: target)
    }
}

/// Base addresses of a batch's buffers (shared by the workers; each writes only its own samples).
struct SamplePointers: @unchecked Sendable {
    let input: UnsafeMutablePointer<Float>?, target: UnsafeMutablePointer<Float>?
    let face: UnsafeMutablePointer<Float>?, eyes: UnsafeMutablePointer<Float>?, mouth: UnsafeMutablePointer<Float>?

    func targets(sample j: Int, pixels: Int) -> AugmentTargets {
        AugmentTargets(input: input.map { $0 + j * pixels * 3 }, target: target.map { $0 + j * pixels * 3 },
                       faceMask: face.map { $0 + j * pixels }, eyes: eyes.map { $0 + j * pixels }, mouth: mouth.map { $0 + j * pixels })
    }
}

/// How the reconstruction loss weighs pixels: `background + (1 − background)·face` when the face mask
/// weights it (background < 1), times `1 + (eye − 1)·eyes + (mouth − 1)·mouth` inside the eye and mouth
/// hulls (faceswap's eye and mouth multipliers).
public struct LossWeighting: Codable, Equatable, Sendable {
    public var backgroundWeight: Double
    public var eyeMultiplier: Double
    public var mouthMultiplier: Double

    public init(backgroundWeight: Double = 1, eyeMultiplier: Double = 1, mouthMultiplier: Double = 1) {
        self.backgroundWeight = backgroundWeight; self.eyeMultiplier = eyeMultiplier; self.mouthMultiplier = mouthMultiplier
    }

    var usesMasks: Bool { backgroundWeight < 1 }
    var usesRegions: Bool { eyeMultiplier != 1 || mouthMultiplier != 1 }

    /// `[n, S, S, 1]` weights from the batch's masks, or nil when every pixel weighs 1.
    func weights(face: [Float], eyes: [Float], mouth: [Float], shape: [Int]) -> Tensor? {
        guard usesMasks || usesRegions else { return nil }
        let count = shape.reduce(1, *)
        let bg = Float(backgroundWeight), eye = Float(eyeMultiplier) - 1, mouthExtra = Float(mouthMultiplier) - 1
        var out = [Float](repeating: 1, count: count)
        for i in 0..<count {
            var w: Float = usesMasks ? bg + (1 - bg) * face[i] : 1
            if usesRegions { w *= 1 + eye * eyes[i] + mouthExtra * mouth[i] }
            out[i] = w
        }
        return Tensor(shape: shape, data: out)
    }
}
