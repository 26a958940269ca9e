import Foundation
import Tensor

/// A seeded SplitMix64 generator: small and fast. Same seed, same numbers, on every machine, so weight
/// initialisation (and anything else drawn from it) is reproducible.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits (every value exactly representable in Float).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }
}

/// Weight initialisers with Keras' defaults.
public enum Initializers {
    /// Glorot (Xavier) uniform, Keras' default kernel initialiser: U(-limit, limit) with
    /// limit = sqrt(6 / (fanIn + fanOut)). For a convolution fanIn = k·k·cin and fanOut = k·k·cout; for a
    /// dense layer the input and output sizes. Values are drawn in row-major order, each as
    /// `(2u - 1) · limit` with u from `SeededRandom.nextUnitFloat()` (SplitMix64), all in Float arithmetic.
    public static func glorotUniform(shape: [Int], fanIn: Int, fanOut: Int, rng: inout SeededRandom) -> Tensor {
        let limit = (Float(6) / Float(fanIn + fanOut)).squareRoot()
        let count = shape.reduce(1, *)
        var data = [Float](repeating: 0, count: count)
        for i in 0..<count { data[i] = (2 * rng.nextUnitFloat() - 1) * limit }
        return Tensor(shape: shape, data: data)
    }
}
