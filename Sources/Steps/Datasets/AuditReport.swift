import FacetCore
import Foundation
import Manifest
import Media

/// `dedupe audit`: reads a dataset (or faces) manifest and optionally the target video's faces, checks a
/// dataset folder against its manifest, and writes `audit.json`, `pose.png`, `expressions.png`,
/// `quality.png` and one self-contained `audit.html` (the plots inlined as data URIs).
public enum CoverageAuditRun {
    public static func run(_ options: AuditOptions, progress: ProgressSink = SilentProgress()) throws -> AuditDocument {
        let subject = try FaceSetReader.read(options.subject)
        var integrity: DatasetIntegrity?
        var dropped: [String: Int]?
        if let dataset = subject.dataset {
            let checked = DatasetFolder.verify(dataset, at: options.subject, threads: options.threads)
            if options.verify && !checked.intact {
                throw DatasetError.editedByHand(path: options.subject.deletingLastPathComponent().path, problems: checked.problems,
                                                total: checked.problems.count)
            }
            integrity = checked
            let reportURL = options.subject.deletingLastPathComponent().appendingPathComponent("dedupe-report.json")
            if let report = try? ManifestIO.read(DedupeReportDocument.self, from: reportURL) { dropped = report.dropped }
        }
        var target: [FaceTraits]?
        var targetSide: AuditDocument.Side?
        if !options.against.isEmpty {
            var traits: [FaceTraits] = []
            var tracks = 0
            var kinds = Set<String>()
            for url in options.against {
                let set = try FaceSetReader.read(url)
                traits += set.traits
                tracks += set.tracks
                kinds.insert(set.kind)
            }
            target = traits
            targetSide = AuditDocument.Side(manifests: options.against.map(\.path), kind: kinds.count == 1 ? kinds.first ?? "faces" : "faces",
                                            identity: nil, faces: traits.count,
                                            tracks: tracks, yawRange: range(traits.map(\.yaw)), pitchRange: range(traits.map(\.pitch)))
        }
        var audit = CoverageAuditor.audit(dataset: subject.traits, datasetSide: CoverageAuditor.side(subject, manifests: [options.subject]),
                                          target: target, targetSide: targetSide, options: options)
        audit.integrity = integrity
        audit.dropped = dropped
        try write(&audit, options: options)
        progress.log("dedupe: audit of \(subject.traits.count) faces" + (target.map { " against \($0.count) target faces" } ?? "")
            + ": \(audit.thin.count) thin bin\(audit.thin.count == 1 ? "" : "s") -> \(options.outputFolder.appendingPathComponent("audit.html").path)")
        return audit
    }

    /// Writes the plots, `audit.json` and `audit.html` (each atomically); fills in `audit.files`.
    static func write(_ audit: inout AuditDocument, options: AuditOptions) throws {
        let folder = options.outputFolder
        let encoder = try ImageEncoder(format: .png)
        let plots: [(name: String, caption: String, image: RGBImage)] = [
            ("pose.png", "Faces per yaw × pitch cell (degrees; pitch > 0 looking up, yaw > 0 turned to the subject's left). "
                + "Red outlines: cells the target uses that the dataset covers thinly.", AuditPlots.poseHeatmaps(audit, bins: options.bins)),
            ("expressions.png", "Expression measures: shares of each side's faces per bin.",
             AuditPlots.histograms(Array(audit.histograms.prefix(4)), title: "expressions")),
            ("expression-classes.png", "Expression classes (mouth × eyes × smile): shares; counts on the right (dataset / target).",
             AuditPlots.expressionClasses(audit.expressionClasses)),
            ("quality.png", "Sharpness (log10 of the Laplacian variance) and brightness (mean luma) of the crops.",
             AuditPlots.histograms(Array(audit.histograms.suffix(2)), title: "image quality")),
        ]
        var encoded: [(name: String, caption: String, png: Data)] = []
        for plot in plots {
            let png = try encoder.encode(plot.image)
            try AtomicFile.write(png, to: folder.appendingPathComponent(plot.name), durable: false)
            encoded.append((plot.name, plot.caption, png))
        }
        audit.files = encoded.map(\.name) + ["audit.html", "audit.json"]
        let html = AuditHTML.render(audit, plots: encoded)
        try AtomicFile.write(Data(html.utf8), to: folder.appendingPathComponent("audit.html"))
        try ManifestIO.write(audit, to: folder.appendingPathComponent("audit.json"))
    }
}

