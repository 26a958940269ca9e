import FacetCore
import Foundation
import Manifest

/// `--fail-if 'metric<value'`: a gate on one aggregate. `metric` is a metric name, optionally with a
/// statistic (`pose_error.p95`; default `mean`); the operator is `<`, `<=`, `>` or `>=`. The gate FAILS when
/// the comparison holds (`id_retrieval<0.9` fails a run whose mean ID retrieval is below 0.9) or when the
/// run has no value for the metric.
public struct Gate: Equatable, Sendable, CustomStringConvertible {
    public var metric: String
    public var statistic: String
    public var comparison: String
    public var threshold: Double
    public let text: String

    public init(parsing text: String) throws {
        let compact = text.replacingOccurrences(of: " ", with: "")
        guard let range = compact.range(of: "<=|>=|<|>", options: .regularExpression) else {
            throw ScoringError.badOption("--fail-if '\(text)': expected METRIC<VALUE (or <=, >, >=), e.g. 'id_retrieval<0.9'")
        }
        let left = String(compact[..<range.lowerBound]), right = String(compact[range.upperBound...])
        let parts = left.split(separator: ".").map(String.init)
        guard let name = parts.first, Metric.named(name) != nil else {
            throw ScoringError.badOption("--fail-if '\(text)': unknown metric '\(left)' (known: \(Metric.all.map(\.name).joined(separator: ", ")))")
        }
        let statistic = parts.count > 1 ? parts[1] : "mean"
        guard parts.count <= 2, ["mean", "median", "p95", "min", "max", "count"].contains(statistic) else {
            throw ScoringError.badOption("--fail-if '\(text)': statistic must be mean, median, p95, min, max or count")
        }
        guard let value = Double(right), value.isFinite else { throw ScoringError.badOption("--fail-if '\(text)': '\(right)' is not a number") }
        metric = name; self.statistic = statistic; comparison = String(compact[range]); threshold = value; self.text = text
    }

    public var description: String { text }

    /// The run's value, and whether the gate fails on it.
    public func check(_ aggregates: [String: MetricSummary]) -> (value: Double?, failed: Bool) {
        guard let value = aggregates[metric]?.value(statistic) else { return (nil, true) }
        switch comparison {
        case "<": return (value, value < threshold)
        case "<=": return (value, value <= threshold)
        case ">": return (value, value > threshold)
        default: return (value, value >= threshold)
        }
    }
}

/// A gate that failed for one run.
public struct GateFailure: Codable, Equatable, Sendable {
    public var run: String
    public var gate: String
    public var value: Double?
}

/// `score compare`: every aggregate side by side, the best run per row marked.
public struct ComparisonTable: Codable, Equatable, Sendable {
    public struct Row: Codable, Equatable, Sendable {
        public var metric: String
        public var statistic: String
        public var unit: String
        public var higherIsBetter: Bool
        /// One value per run (nil: not measured in that run).
        public var values: [Double?]
        /// Index of the best run (nil when fewer than one value, or all equal).
        public var best: Int?
    }

    /// The runs' names (their manifest names, made unique) and score.json paths.
    public var runs: [String]
    public var files: [String]
    public var rows: [Row]
    public var failures: [GateFailure]

    public static let statistics = ["mean", "median", "p95"]

    public init(documents: [ScoreDocument], files: [String], gates: [Gate]) {
        var names: [String] = []
        for document in documents {
            let base = URL(fileURLWithPath: document.manifest).deletingPathExtension().lastPathComponent
            var name = base, k = 2
            while names.contains(name) { name = "\(base)-\(k)"; k += 1 }
            names.append(name)
        }
        runs = names; self.files = files
        rows = []
        for metric in Metric.all {
            for statistic in Self.statistics {
                let values = documents.map { $0.aggregates[metric.name]?.value(statistic) }
                guard values.contains(where: { $0 != nil }) else { continue }
                let present = values.enumerated().compactMap { i, v in v.map { (i, $0) } }
                var best: Int?
                if present.count > 1, Set(present.map(\.1)).count > 1 {
                    best = (metric.higherIsBetter ? present.max { $0.1 < $1.1 } : present.min { $0.1 < $1.1 })?.0
                }
                rows.append(Row(metric: metric.name, statistic: statistic, unit: metric.unit, higherIsBetter: metric.higherIsBetter, values: values, best: best))
            }
        }
        failures = []
        for (i, document) in documents.enumerated() {
            for gate in gates {
                let (value, failed) = gate.check(document.aggregates)
                if failed { failures.append(GateFailure(run: names[i], gate: gate.text, value: value)) }
            }
        }
    }

    static func format(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == value.rounded(), abs(value) < 1e6 { return String(Int(value)) }
        return abs(value) >= 100 ? String(format: "%.1f", value) : String(format: "%.3f", value)
    }

    /// A fixed-width text table; `*` marks the best value per row.
    public func text() -> String {
        let header = ["metric", "stat"] + runs
        var lines = [header]
        for row in rows {
            lines.append([row.metric, row.statistic] + row.values.enumerated().map { i, v in Self.format(v) + (row.best == i ? " *" : "") })
        }
        var widths = [Int](repeating: 0, count: header.count)
        for line in lines { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let text = lines.map { line in
            line.enumerated().map { i, cell in i < 2 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[i] - cell.count) + cell }.joined(separator: "  ")
        }
        return text.joined(separator: "\n") + "\n* best per row (higher or lower as the metric says; README, score)\n"
    }

    /// CSV: metric, statistic, unit, better, one column per run, best run's name.
    public func csv() -> String {
        func quote(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        var lines = [(["metric", "statistic", "unit", "better"] + runs + ["best"]).map(quote).joined(separator: ",")]
        for row in rows {
            let cells = [row.metric, row.statistic, row.unit, row.higherIsBetter ? "higher" : "lower"]
                + row.values.map { $0.map { String($0) } ?? "" } + [row.best.map { runs[$0] } ?? ""]
            lines.append(cells.map(quote).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Finding a run's result from what `compare` is given.
public enum RunLocator {
    /// A score.json, a folder holding one, or (returned as `.manifest`) a facet.swap manifest to score first.
    public enum Found { case score(ScoreDocument, URL), manifest(URL) }

    public static func locate(_ url: URL) throws -> Found {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { throw FileError.missing(path: url.path) }
        let file = isFolder.boolValue ? url.appendingPathComponent("score.json") : url
        guard let data = FileManager.default.contents(atPath: file.path),
              let header = try? JSONDecoder().decode([String: JSONValue].self, from: data), case .string(let schema)? = header["schema"] else {
            throw ScoringError.notARun(path: url.path)
        }
        switch schema {
        case ScoreDocument.schemaName: return .score(try ManifestIO.read(ScoreDocument.self, from: file), file)
        case "facet.swap": return .manifest(file)
        default: throw ScoringError.notARun(path: url.path)
        }
    }
}
