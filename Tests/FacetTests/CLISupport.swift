import FacetCore
import Foundation
import FrameExtraction
import GRDB
import Manifest
import XCTest

/// One finished `fetch-frames` run.
struct CLIRun {
    let result: ProcessResult
    /// The `--json` report, when stdout held one.
    let report: FrameExtractionReport?

    var status: Int32 { result.status }
    var stderr: String { result.stderr }

    /// The report, failing the test when there is none.
    func requireReport(file: StaticString = #filePath, line: UInt = #line) throws -> FrameExtractionReport {
        try XCTUnwrap(report, "no JSON report on stdout; exit \(status); stderr:\n\(stderr)", file: file, line: line)
    }

    /// The manifest the run wrote.
    func manifest(file: StaticString = #filePath, line: UInt = #line) throws -> (URL, FramesManifest) {
        let path = try XCTUnwrap(try requireReport(file: file, line: line).manifest, "no manifest written", file: file, line: line)
        let url = URL(fileURLWithPath: path)
        return (url, try ManifestIO.read(FramesManifest.self, from: url))
    }
}

extension XCTestCase {
    /// Runs the built `fetch-frames` with `--workspace <workspace> --json -q` before `arguments`.
    func fetchFrames(_ arguments: [String], workspace: URL, timeout: TimeInterval = 180) throws -> CLIRun {
        let binary = try TestPaths.executable("fetch-frames")
        let result = try runProcess(binary, ["--workspace", workspace.path, "--json", "-q"] + arguments, timeout: timeout)
        let report = try? JSONDecoder().decode(FrameExtractionReport.self, from: result.stdoutData)
        return CLIRun(result: result, report: report)
    }

    /// Asserts a run's exit code, that stderr mentions every one of `mentions`, and (for failures) that
    /// stderr has the `fetch-frames: error:` line.
    func assertRun(_ run: CLIRun, exits status: Int32, mentioning mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, status, "stderr:\n\(run.stderr)", file: file, line: line)
        for text in mentions {
            XCTAssertTrue(run.stderr.contains(text), "stderr should mention '\(text)':\n\(run.stderr)", file: file, line: line)
        }
    }

    /// Number of rows in the workspace catalog's `frames` table (read-only connection).
    func catalogFrameRows(_ workspace: URL) throws -> Int {
        try readCatalog(workspace) { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM frames") ?? 0 }
    }

    func readCatalog<T>(_ workspace: URL, _ body: (Database) throws -> T) throws -> T {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: workspace.appendingPathComponent("catalog.sqlite").path, configuration: config)
        return try queue.read(body)
    }

    /// Copies `source` to `folder/name`.
    @discardableResult
    func copy(_ source: URL, to folder: URL, as name: String? = nil) throws -> URL {
        let destination = folder.appendingPathComponent(name ?? source.lastPathComponent)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source, to: destination)
        return destination
    }

    /// Checks every manifest item's file exists and has the recorded SHA-256 (hashed by `sha256sum`).
    func assertItemFilesIntact(_ manifest: FramesManifest, at url: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let files = manifest.items.map { ManifestIO.resolve($0.path, relativeToManifest: url) }
        for f in files where !FileManager.default.fileExists(atPath: f.path) {
            XCTFail("missing frame file \(f.path)", file: file, line: line)
            return
        }
        let actual = try sha256sum(files)
        var mismatches = 0
        for (item, f) in zip(manifest.items, files) where actual[f.path] != item.sha256 {
            mismatches += 1
            if mismatches <= 3 { XCTFail("\(f.path): sha256 \(actual[f.path] ?? "?") != recorded \(item.sha256)", file: file, line: line) }
        }
        XCTAssertEqual(mismatches, 0, "files whose content differs from the manifest", file: file, line: line)
    }
}
