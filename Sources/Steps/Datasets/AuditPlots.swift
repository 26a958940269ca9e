import Foundation
import Media

/// The audit's PNG plots, drawn from an `AuditDocument` alone.
enum AuditPlots {
    /// Yaw × pitch heatmaps, the dataset's on the left and the target's on the right, with the face count in
    /// every non-empty cell; cells listed as thin are outlined in red on the dataset's map. Pitch grows upwards.
    static func poseHeatmaps(_ audit: AuditDocument, bins: CoverageBins) -> RGBImage {
        let columns = audit.yawEdges.count - 1, rows = audit.pitchEdges.count - 1
        let cellW = 30, cellH = 22, left = 46, top = 34, gap = 40, bottom = 40
        let mapW = columns * cellW, mapH = rows * cellH
        let maps = audit.targetPoseHeatmap == nil ? 1 : 2
        var canvas = Canvas(width: left + maps * mapW + (maps - 1) * gap + 16, height: top + mapH + bottom)
        let thinCells = Set(audit.thin.filter { $0.kind == "pose" }.map(\.bin))
        let grids = [audit.poseHeatmap] + (audit.targetPoseHeatmap.map { [$0] } ?? [])
        let titles = ["dataset: \(audit.dataset.identity ?? "faces") (\(audit.dataset.faces) faces)"]
            + (audit.target.map { ["target (\($0.faces) faces)"] } ?? [])
        for (m, grid) in grids.enumerated() {
            let x0 = left + m * (mapW + gap)
            let peak = max(1, grid.flatMap { $0 }.max() ?? 1)
            canvas.text(titles[m], x: x0, y: 8, scale: 2)
            for row in 0..<rows {
                for column in 0..<columns {
                    let count = grid[row][column]
                    let x = x0 + column * cellW, y = top + (rows - 1 - row) * cellH
                    let t = count == 0 ? 0 : 0.15 + 0.85 * (Double(count) / Double(peak)).squareRoot()
                    canvas.fill(x: x, y: y, width: cellW, height: cellH, count == 0 ? Canvas.white : Canvas.heat(t))
                    canvas.outline(x: x, y: y, width: cellW + 1, height: cellH + 1, Canvas.light)
                    if count > 0 {
                        let label = count > 9999 ? "\(count / 1000)K" : String(count)
                        canvas.centredText(label, x: x + cellW / 2, y: y + (cellH - 7) / 2, t > 0.55 ? Canvas.white : Canvas.black)
                    }
                    if m == 0, thinCells.contains(bins.poseLabel(of: row * columns + column)) {
                        canvas.outline(x: x, y: y, width: cellW + 1, height: cellH + 1, thickness: 2, Canvas.alarmRed)
                    }
                }
            }
            // Axes: yaw under the map every other edge, pitch on the left.
            for (i, edge) in audit.yawEdges.enumerated() where i % 2 == 0 {
                canvas.fill(x: x0 + i * cellW, y: top + mapH, width: 1, height: 4, Canvas.black)
                canvas.centredText(String(Int(edge)), x: x0 + i * cellW, y: top + mapH + 6)
            }
            canvas.centredText("yaw (degrees)", x: x0 + mapW / 2, y: top + mapH + 24)
            for (i, edge) in audit.pitchEdges.enumerated() {
                let y = top + (rows - i) * cellH
                canvas.fill(x: x0 - 4, y: y, width: 4, height: 1, Canvas.black)
                let label = String(Int(edge))
                canvas.text(label, x: x0 - 6 - Canvas.textWidth(label), y: y - 3)
            }
        }
        canvas.text("pitch", x: 2, y: top - 12)
        return canvas.image
    }

    /// Histograms as grouped bars of shares (each side's counts over its total): dataset blue, target orange.
    static func histograms(_ histograms: [AuditDocument.Histogram], title: String) -> RGBImage {
        let panelW = 380, panelH = 170, columns = 2
        let rows = (histograms.count + columns - 1) / columns
        var canvas = Canvas(width: columns * panelW + 20, height: 30 + rows * panelH)
        canvas.text(title, x: 10, y: 8, scale: 2)
        legend(&canvas, x: columns * panelW - 200, y: 10, target: histograms.contains { $0.target != nil })
        for (k, histogram) in histograms.enumerated() {
            let x0 = 10 + (k % columns) * panelW + 40, y0 = 30 + (k / columns) * panelH
            drawBars(&canvas, name: histogram.name, labels: histogram.edges.map(edgeLabel), dataset: histogram.dataset, target: histogram.target,
                     x: x0, y: y0, width: panelW - 60, height: panelH - 50)
        }
        return canvas.image
    }

