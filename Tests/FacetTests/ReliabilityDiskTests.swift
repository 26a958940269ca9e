#if canImport(Glibc)
import Glibc
#endif
import FacetCore
import Foundation
import GRDB
import XCTest

/// A full disk and a read-only workspace for every tool that writes (issue 18): one clear error line
/// `TOOL: error: FILE: PROBLEM` naming a file in the workspace, exit 1, and nothing already written damaged:
/// every file that was there before (crops, datasets, models, swaps, manifests) has the same bytes, every
/// manifest still parses, the catalog passes `PRAGMA integrity_check` with every earlier row still there, and
/// no temporary file is left. The workspace is a copy of the kill campaigns' (`KillFixtures`) on a tmpfs
/// (needs root; `missingPrerequisite` otherwise), filled up to `freeKiB` or remounted read-only.
final class ReliabilityDiskTests: XCTestCase {
    enum Mode { case full(freeKiB: Int), readOnly }

    struct Case {
        let tool: String
        /// Arguments (a subcommand first, if any) for the workspace `ws`; `--workspace ws -q` is added after the
        /// subcommand.
        let arguments: (_ ws: URL) -> [String]
        var subcommand: String? = nil
    }

    static var cases: [Case] { [
        Case(tool: "detect", arguments: { ["--mask", "--every", "2", $0.appendingPathComponent("inputs/short.mp4").path] }),
        Case(tool: "identify", arguments: { ["--target", "Lin-Manuel Miranda", $0.appendingPathComponent("Manifests/faces-d18.json").path] },
             subcommand: "label"),
        Case(tool: "dedupe", arguments: { ["--identity", "d18", "--force", $0.appendingPathComponent("Manifests/faces-d18.json").path] },
             subcommand: "build"),
        Case(tool: "warp-augment", arguments: { ["--pairs", "16", $0.appendingPathComponent("Manifests/faces-d18.json").path] }),
        Case(tool: "train", arguments: { ["--iterations", "2", "--batch-size", "2", "--threads", "1", "--output", $0.appendingPathComponent("Models/n").path,
                                          $0.appendingPathComponent("Manifests/faces-short-Lin-Manuel_Miranda.json").path,
                                          $0.appendingPathComponent("Manifests/faces-d18.json").path] }),
        Case(tool: "swap", arguments: { ["--model", $0.appendingPathComponent("Models/m/model.json").path, "--codec", "ffv1",
                                         "--output", $0.appendingPathComponent("Swaps/new.mkv").path, $0.appendingPathComponent("inputs/short.mp4").path] }),
        Case(tool: "score", arguments: { [$0.appendingPathComponent("Manifests/swap-out.json").path] }, subcommand: "run"),
    ] }

    func testFullDiskForEveryTool() throws {
        for c in Self.cases { try check(c, .full(freeKiB: 256)) }
    }

    func testReadOnlyWorkspaceForEveryTool() throws {
        for c in Self.cases { try check(c, .readOnly) }
    }

    /// Digests of every file of the workspace but the catalog and lock files, by relative path.
    func snapshot(_ ws: URL) throws -> [String: String] {
        let all = (FileManager.default.enumerator(atPath: ws.path)?.allObjects as? [String]) ?? []
        var files: [String] = []
        for name in all where !name.hasPrefix("catalog.sqlite") && !name.hasSuffix(".lock") {
            var folder: ObjCBool = false
            if FileManager.default.fileExists(atPath: ws.appendingPathComponent(name).path, isDirectory: &folder), !folder.boolValue { files.append(name) }
        }
        let digests = try sha256sum(files.map { ws.appendingPathComponent($0) })
        return Dictionary(uniqueKeysWithValues: files.map { ($0, digests[ws.appendingPathComponent($0).path] ?? "?") })
    }

