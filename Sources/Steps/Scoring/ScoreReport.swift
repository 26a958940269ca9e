import FacetCore
import Foundation
import Manifest
import Media

/// `score`'s HTML reports: one per run (`report.html` beside `score.json`) and one per comparison
/// (`compare.html`), each with its PNG plots beside it (referenced by relative path, so the folder moves whole).
public enum ScoreReport {
    /// The per-face metrics plotted over time and as histograms.
    static let faceMetrics: [(name: String, title: String, value: @Sendable (FaceScore) -> Double?)] = [
        ("id_distance_decoder", "distance to the decoder's person", { $0.idDistanceDecoder }),
        ("pose_error", "pose error (degrees)", { $0.poseError }),
        ("expression_error", "expression error", { $0.expressionError }),
        ("flicker", "frame-to-frame change, output / source", { f in
            guard let o = f.flickerOutput, let s = f.flickerSource, s > 1e-9 else { return nil }
            return o / s
        }),
        ("seam", "seam ratio (1 = none added)", { $0.seam }),
        ("colour_de00", "skin colour difference (CIEDE2000)", { $0.colourDe00 }),
    ]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let style = """
        <style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}table{border-collapse:collapse;margin:8px 0 16px}
        td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}th{background:#f2f2f2}td.l,th.l{text-align:left}
        td.best{background:#ffe2c4;font-weight:bold}.warn{background:#fff4d6;border:1px solid #e0b040;padding:6px 10px;margin:4px 0}
        img{margin:4px;border:1px solid #ddd}.note{color:#555;font-size:13px}figure{display:inline-block;margin:4px}figcaption{font-size:12px}</style>
        """

    /// Writes the run's plots and `report.html` into `folder`.
    public static func writeRun(_ document: ScoreDocument, to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = try ImageEncoder(format: .png)
        var plots: [(file: String, caption: String)] = []
        for metric in faceMetrics {
            var series: [(name: String, points: [(Double, Double)])] = []
            var values: [Double] = []
            for (o, output) in document.outputs.enumerated() {
                var byTrack: [Int: [(Double, Double)]] = [:]
                for face in output.faces where face.swapped {
                    if let v = metric.value(face) { byTrack[face.track, default: []].append((Double(face.frame), v)); values.append(v) }
                }
                for track in byTrack.keys.sorted() {
                    series.append((document.outputs.count > 1 ? "o\(o + 1) t\(track)" : "track \(track)", byTrack[track] ?? []))
                }
            }
            let timeFile = "time-\(metric.name).png", histFile = "hist-\(metric.name).png"
            try AtomicFile.write(try encoder.encode(ScorePlots.overTime(title: metric.title, series: series)), to: folder.appendingPathComponent(timeFile))
            try AtomicFile.write(try encoder.encode(ScorePlots.histogram(title: metric.title, values: values)), to: folder.appendingPathComponent(histFile))
            plots.append((timeFile, "\(metric.title) over time, one line per track"))
            plots.append((histFile, "\(metric.title): histogram over swapped faces"))
        }
        let bystanders = document.outputs.flatMap { $0.faces.filter { !$0.swapped }.compactMap(\.bystanderChange) }
        try AtomicFile.write(try encoder.encode(ScorePlots.histogram(title: "bystander change (0-255)", values: bystanders)),
                             to: folder.appendingPathComponent("hist-bystander_change.png"))
        plots.append(("hist-bystander_change.png", "mean absolute change in the boxes of faces that were not swapped"))

        let swapped = document.outputs.reduce(0) { $0 + $1.faces.filter(\.swapped).count }
        var html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>score: \(escape(document.manifest))</title>\(style)</head><body>\n"
        html += "<h1>Swap score</h1>\n<p class=\"note\">Run <code>\(escape(document.manifest))</code> · model \(escape(document.model.kind)), "
            + "\(escape(document.model.sourceIdentity)) → \(escape(document.model.decoderIdentity)) · \(swapped) swapped faces, "
            + "\(document.outputs.reduce(0) { $0 + $1.faces.count } - swapped) left alone · shard \(escape(document.shard)) · scored \(escape(document.createdAt))"
            + (document.seconds > 0 ? String(format: " in %.1f s (%.1f swapped faces/s)", document.seconds, document.facesPerSecond) : "") + "</p>\n"
        html += "<p class=\"note\">Identity measured by: \(escape(document.recognizer)) Gallery: \(escape(document.gallery.joined(separator: ", ")))</p>\n"
        if swapped == 0 { html += "<div class=\"warn\"><b>No face was swapped in this run.</b> Only bystanders and coverage are scored.</div>\n" }
        for warning in document.warnings { html += "<div class=\"warn\">\(escape(warning))</div>\n" }
        html += "<h2>Numbers</h2>\n<table><tr><th class=\"l\">metric</th><th>unit</th><th>better</th><th>mean</th><th>median</th><th>p95</th><th>max</th>"
            + "<th>count</th><th class=\"l\">per</th><th class=\"l\">definition</th></tr>\n"
        for metric in Metric.all {
            guard let s = document.aggregates[metric.name] else {
                html += "<tr><td class=\"l\">\(metric.name)</td><td>\(escape(metric.unit))</td><td>\(metric.higherIsBetter ? "higher" : "lower")</td>"
                    + "<td colspan=\"5\">not measured</td><td class=\"l\">\(escape(metric.per))</td><td class=\"l\">\(escape(metric.definition))</td></tr>\n"
                continue
            }
            html += "<tr><td class=\"l\">\(metric.name)</td><td>\(escape(metric.unit))</td><td>\(metric.higherIsBetter ? "higher" : "lower")</td>"
            for v in [s.mean, s.median, s.p95, s.max] { html += "<td>\(ComparisonTable.format(v))</td>" }
            html += "<td>\(s.count)</td><td class=\"l\">\(escape(metric.per))</td><td class=\"l\">\(escape(metric.definition))</td></tr>\n"
        }
        html += "</table>\n<h2>Outputs</h2>\n<table><tr><th class=\"l\">output</th><th>frames (source/output)</th><th>duration s</th><th>audio</th>"
            + "<th>target frames</th><th>swapped frames</th><th>coverage</th><th class=\"l\">tracks: flicker ratio, jitter px/frame @\(Int(document.jitterFaceSize)) px</th></tr>\n"
        for output in document.outputs {
            let tracks = output.tracks.map { "t\($0.track): \(ComparisonTable.format($0.flickerRatio)), \(ComparisonTable.format($0.landmarkJitter))" }
            html += "<tr><td class=\"l\">\(escape(URL(fileURLWithPath: output.output).lastPathComponent))</td>"
                + "<td>\(output.sourceFrames)/\(output.outputFrames)\(output.framesKept ? "" : " ✗")</td>"
                + "<td>\(ComparisonTable.format(output.sourceDuration))/\(ComparisonTable.format(output.outputDuration))\(output.durationKept ? "" : " ✗")</td>"
                + "<td>\(output.sourceHasAudio ? "yes" : "no")/\(output.outputHasAudio ? "yes" : "no")\(output.audioKept ? "" : " ✗")</td>"
                + "<td>\(output.targetFrames)</td><td>\(output.swappedFrames)</td><td>\(ComparisonTable.format(output.coverage))</td>"
                + "<td class=\"l\">\(escape(tracks.joined(separator: "; ")))</td></tr>\n"
        }
        html += "</table>\n<h2>Worst faces (source | output)</h2>\n"
        if document.worst.isEmpty { html += "<p class=\"note\">None.</p>\n" }
        for row in document.worst {
            html += "<figure><img src=\"\(escape(row.strip))\" alt=\"frame \(row.frame)\"><figcaption>output \(row.output + 1), frame \(row.frame), "
                + "track \(row.track): \(escape(row.why))</figcaption></figure>\n"
        }
        html += "<h2>Plots</h2>\n"
        for plot in plots {
            html += "<figure><img src=\"\(plot.file)\" alt=\"\(escape(plot.caption))\"><figcaption>\(escape(plot.caption))</figcaption></figure>\n"
        }
        html += "<p class=\"note\">How to read this: README, section “score”. Every number is in <code>score.json</code>; per-face rows are in the "
            + "catalog's <code>face_scores</code> table.</p>\n</body></html>\n"
        try AtomicFile.write(Data(html.utf8), to: folder.appendingPathComponent("report.html"))
    }

