import Foundation
import Media

/// Mean adversarial and cycle losses of a logging window; nil where the term is off (or the GAN warm-up
/// has not ended). `cycleA` is A→B→A against A.
public struct AdversarialLosses: Sendable, Equatable {
    public var discriminatorA: Double?, discriminatorB: Double?
    public var generatorA: Double?, generatorB: Double?
    public var cycleA: Double?, cycleB: Double?

    public init(discriminatorA: Double? = nil, discriminatorB: Double? = nil, generatorA: Double? = nil, generatorB: Double? = nil,
                cycleA: Double? = nil, cycleB: Double? = nil) {
        self.discriminatorA = discriminatorA; self.discriminatorB = discriminatorB
        self.generatorA = generatorA; self.generatorB = generatorB; self.cycleA = cycleA; self.cycleB = cycleB
    }

    var isEmpty: Bool { self == AdversarialLosses() }
}

/// The loss curve as a PNG-ready image: both sides' losses against iterations (thin light lines: the logged
/// means; thick lines: a moving average over 1/50 of the run), with labelled axes and a legend, drawn on Media's `Canvas`.
/// A GAN or cycle run gets a second panel below, on its own scale: the discriminators' (D) and generator's
/// adversarial (G) least-squares losses and the cycle losses (C), per side.
public enum LossCurve {
    public struct Point: Sendable {
        public var iteration: Int
        public var lossA: Double
        public var lossB: Double
        public var adversarial: AdversarialLosses
        public init(iteration: Int, lossA: Double, lossB: Double, adversarial: AdversarialLosses = AdversarialLosses()) {
            self.iteration = iteration; self.lossA = lossA; self.lossB = lossB; self.adversarial = adversarial
        }
    }

    static let colourA: (UInt8, UInt8, UInt8) = (214, 39, 40), colourB: (UInt8, UInt8, UInt8) = (31, 119, 180)

    /// One line of a panel: its legend name, colour and value at each point (nil: no value there).
    struct Series {
        var name: String
        var colour: (UInt8, UInt8, UInt8)
        var values: (Point) -> Double?
    }

    /// `height` is the pixel-loss panel's; the adversarial panel adds 3/4 of it when there is one.
    public static func render(_ points: [Point], width: Int = 720, height: Int = 400) -> RGBImage {
        let hasExtra = points.contains { !$0.adversarial.isEmpty }
        let extraHeight = hasExtra ? height * 3 / 4 : 0
        var canvas = Canvas(width: width, height: height + extraHeight)
        let maxIteration = max(points.last?.iteration ?? 1, 1)
        panel(&canvas, points, top: 16, bottom: height - 40, width: width, maxIteration: maxIteration,
              series: [Series(name: "A", colour: colourA, values: { $0.lossA }), Series(name: "B", colour: colourB, values: { $0.lossB })])
        if hasExtra {
            let light: ((UInt8, UInt8, UInt8)) -> (UInt8, UInt8, UInt8) = { ($0.0 / 2 + 127, $0.1 / 2 + 127, $0.2 / 2 + 127) }
            let dark: ((UInt8, UInt8, UInt8)) -> (UInt8, UInt8, UInt8) = { ($0.0 / 2, $0.1 / 2, $0.2 / 2) }
            panel(&canvas, points, top: height + 8, bottom: height + extraHeight - 40, width: width, maxIteration: maxIteration, series: [
                Series(name: "DA", colour: colourA, values: { $0.adversarial.discriminatorA }),
                Series(name: "DB", colour: colourB, values: { $0.adversarial.discriminatorB }),
                Series(name: "GA", colour: light(colourA), values: { $0.adversarial.generatorA }),
                Series(name: "GB", colour: light(colourB), values: { $0.adversarial.generatorB }),
                Series(name: "CA", colour: dark(colourA), values: { $0.adversarial.cycleA }),
                Series(name: "CB", colour: dark(colourB), values: { $0.adversarial.cycleB })])
        }
        return canvas.image
    }

    /// Axes, grid, labels, the series (light: logged means; thick: moving average) and the legend of one panel.
    static func panel(_ canvas: inout Canvas, _ points: [Point], top: Int, bottom: Int, width: Int, maxIteration: Int, series: [Series]) {
        let left = 64, right = width - 16
        let lines = series.map { s in points.compactMap { p in s.values(p).flatMap { $0.isFinite ? (p.iteration, $0) : nil } } }
        let values = lines.flatMap { $0.map(\.1) }
        let lo = 0.0, hi = niceCeiling(max(values.max() ?? 1, 1e-6))
        func x(_ iteration: Int) -> Int { left + Int(Double(iteration) / Double(maxIteration) * Double(right - left)) }
        func y(_ value: Double) -> Int { bottom - Int((value - lo) / (hi - lo) * Double(bottom - top)) }

        // Grid and labels.
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4, yy = y(v)
            canvas.line(left, yy, right, yy, (225, 225, 225))
            canvas.text(label(v), x: 4, y: yy - 7, scale: 2, (60, 60, 60))
        }
        let step = niceStep(Double(maxIteration) / 5)
        var tick = 0
        while tick <= maxIteration {
            let xx = x(tick), text = iterationLabel(tick)
            canvas.line(xx, top, xx, bottom, (225, 225, 225))
            canvas.text(text, x: min(max(xx - text.count * 6, 0), width - text.count * 12), y: bottom + 8, scale: 2, (60, 60, 60))
            tick += step
        }
        canvas.line(left, bottom, right, bottom, (0, 0, 0))
        canvas.line(left, top, left, bottom, (0, 0, 0))

        for (line, s) in zip(lines, series) {
            let colour = s.colour
            let light = (UInt8((Int(colour.0) + 2 * 255) / 3), UInt8((Int(colour.1) + 2 * 255) / 3), UInt8((Int(colour.2) + 2 * 255) / 3))
            for i in 1..<max(line.count, 1) {
                canvas.line(x(line[i - 1].0), y(line[i - 1].1), x(line[i].0), y(line[i].1), light)
            }
            let smooth = movingAverage(line.map(\.1), window: max(1, line.count / 50))
            for i in 1..<max(smooth.count, 1) {
                canvas.line(x(line[i - 1].0), y(smooth[i - 1]), x(line[i].0), y(smooth[i]), colour, thickness: 2)
            }
        }
        // Legend: the series that have values, right-aligned.
        let shown = zip(lines, series).filter { !$0.0.isEmpty }.map(\.1)
        for (k, s) in shown.enumerated() {
            let lx = right - shown.count * 70 + k * 70
            canvas.fill(x: lx, y: top + 6, width: 20, height: 4, s.colour)
            canvas.text(s.name, x: lx + 26, y: top + 1, scale: 2, (0, 0, 0))
        }
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
    static func iterationLabel(_ it: Int) -> String { it >= 10_000 && it % 1000 == 0 ? "\(it / 1000)K" : "\(it)" }
}
