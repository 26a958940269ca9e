import Foundation

/// TFLite's reductions (MEAN), on row-major float32 tensors.
public enum TFLiteReduce {
    /// The reduced axes of a tensor of rank `rank`: negative axes count from the end, repeats are merged.
    /// nil when an axis is outside `-rank..<rank`.
    public static func resolvedAxes(_ axes: [Int32], rank: Int) -> Set<Int>? {
        var out = Set<Int>()
        for a in axes {
            let r = a < 0 ? Int(a) + rank : Int(a)
            guard r >= 0, r < rank else { return nil }
            out.insert(r)
        }
        return out
    }

    /// Mean of `x` (row-major, `shape`) over `axes`. The output holds the kept dimensions in order (with or
    /// without the reduced ones as 1: the same values either way), `shape` with the reduced axes removed.
    /// Sums run in Double, so the result does not depend on the reduced extent's order.
    public static func mean(_ x: UnsafePointer<Float>, shape: [Int], axes: Set<Int>, output: UnsafeMutablePointer<Float>) {
        let rank = shape.count
        let outCount = shape.indices.filter { !axes.contains($0) }.reduce(1) { $0 * shape[$1] }
        let reduced = shape.indices.filter { axes.contains($0) }.reduce(1) { $0 * shape[$1] }
        guard outCount > 0, reduced > 0 else { return }
        // Output stride of each input axis (0 for reduced axes).
        var outStride = [Int](repeating: 0, count: rank)
        var s = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where !axes.contains(d) { outStride[d] = s; s *= shape[d] }
        var sums = [Double](repeating: 0, count: outCount)
        var index = [Int](repeating: 0, count: rank)
        let total = shape.reduce(1, *)
        var o = 0
        for i in 0..<total {
            sums[o] += Double(x[i])
            // Advance the multi-index (last axis fastest) and the output offset with it.
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                o += outStride[d]
                if index[d] < shape[d] { break }
                o -= outStride[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
        for k in 0..<outCount { output[k] = Float(sums[k] / Double(reduced)) }
    }
}
