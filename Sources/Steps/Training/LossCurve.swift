import Foundation
import Media

/// The loss curve as a PNG-ready image: both sides' losses against iterations (thin light lines: the logged
/// means; thick lines: a moving average over 1/50 of the run), with labelled axes and a legend.
public enum LossCurve {
    public struct Point: Sendable {
        public var iteration: Int
        public var lossA: Double
        public var lossB: Double
        public init(iteration: Int, lossA: Double, lossB: Double) { self.iteration = iteration; self.lossA = lossA; self.lossB = lossB }
    }

    static let colourA: (UInt8, UInt8, UInt8) = (214, 39, 40), colourB: (UInt8, UInt8, UInt8) = (31, 119, 180)

    public static func render(_ points: [Point], width: Int = 720, height: Int = 400) -> RGBImage {
        var canvas = PlotCanvas(width: width, height: height)
        let left = 64, right = width - 16, top = 16, bottom = height - 40
        let finite = points.filter { $0.lossA.isFinite && $0.lossB.isFinite }
        let maxIteration = max(finite.last?.iteration ?? 1, 1)
        let values = finite.flatMap { [$0.lossA, $0.lossB] }
        let lo = 0.0, hi = niceCeiling(max(values.max() ?? 1, 1e-6))
        func x(_ iteration: Int) -> Int { left + Int(Double(iteration) / Double(maxIteration) * Double(right - left)) }
        func y(_ value: Double) -> Int { bottom - Int((value - lo) / (hi - lo) * Double(bottom - top)) }

        // Grid and labels.
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4, yy = y(v)
            canvas.line(x0: left, y0: yy, x1: right, y1: yy, (225, 225, 225))
            canvas.text(label(v), x: 4, y: yy - 7, scale: 2, (60, 60, 60))
        }
        let step = niceStep(Double(maxIteration) / 5)
        var tick = 0
        while tick <= maxIteration {
            let xx = x(tick), text = iterationLabel(tick)
            canvas.line(x0: xx, y0: top, x1: xx, y1: bottom, (225, 225, 225))
            canvas.text(text, x: min(max(xx - text.count * 6, 0), width - text.count * 12), y: bottom + 8, scale: 2, (60, 60, 60))
            tick += step
        }
        canvas.line(x0: left, y0: bottom, x1: right, y1: bottom, (0, 0, 0))
        canvas.line(x0: left, y0: top, x1: left, y1: bottom, (0, 0, 0))

        let window = max(1, finite.count / 50)
        for (series, colour) in [(finite.map(\.lossA), colourA), (finite.map(\.lossB), colourB)] {
            let light = (UInt8((Int(colour.0) + 2 * 255) / 3), UInt8((Int(colour.1) + 2 * 255) / 3), UInt8((Int(colour.2) + 2 * 255) / 3))
            for i in 1..<max(series.count, 1) {
                canvas.line(x0: x(finite[i - 1].iteration), y0: y(series[i - 1]), x1: x(finite[i].iteration), y1: y(series[i]), light)
            }
            let smooth = movingAverage(series, window: window)
            for i in 1..<max(smooth.count, 1) {
                canvas.line(x0: x(finite[i - 1].iteration), y0: y(smooth[i - 1]), x1: x(finite[i].iteration), y1: y(smooth[i]), thickness: 2, colour)
            }
        }
        // Legend.
        for (k, (name, colour)) in [("A", colourA), ("B", colourB)].enumerated() {
            let lx = right - 120 + k * 60
            canvas.fill(x: lx, y: top + 6, width: 20, height: 4, colour)
            canvas.text(name, x: lx + 26, y: top + 1, scale: 2, (0, 0, 0))
        }
        return canvas.image
    }

    static func movingAverage(_ values: [Double], window: Int) -> [Double] {
        var out: [Double] = [], sum = 0.0
        for (i, v) in values.enumerated() {
            sum += v
            if i >= window { sum -= values[i - window] }
            out.append(sum / Double(min(i + 1, window)))
        }
        return out
    }

    /// The smallest of 1, 2, 2.5, 5 × 10^k at or above `v`.
    static func niceCeiling(_ v: Double) -> Double {
        let magnitude = pow(10, (log10(v)).rounded(.down))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= v { return step * magnitude }
        return 10 * magnitude
    }

    static func label(_ v: Double) -> String { String(format: "%g", (v * 1e6).rounded() / 1e6) }

    /// The smallest of 1, 2, 5 × 10^k at or above `v` (at least 1).
    static func niceStep(_ v: Double) -> Int {
        var magnitude = 1
        while true {
            for step in [1, 2, 5] where Double(step * magnitude) >= v { return step * magnitude }
            magnitude *= 10
        }
    }
    static func iterationLabel(_ it: Int) -> String { it >= 10_000 && it % 1000 == 0 ? "\(it / 1000)k" : "\(it)" }
}