    /// Row counts of every catalog table.
    func rowCounts(_ ws: URL) throws -> [String: Int] {
        try readCatalog(ws) { db in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            var counts: [String: Int] = [:]
            for table in tables { counts[table] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \"\(table)\"") ?? 0 }
            return counts
        }
    }

    func check(_ c: Case, _ mode: Mode, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixtures = try KillFixtures.shared.get()
        let mount = try mountTmpfs(size: "96m")
        let ws = mount.appendingPathComponent("ws")
        let cp = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["cp", "-a", fixtures.template.path, ws.path])
        XCTAssertEqual(cp.status, 0, cp.stderr)
        let before = try snapshot(ws)
        let rowsBefore = try rowCounts(ws)
        let what: String
        switch mode {
        case .readOnly:
            what = "read-only workspace"
            let ro = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["mount", "-o", "remount,ro", mount.path])
            guard ro.status == 0 else { throw missingPrerequisite("cannot remount a tmpfs read-only: \(ro.stderr)") }
        case .full(let freeKiB):
            what = "full disk (\(freeKiB) KiB free)"
            try fill(mount, leavingKiB: freeKiB)
        }
        let started = Date()
        defer { print(String(format: "disk test %@ %@: %.1f s", c.tool, "\(mode)", Date().timeIntervalSince(started))) }
        let run = try runProcess(try TestPaths.executable(c.tool),
                                 (c.subcommand.map { [$0] } ?? []) + ["--workspace", ws.path, "-q"] + c.arguments(ws), timeout: 600)
        if case .readOnly = mode { _ = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["mount", "-o", "remount,rw", mount.path]) }
        let label = "\(c.tool) on a \(what)"

        // One clear error line naming a file of the workspace, exit 1.
        XCTAssertEqual(run.status, 1, "\(label): exit \(run.status)\n\(run.stderr)", file: file, line: line)
        let errors = run.stderr.split(separator: "\n").filter { $0.contains("error:") }
        XCTAssertEqual(errors.count, 1, "\(label): one error line expected:\n\(run.stderr)", file: file, line: line)
        if let error = errors.first {
            let tool = c.tool + (c.subcommand.map { " " + $0 } ?? "")
            XCTAssertTrue(error.hasPrefix("\(tool): error: \(mount.path)") || error.hasPrefix("\(c.tool): error: \(mount.path)"),
                          "\(label): the error should start by naming the file in the workspace: \(error)", file: file, line: line)
            let problem = error.lowercased()
            switch mode {
            case .readOnly: XCTAssertTrue(["read-only", "readonly", "read only"].contains { problem.contains($0) }, "\(label): \(error)", file: file, line: line)
            case .full: XCTAssertTrue(problem.contains("disk full") || problem.contains("no space"), "\(label): \(error)", file: file, line: line)
            }
        }

        // Nothing already written damaged.
        if case .full = mode { try? FileManager.default.removeItem(at: mount.appendingPathComponent("filler")) }
        let after = try snapshot(ws)
        let damaged = before.keys.filter { after[$0] != before[$0] }.sorted()
        XCTAssertEqual(damaged, [], "\(label): files written before changed or vanished", file: file, line: line)
        XCTAssertEqual(temporaryFiles(in: ws), [], "\(label): temporary files left", file: file, line: line)
        for name in try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("Manifests").path) where name.hasSuffix(".json") {
            let url = ws.appendingPathComponent("Manifests").appendingPathComponent(name)
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(contentsOf: url)), "\(label): \(name) no longer parses", file: file, line: line)
        }
        let integrity = try readCatalog(ws) { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        XCTAssertEqual(integrity, "ok", "\(label): catalog", file: file, line: line)
        let rowsAfter = try rowCounts(ws)
        for (table, count) in rowsBefore where (rowsAfter[table] ?? 0) < count {
            XCTFail("\(label): catalog table \(table) lost rows: \(count) → \(rowsAfter[table] ?? 0)", file: file, line: line)
        }
    }

    /// Fills the tmpfs at `mount` with a file `filler` until it is full, then gives back `leavingKiB`.
    func fill(_ mount: URL, leavingKiB: Int) throws {
        let path = mount.appendingPathComponent("filler").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TestFailure("cannot create \(path)") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)
        var size = 0
        while true {
            let n = chunk.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            size += n
        }
        XCTAssertEqual(errno, ENOSPC)
        XCTAssertEqual(ftruncate(fd, off_t(max(0, size - leavingKiB * 1024))), 0)
    }
}
