import FacetCore
import NN
import Tensor
import XCTest

// Helpers for the NN tests: random tensors and finite-difference gradient checks in Double.

extension SeededRandom {
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * nextUnitFloat() }

    mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in uniform(lo, hi) })
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

extension Tensor {
    var doubles: [Double] { data.map(Double.init) }
}

enum GradientCheck {
    /// Compares `analytic` (the Float backward pass) with central differences of the Double function `f`
    /// at `point`, on every index or on `samples` random ones. Steps of 1e-6 keep clear of the ReLU kinks.
    static func compare(_ analytic: [Float], at point: [Double], samples: Int = 24, rng: inout SeededRandom,
                        tolerance: Double = 1e-3, label: String, file: StaticString = #filePath, line: UInt = #line,
                        _ f: ([Double]) -> Double) {
        XCTAssertEqual(analytic.count, point.count, "\(label): gradient size", file: file, line: line)
        guard analytic.count == point.count, !point.isEmpty else { return }
        let indices = point.count <= samples ? Array(0..<point.count) : (0..<samples).map { _ in Int(rng.next() % UInt64(point.count)) }
        let eps = 1e-6
        var worst = 0.0
        for i in indices {
            var plus = point, minus = point
            plus[i] += eps; minus[i] -= eps
            let numeric = (f(plus) - f(minus)) / (2 * eps)
            let error = abs(numeric - Double(analytic[i])) / max(1, abs(numeric))
            worst = max(worst, error)
            if error > tolerance {
                XCTFail("\(label)[\(i)]: analytic \(analytic[i]) vs numeric \(numeric)", file: file, line: line)
                return
            }
        }
        XCTAssertLessThan(worst, tolerance, label, file: file, line: line)
    }

    /// Largest absolute difference between Float values and Double reference values.
    static func maxDifference(_ a: [Float], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        return zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
    }

    /// Σ r·y: turns a layer's output into a scalar whose output gradient is r.
    static func project(_ y: [Double], _ r: [Float]) -> Double {
        zip(y, r).reduce(0) { $0 + $1.0 * Double($1.1) }
    }
}
