import FacetCore
import Foundation

/// Augmentation's random streams are FacetCore's seeded SplitMix64 generator.
public typealias AugmentRandom = SeededRandom

/// A seeded random stream for augmentation. `init(seed:keys:)` derives an independent stream
/// from a seed and a list of keys (for training: the iteration, the side and the position in the batch),
/// so any sample can be redrawn exactly on its own, in any order, on any thread: a resumed run draws the
/// same augmentations as an uninterrupted one without storing any generator state.
extension SeededRandom {
    /// The stream for `seed` and `keys`: each key is folded in through SplitMix64's finaliser, so
    /// neighbouring keys (iteration 41 and 42) give unrelated streams.
    public init(seed: UInt64, keys: [UInt64]) {
        var s = Self.mix(seed ^ 0x6A09_E667_F3BC_C908)
        for key in keys { s = Self.mix(s ^ Self.mix(key &+ 0x9E37_79B9_7F4A_7C15)) }
        self.init(seed: s)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in [-limit, limit) (0 when limit is 0).
    public mutating func symmetric(_ limit: Double) -> Double { limit == 0 ? 0 : (2 * unit() - 1) * limit }

    /// Standard normal (Box–Muller, one value per two uniforms).
    public mutating func gaussian() -> Double {
        let u1 = 1 - unit(), u2 = unit()   // u1 in (0, 1]: the logarithm stays finite
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// A uniformly chosen index in 0..<count (count ≥ 1).
    public mutating func index(below count: Int) -> Int { Int(next() % UInt64(max(count, 1))) }
}
