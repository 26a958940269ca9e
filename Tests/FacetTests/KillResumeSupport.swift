#if canImport(Glibc)
import Glibc
#endif
import FacetCore
import Foundation
import XCTest

/// kill -9 at seeded moments of a long tool, then rerun (issue 18): the shared harness of
/// `ReliabilityKillTests`.
///
/// An uninterrupted reference run in a fresh workspace gives the tool's duration T (wall seconds, measured
/// on this machine, so the moments scale with its speed) and the expected outcome. Kill moments are
/// stratified over T: moment i of N is T·(i + u)/N with u uniform in [0, 1), the order shuffled, all from
/// the campaign's seed. Each attempt starts the tool on a workspace, sleeps until its moment and sends
/// SIGKILL. A kill counts as *midway* only when the tool died of it (it had not finished); after
/// `killsPerCheck` midway kills in a row on one workspace (each later run resumes what the earlier left),
/// the command runs once more to completion and its outcome must equal the reference's. A kill that came
/// after the tool had already finished checks that run's outcome instead and is retried with another seeded
/// moment, earlier than the late one, so every campaign ends with exactly `kills` midway kills; it fails when
/// that takes more than `kills` late attempts (most kills must land midway) or when any run exits non-zero.
/// No assertion depends on timing: a slow or fast machine only changes how many attempts are late.
struct KillCampaign {
    /// The built executable's name.
    var tool: String
    /// A subcommand placed first (identify's `label`, score's `run`), or none.
    var subcommand: String? = nil
    var seed: UInt64
    /// Midway kills to land.
    var kills = 20
    /// Midway kills in a row on one workspace before the run is let finish and compared.
    var killsPerCheck = 3
    /// A fresh workspace with the inputs in place.
    var prepare: () throws -> URL
    /// The tool's arguments after `--workspace W -q` for a run on `workspace`; called before every run, so it
    /// may depend on what earlier (killed) runs left (train's `--resume` once a checkpoint exists).
    var arguments: (_ workspace: URL) throws -> [String]
    /// What must equal an uninterrupted run's: names to digests (see `KillCampaign.digest`).
    var outcome: (_ workspace: URL) throws -> [String: String]
}

/// What a campaign did, for the test log and docs/reliability.md.
struct KillCampaignSummary: CustomStringConvertible {
    var referenceSeconds: Double
    var midway = 0
    var late = 0
    var comparisons = 0
    var description: String {
        String(format: "reference run %.2f s, %d kills midway, %d late (retried), %d resumed outcomes compared", referenceSeconds, midway, late, comparisons)
    }
}