    /// Expression classes as horizontal bars of shares.
    static func expressionClasses(_ classes: [AuditDocument.ClassCount]) -> RGBImage {
        let labelW = 214, barW = 300, rowH = 16, top = 34
        var canvas = Canvas(width: labelW + barW + 120, height: top + classes.count * rowH + 10)
        canvas.text("expression classes", x: 10, y: 8, scale: 2)
        let hasTarget = classes.contains { $0.target != nil }
        legend(&canvas, x: labelW + barW - 120, y: 10, target: hasTarget)
        let datasetTotal = max(1, classes.reduce(0) { $0 + $1.dataset }), targetTotal = max(1, classes.reduce(0) { $0 + ($1.target ?? 0) })
        let peak = max(1e-9, classes.map { max(Double($0.dataset) / Double(datasetTotal), Double($0.target ?? 0) / Double(targetTotal)) }.max() ?? 1)
        for (i, cls) in classes.enumerated() {
            let y = top + i * rowH
            canvas.text(cls.name, x: 6, y: y + 4)
            let d = Double(cls.dataset) / Double(datasetTotal) / peak
            canvas.fill(x: labelW, y: y + 2, width: Int(d * Double(barW)), height: hasTarget ? 6 : 12, Canvas.datasetBlue)
            var note = "\(cls.dataset)"
            if let target = cls.target {
                let t = Double(target) / Double(targetTotal) / peak
                canvas.fill(x: labelW, y: y + 8, width: Int(t * Double(barW)), height: 6, Canvas.targetOrange)
                note += " / \(target)"
            }
            canvas.text(note, x: labelW + barW + 8, y: y + 4, Canvas.grey)
        }
        return canvas.image
    }

    static func legend(_ canvas: inout Canvas, x: Int, y: Int, target: Bool) {
        canvas.fill(x: x, y: y, width: 10, height: 8, Canvas.datasetBlue)
        canvas.text("dataset", x: x + 14, y: y)
        if target {
            canvas.fill(x: x + 70, y: y, width: 10, height: 8, Canvas.targetOrange)
            canvas.text("target", x: x + 84, y: y)
        }
    }

    static func edgeLabel(_ value: Double) -> String {
        if value == value.rounded() { return String(Int(value)) }
        return String(format: value.magnitude < 1 ? "%.2f" : "%.1f", value).replacingOccurrences(of: "0.", with: ".")
    }

    /// One bar panel: bins left to right, bar heights as shares of each side's total, edge labels underneath.
    static func drawBars(_ canvas: inout Canvas, name: String, labels: [String], dataset: [Int], target: [Int]?,
                         x: Int, y: Int, width: Int, height: Int) {
        canvas.text(name, x: x, y: y + 4)
        let top = y + 16
        let bins = dataset.count
        let datasetTotal = max(1, dataset.reduce(0, +)), targetTotal = max(1, target?.reduce(0, +) ?? 1)
        let shares = dataset.map { Double($0) / Double(datasetTotal) }
        let targetShares = target?.map { Double($0) / Double(targetTotal) }
        let peak = max(1e-9, (shares + (targetShares ?? [])).max() ?? 1)
        let binW = max(2, width / max(1, bins))
        canvas.fill(x: x, y: top + height, width: binW * bins, height: 1, Canvas.black)
        for i in 0..<bins {
            let bx = x + i * binW
            let barW = targetShares == nil ? binW - 2 : (binW - 2) / 2
            let h = Int(shares[i] / peak * Double(height))
            canvas.fill(x: bx + 1, y: top + height - h, width: max(1, barW), height: h, Canvas.datasetBlue)
            if let targetShares {
                let th = Int(targetShares[i] / peak * Double(height))
                canvas.fill(x: bx + 1 + barW, y: top + height - th, width: max(1, barW), height: th, Canvas.targetOrange)
            }
        }
        let step = max(1, (bins + 3) / 4)
        for (i, label) in labels.enumerated() where i % step == 0 || i == bins {
            canvas.fill(x: x + i * binW, y: top + height, width: 1, height: 4, Canvas.black)
            canvas.centredText(label, x: x + i * binW, y: top + height + 6)
        }
        canvas.text(String(format: "peak %.0f%%", peak * 100), x: x + binW * bins - Canvas.textWidth("peak 100%"), y: y + 4, Canvas.grey)
    }
}