    /// Writes `compare.html` and one bar chart per headline metric into `folder`.
    public static func writeComparison(_ table: ComparisonTable, to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = try ImageEncoder(format: .png)
        var html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>score compare</title>\(style)</head><body>\n<h1>Swap runs compared</h1>\n"
        for failure in table.failures {
            html += "<div class=\"warn\">gate <code>\(escape(failure.gate))</code> failed for \(escape(failure.run)) "
                + "(value \(ComparisonTable.format(failure.value)))</div>\n"
        }
        html += "<table><tr><th class=\"l\">metric</th><th>stat</th><th>unit</th><th>better</th>"
        for (run, file) in zip(table.runs, table.files) {
            let report = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("report.html").path
            html += "<th><a href=\"file://\(escape(report))\">\(escape(run))</a></th>"
        }
        html += "</tr>\n"
        for row in table.rows {
            html += "<tr><td class=\"l\">\(row.metric)</td><td>\(row.statistic)</td><td>\(escape(row.unit))</td><td>\(row.higherIsBetter ? "higher" : "lower")</td>"
            for (i, v) in row.values.enumerated() { html += "<td\(row.best == i ? " class=\"best\"" : "")>\(ComparisonTable.format(v))</td>" }
            html += "</tr>\n"
        }
        html += "</table>\n<p class=\"note\">Highlighted: the best run per row.</p>\n"
        for row in table.rows where row.statistic == "mean" {
            let file = "compare-\(row.metric).png"
            let image = ScorePlots.bars(title: "\(row.metric) (mean, \(row.higherIsBetter ? "higher" : "lower") is better)", runs: table.runs,
                                        values: row.values, best: row.best)
            try AtomicFile.write(try encoder.encode(image), to: folder.appendingPathComponent(file))
            html += "<figure><img src=\"\(file)\" alt=\"\(row.metric)\"></figure>\n"
        }
        html += "</body></html>\n"
        try AtomicFile.write(Data(html.utf8), to: folder.appendingPathComponent("compare.html"))
    }
}
