import Foundation
import Media

/// `score`'s PNG plots, drawn on Media's `Canvas`: a metric over time per track, a histogram, and a bar
/// per run for comparisons.
enum ScorePlots {
    static let width = 640, height = 240, left = 56, right = 16, top = 30, bottom = 34

    static func label(_ v: Double) -> String {
        abs(v) >= 100 || v == v.rounded() ? String(format: "%.0f", v) : abs(v) >= 1 ? String(format: "%.1f", v) : String(format: "%.2g", v)
    }

    /// Axes with `ticks` labels on y from `lo` to `hi`, and the x range `x0…x1` labelled under the axis.
    static func axes(_ canvas: inout Canvas, title: String, lo: Double, hi: Double, x0: Double, x1: Double, xName: String) {
        canvas.text(title, x: 8, y: 8, scale: 2)
        let plotW = width - left - right, plotH = height - top - bottom
        canvas.fill(x: left, y: top + plotH, width: plotW, height: 1, Canvas.black)
        canvas.fill(x: left, y: top, width: 1, height: plotH, Canvas.black)
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            let y = top + plotH - Int(Double(plotH) * Double(k) / 4)
            canvas.fill(x: left + 1, y: y, width: plotW - 1, height: 1, Canvas.light)
            let text = label(v)
            canvas.text(text, x: left - 6 - Canvas.textWidth(text), y: y - 3)
        }
        canvas.text(label(x0), x: left, y: top + plotH + 6)
        let end = label(x1)
        canvas.text(end, x: left + plotW - Canvas.textWidth(end), y: top + plotH + 6)
        canvas.centredText(xName, x: left + plotW / 2, y: top + plotH + 18)
    }

    /// One line per series (x ascending); a gap in x (> 1) breaks the line. Empty series draw an empty frame.
    static func overTime(title: String, series: [(name: String, points: [(Double, Double)])], xName: String = "frame") -> RGBImage {
        var canvas = Canvas(width: width, height: height)
        let all = series.flatMap(\.points)
        let xs = all.map(\.0), ys = all.map(\.1)
        let x0 = xs.min() ?? 0, x1 = max(xs.max() ?? 1, x0 + 1)
        var lo = min(0, ys.min() ?? 0), hi = ys.max() ?? 1
        if hi <= lo { hi = lo + 1 }
        hi += (hi - lo) * 0.05
        if lo < 0 { lo -= (hi - lo) * 0.05 }
        axes(&canvas, title: title, lo: lo, hi: hi, x0: x0, x1: x1, xName: xName)
        let plotW = Double(width - left - right), plotH = Double(height - top - bottom)
        func px(_ x: Double) -> Int { left + Int((x - x0) / (x1 - x0) * plotW) }
        func py(_ y: Double) -> Int { top + Int(plotH - (y - lo) / (hi - lo) * plotH) }
        for (k, s) in series.enumerated() {
            let colour = Canvas.series(k)
            for (i, p) in s.points.enumerated() {
                if i > 0, p.0 - s.points[i - 1].0 <= 1 {
                    canvas.line(px(s.points[i - 1].0), py(s.points[i - 1].1), px(p.0), py(p.1), colour, thickness: 2)
                } else {
                    canvas.fill(x: px(p.0) - 1, y: py(p.1) - 1, width: 3, height: 3, colour)
                }
            }
            let legendX = width - right - 90, legendY = 8 + 10 * k
            if k < 6 {
                canvas.fill(x: legendX, y: legendY, width: 10, height: 7, colour)
                canvas.text(s.name, x: legendX + 14, y: legendY)
            }
        }
        if all.isEmpty { canvas.centredText("no values", x: width / 2, y: height / 2, Canvas.grey) }
        return canvas.image
    }

    /// A histogram of `values` in `bins` equal bins between their min and max.
    static func histogram(title: String, values: [Double], bins: Int = 24) -> RGBImage {
        var canvas = Canvas(width: width, height: height)
        let v = values.filter { $0.isFinite }
        var lo = v.min() ?? 0, hi = v.max() ?? 1
        if hi <= lo { lo -= 0.5; hi += 0.5 }
        var counts = [Int](repeating: 0, count: bins)
        for x in v { counts[min(bins - 1, max(0, Int((x - lo) / (hi - lo) * Double(bins))))] += 1 }
        let peak = Double(max(1, counts.max() ?? 1))
        axes(&canvas, title: title, lo: 0, hi: peak, x0: lo, x1: hi, xName: "value (faces or tracks per bin)")
        let plotW = width - left - right, plotH = Double(height - top - bottom)
        let binW = max(1, plotW / bins)
        for (i, c) in counts.enumerated() where c > 0 {
            let h = Int(Double(c) / peak * plotH)
            canvas.fill(x: left + 1 + i * binW, y: top + Int(plotH) - h, width: max(1, binW - 2), height: h, Canvas.series(0))
        }
        if v.isEmpty { canvas.centredText("no values", x: width / 2, y: height / 2, Canvas.grey) }
        return canvas.image
    }

    /// One bar per run (values may be missing), the best one in orange.
    static func bars(title: String, runs: [String], values: [Double?], best: Int?) -> RGBImage {
        let rowH = 18
        var canvas = Canvas(width: width, height: 30 + rowH * max(1, runs.count) + 8)
        canvas.text(title, x: 8, y: 8, scale: 2)
        let nameW = 170, barW = width - nameW - 90
        let peak = max(1e-12, values.compactMap { $0.map(abs) }.max() ?? 1)
        for (i, name) in runs.enumerated() {
            let y = 30 + i * rowH
            canvas.text(String(name.prefix(27)), x: 8, y: y + 5)
            guard let value = values[i] else { canvas.text("-", x: nameW, y: y + 5, Canvas.grey); continue }
            let w = Int(abs(value) / peak * Double(barW))
            canvas.fill(x: nameW, y: y + 2, width: max(1, w), height: rowH - 5, best == i ? Canvas.series(1) : Canvas.series(0))
            canvas.text(label(value), x: nameW + w + 6, y: y + 5)
        }
        return canvas.image
    }
}
