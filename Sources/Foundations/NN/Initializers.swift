import FacetCore
import Foundation
import Tensor

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