extension KillCampaign {
    /// Runs the campaign, failing the test on any difference from the reference.
    @discardableResult
    func run(in test: XCTestCase, file: StaticString = #filePath, line: UInt = #line) throws -> KillCampaignSummary {
        let binary = try TestPaths.executable(tool)
        func command(_ workspace: URL) throws -> [String] {
            (subcommand.map { [$0] } ?? []) + ["--workspace", workspace.path, "-q"] + (try arguments(workspace))
        }
        // The reference.
        let reference = try prepare()
        let started = Date()
        let clean = try runProcess(binary, try command(reference), timeout: 600)
        let seconds = Date().timeIntervalSince(started)
        guard clean.status == 0 else {
            XCTFail("\(tool): the uninterrupted run exited \(clean.status):\n\(clean.stderr)", file: file, line: line)
            return KillCampaignSummary(referenceSeconds: seconds)
        }
        let expected = try outcome(reference)
        XCTAssertFalse(expected.isEmpty, "\(tool): the outcome names nothing to compare", file: file, line: line)

        var rng = SeededRandom(seed: seed)
        var moments = (0..<kills).map { i in seconds * (Double(i) + Double.random(in: 0..<1, using: &rng)) / Double(kills) }
        moments.shuffle(using: &rng)
        var summary = KillCampaignSummary(referenceSeconds: seconds)
        var workspace: URL?
        var inARow = 0
        var history: [String] = []

        func compare(_ workspace: URL, after what: String) throws {
            summary.comparisons += 1
            let actual = try outcome(workspace)
            let differing = Set(expected.keys).union(actual.keys).filter { expected[$0] != actual[$0] }.sorted()
            if !differing.isEmpty {
                // Kept for a look (the test's own folders are removed when it ends).
                let kept = FileManager.default.temporaryDirectory.appendingPathComponent("facet-kill-failure-\(tool)-\(summary.comparisons)")
                try? FileManager.default.removeItem(at: kept)
                try? FileManager.default.copyItem(at: workspace, to: kept)
                let shown = differing.prefix(6).map { "\($0): \(actual[$0] ?? "missing") (uninterrupted: \(expected[$0] ?? "absent"))" }
                XCTFail("\(tool) \(what): \(differing.count) of \(expected.count) outcomes differ from an uninterrupted run's: "
                        + shown.joined(separator: "; ") + "; kills: " + history.joined(separator: ", ") + "; workspace kept in \(kept.path)",
                        file: file, line: line)
            }
        }

        while summary.midway < kills {
            guard summary.late <= kills else {
                XCTFail("\(tool): \(summary.late) kills came after the run had finished (\(summary.midway) midway): most kills must land midway",
                        file: file, line: line)
                return summary
            }
            let ws = try workspace ?? prepare()
            workspace = ws
            let moment = moments.removeFirst()
            let (process, outURL, errURL) = try startProcess(binary, try command(ws))
            usleep(UInt32(min(moment, 600) * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let result = collect(process, outURL, errURL)
            if process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL {
                summary.midway += 1
                inARow += 1
                history.append(String(format: "%.2fs", moment))
                if inARow == killsPerCheck || summary.midway == kills {
                    let rerun = try runProcess(binary, try command(ws), timeout: 600)
                    XCTAssertEqual(rerun.status, 0, "\(tool): the rerun after kills at \(history.suffix(inARow)) exited \(rerun.status):\n\(rerun.stderr)",
                                   file: file, line: line)
                    try compare(ws, after: "resumed after kills at \(history.suffix(inARow).joined(separator: ", "))")
                    workspace = nil
                    inARow = 0
                }
            } else {
                // Finished before the kill: that run must have succeeded and resumed right. Retry earlier.
                summary.late += 1
                history.append(String(format: "%.2fs (late)", moment))
                XCTAssertEqual(result.status, 0, "\(tool): a run after \(inARow) kill(s) exited \(result.status):\n\(result.stderr)", file: file, line: line)
                try compare(ws, after: "finished after \(inARow) kill(s)")
                workspace = nil
                inARow = 0
                moments.append(moment * Double.random(in: 0.2..<0.8, using: &rng))
            }
        }
        XCTAssertGreaterThan(summary.midway, summary.late, "\(tool): most kills must land midway", file: file, line: line)
        print("kill campaign \(tool)\(subcommand.map { " " + $0 } ?? ""): \(summary)")
        return summary
    }

    /// Digests of every file under `roots` of `workspace` (recursively, hidden files included, so leftovers
    /// count), keyed by path relative to the workspace. JSON files are compared without `volatileKeys`
    /// (anywhere in the document) and with the workspace's path replaced, CSV files without `volatileColumns`,
    /// safetensors files with their metadata treated as JSON; files for which `presenceOnly` holds only have to
    /// exist (reports that print times), files for which `skip` holds are left out.
    static func digest(_ workspace: URL, roots: [String], volatileKeys: Set<String> = ["createdAt"], volatileColumns: Set<String> = [],
                       presenceOnly: (String) -> Bool = { _ in false }, skip: (String) -> Bool = { _ in false }) throws -> [String: String] {
        var result: [String: String] = [:]
        let base = workspace.resolvingSymlinksInPath().path
        for root in roots {
            let folder = workspace.appendingPathComponent(root)
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) else { continue }
            let files: [String] = isFolder.boolValue
                ? ((FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String]) ?? []).map { root + "/" + $0 }
                : [root]
            for relative in files where !skip(relative) {
                let url = workspace.appendingPathComponent(relative)
                var dir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &dir), !dir.boolValue else { continue }
                if presenceOnly(relative) { result[relative] = "present"; continue }
                let data = try Data(contentsOf: url)
                switch url.pathExtension {
                case "json": result[relative] = SHA256.hex(canonicalJSON(data, dropping: volatileKeys, workspace: [workspace.path, base]))
                case "csv": result[relative] = SHA256.hex(csv(data, dropping: volatileColumns))
                case "safetensors": result[relative] = SHA256.hex(safetensors(data, dropping: volatileKeys, workspace: [workspace.path, base]))
                default: result[relative] = SHA256.hex(data)
                }
            }
        }
        return result
    }

    /// The JSON with `keys` removed at every depth, the workspace's paths replaced by `<workspace>`, keys sorted.
    static func canonicalJSON(_ data: Data, dropping keys: Set<String>, workspace: [String]) -> Data {
        var text = String(decoding: data, as: UTF8.self)
        for path in workspace {
            text = text.replacingOccurrences(of: path, with: "<workspace>")
            text = text.replacingOccurrences(of: path.replacingOccurrences(of: "/", with: "\\/"), with: "<workspace>")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else { return Data(text.utf8) }
        // A key is dropped where its name, or its dotted path from the root (`tool.parameters`), is in `keys`.
        func strip(_ value: Any, _ path: String) -> Any {
            if let dictionary = value as? [String: Any] {
                var kept: [String: Any] = [:]
                for (key, item) in dictionary {
                    let inner = path.isEmpty ? key : path + "." + key
                    if keys.contains(key) || keys.contains(inner) { continue }
                    kept[key] = strip(item, inner)
                }
                return kept
            }
            if let array = value as? [Any] { return array.map { strip($0, path) } }
            return value
        }
        return (try? JSONSerialization.data(withJSONObject: strip(object, ""), options: [.sortedKeys, .fragmentsAllowed])) ?? Data(text.utf8)
    }

    /// A safetensors file with its metadata (JSON strings) canonical as `canonicalJSON` makes it; tensors as they are.
    static func safetensors(_ data: Data, dropping keys: Set<String>, workspace: [String]) -> Data {
        guard data.count >= 8 else { return data }
        let length = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        guard length >= 0, length <= data.count - 8,
              var header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any] else { return data }
        if let metadata = header["__metadata__"] as? [String: String] {
            header["__metadata__"] = metadata.mapValues { String(decoding: canonicalJSON(Data($0.utf8), dropping: keys, workspace: workspace), as: UTF8.self) }
        }
        let canonical = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data()
        return canonical + data.subdata(in: (8 + length)..<data.count)
    }

    /// A CSV file without the named columns (header row first).
    static func csv(_ data: Data, dropping columns: Set<String>) -> Data {
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init), !columns.isEmpty else { return data }
        let keep = header.indices.filter { !columns.contains(header[$0]) }
        let kept = lines.map { line -> String in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            return keep.compactMap { $0 < cells.count ? String(cells[$0]) : nil }.joined(separator: ",")
        }
        return Data(kept.joined(separator: "\n").utf8)
    }

    /// A fresh copy of `template` (with `cp -a`, so the catalog and hidden files come along).
    static func copy(_ template: URL, in test: XCTestCase) throws -> URL {
        let target = try test.makeTemporaryDirectory().appendingPathComponent("ws")
        let cp = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["cp", "-a", template.path, target.path])
        guard cp.status == 0 else { throw TestFailure("cp -a \(template.path): \(cp.stderr)") }
        return target
    }
}