/// The self-contained HTML page of an audit.
enum AuditHTML {
    static func render(_ audit: AuditDocument, plots: [(name: String, caption: String, png: Data)]) -> String {
        func e(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&quot;")
        }
        func pct(_ x: Double) -> String { String(format: "%.1f %%", x * 100) }
        func deg(_ r: [Double]) -> String { r.count == 2 ? String(format: "%.1f° to %.1f°", r[0], r[1]) : "–" }
        func num(_ x: Double) -> String { String(format: "%.1f", x) }
        let title = "Coverage audit: \(audit.dataset.identity ?? (audit.dataset.manifests.first.map { ($0 as NSString).lastPathComponent } ?? "faces"))"
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(e(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            th { background: #f3f3f3; } td.l, th.l { text-align: left; } .bad { color: #b00; font-weight: bold; } .ok { color: #070; }
            img { max-width: 100%; border: 1px solid #ddd; } figcaption { color: #555; font-size: 90%; margin-bottom: 1.5em; }
            </style></head><body>
            <h1>\(e(title))</h1>
            <p>Written by <code>dedupe audit</code> (Facet \(e(audit.tool.version))) at \(e(audit.createdAt)).</p>
            <h2>Counts</h2>
            <table><tr><th class="l"></th><th>faces</th><th>tracks</th><th>yaw</th><th>pitch</th><th>sharpness p5 / p50 / p95</th><th>brightness p50</th><th class="l">manifests</th></tr>

            """
        func row(_ name: String, _ side: AuditDocument.Side, _ sharp: AuditDocument.Percentiles, _ bright: AuditDocument.Percentiles) -> String {
            "<tr><td class=\"l\">\(e(name))</td><td>\(side.faces)</td><td>\(side.tracks)</td><td>\(deg(side.yawRange))</td><td>\(deg(side.pitchRange))</td>"
                + "<td>\(num(sharp.p5)) / \(num(sharp.p50)) / \(num(sharp.p95))</td><td>\(num(bright.p50))</td>"
                + "<td class=\"l\">\(side.manifests.map(e).joined(separator: "<br>"))</td></tr>\n"
        }
        h += row(audit.dataset.kind == "dataset" ? "dataset" : "faces", audit.dataset, audit.sharpness, audit.brightness)
        if let target = audit.target, let sharp = audit.targetSharpness, let bright = audit.targetBrightness {
            h += row("target", target, sharp, bright)
        }
        h += "</table>\n"
        if let integrity = audit.integrity {
            h += integrity.intact
                ? "<p class=\"ok\">The dataset folder matches its manifest (\(integrity.items) crops checked by SHA-256).</p>\n"
                : "<p class=\"bad\">The dataset folder differs from its manifest: \(integrity.problems.prefix(20).map(e).joined(separator: "; "))</p>\n"
        }
        if let dropped = audit.dropped, !dropped.isEmpty {
            h += "<h2>Faces the build left out</h2>\n<table><tr><th class=\"l\">reason</th><th>faces</th></tr>\n"
            for (reason, count) in dropped.sorted(by: { $0.key < $1.key }) { h += "<tr><td class=\"l\">\(e(reason))</td><td>\(count)</td></tr>\n" }
            h += "</table>\n"
        }
        if audit.target != nil {
            h += "<h2>Thinly covered bins</h2>\n"
            if audit.thin.isEmpty {
                h += "<p class=\"ok\">Every pose cell and expression class the target uses (≥ \(audit.minTargetFaces) faces and ≥ \(pct(audit.minTargetShare)) of them) has at least \(audit.thinBelow) dataset faces.</p>\n"
            } else {
                h += "<p>Bins the target uses (≥ \(audit.minTargetFaces) faces and ≥ \(pct(audit.minTargetShare)) of its faces) where the dataset has fewer than \(audit.thinBelow) faces: the model will draw these poorly. Add footage that shows them.</p>\n"
                h += "<table><tr><th class=\"l\">kind</th><th class=\"l\">bin</th><th>target faces</th><th>target share</th><th>dataset faces</th><th>dataset share</th><th class=\"l\"></th></tr>\n"
                for bin in audit.thin {
                    h += "<tr><td class=\"l\">\(bin.kind)</td><td class=\"l\">\(e(bin.bin))</td><td>\(bin.targetFaces)</td><td>\(pct(bin.targetShare))</td>"
                        + "<td>\(bin.datasetFaces)</td><td>\(pct(bin.datasetShare))</td><td class=\"l \(bin.uncovered ? "bad" : "")\">\(bin.uncovered ? "uncovered" : "thin")</td></tr>\n"
                }
                h += "</table>\n"
            }
        }
        h += "<h2>Plots</h2>\n"
        for plot in plots {
            h += "<figure><img alt=\"\(e(plot.name))\" src=\"data:image/png;base64,\(plot.png.base64EncodedString())\">"
                + "<figcaption>\(e(plot.caption))</figcaption></figure>\n"
        }
        h += "</body></html>\n"
        return h
    }
}
