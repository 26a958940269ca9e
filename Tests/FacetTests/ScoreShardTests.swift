import Catalog
import FacetCore
import Foundation
import Manifest
import Scoring
import XCTest

/// `score run --shard K/N` through the built binary: the last shard to finish merges every shard's result into
/// the whole run's folder, and that merged run equals scoring the run whole.
final class ScoreShardTests: XCTestCase {
    func score(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(try TestPaths.executable("score"), arguments, timeout: 300)
    }

    /// The "Numbers" table of a report (the aggregates as the report prints them).
    func numbers(_ report: URL) throws -> String {
        let html = try String(contentsOf: report, encoding: .utf8)
        guard let start = html.range(of: "<h2>Numbers</h2>"), let end = html.range(of: "<h2>Outputs</h2>") else { return "" }
        return String(html[start.lowerBound..<end.lowerBound])
    }

    /// The identity-transform run of two_people_stage.mp4's first 100 frames (Miranda's two tracks fall in
    /// different shards of 2) scored whole, then as shard 1/2 and 2/2: the second shard merges them. The merged
    /// run has exactly the whole run's faces, tracks, aggregates (counts, means, medians, p95), report numbers and
    /// cache key; in the catalog it replaces the shards' rows and the whole run's (same key); re-running a shard
    /// or the whole run afterwards is a cache hit.
    func testTwoShardsMergeIntoTheWholeRun() throws {
        let dir = try makeTemporaryDirectory()
        let catalog = try SwapFixture.gallery(at: dir.appendingPathComponent("catalog.sqlite"))
        let clip = TestPaths.repo.appendingPathComponent("Datasets/samples/two_people_stage.mp4")
        let manifest = dir.appendingPathComponent("swap-identity.json")
        let written = try score(["identity-run", "--workspace", dir.path, "--person", "Lin-Manuel Miranda", "--frames", "100",
                                 "--output", manifest.path, clip.path])
        XCTAssertEqual(written.status, 0, written.stderr)
        let whole = try scoreWithCLI(manifest, workspace: dir, name: "whole")

        let split = dir.appendingPathComponent("Scores/split")
        var result = try score(["run", "--workspace", dir.path, "--output", split.path, "--shard", "1/2", manifest.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("when shard 2/2 is done too"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: split.appendingPathComponent("score.json").path), "nothing merged yet")
        result = try score(["run", "--workspace", dir.path, "--output", split.path, "--shard", "2/2", "--json", manifest.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("all 2 shards done; merged the whole run into \(split.path)/score.json"), result.stderr)
        struct Summary: Decodable { var documents: [ScoreDocument]; var merged: [String]; var mergedDocuments: [ScoreDocument] }
        let summary = try JSONDecoder().decode(Summary.self, from: result.stdoutData)
        let merged = try XCTUnwrap(summary.mergedDocuments.first, "no merged run")
        XCTAssertEqual(summary.merged, [split.appendingPathComponent("score.json").path])
        let shards = [try ManifestIO.read(ScoreDocument.self, from: dir.appendingPathComponent("Scores/split-shard-1-of-2/score.json")),
                      summary.documents[0]]
        XCTAssertEqual(shards.map(\.shard), ["1/2", "2/2"])
        for shard in shards {
            XCTAssertGreaterThan(shard.outputs[0].faces.filter(\.swapped).count, 0, "each shard scores swapped faces")
            XCTAssertLessThan(shard.outputs[0].faces.count, whole.outputs[0].faces.count, "each shard scores part of the faces")
        }
        XCTAssertEqual(shards.reduce(0) { $0 + $1.outputs[0].faces.count }, whole.outputs[0].faces.count)

        XCTAssertEqual(merged.aggregates, whole.aggregates, "merged aggregates equal the whole run's exactly")
        XCTAssertEqual(merged.outputs[0].faces, whole.outputs[0].faces)
        XCTAssertEqual(merged.outputs[0].tracks, whole.outputs[0].tracks)
        XCTAssertEqual(merged.worst.map(\.frame), whole.worst.map(\.frame))
        XCTAssertEqual(merged.cacheKey, whole.cacheKey)
        XCTAssertEqual(merged.shard, "1/1")
        XCTAssertEqual(merged.warnings, whole.warnings)
        XCTAssertEqual(try ManifestIO.read(ScoreDocument.self, from: split.appendingPathComponent("score.json")), merged)
        XCTAssertEqual(try numbers(split.appendingPathComponent("report.html")),
                       try numbers(dir.appendingPathComponent("Scores/whole/report.html")))
        XCTAssertFalse(try numbers(split.appendingPathComponent("report.html")).isEmpty)
        for strip in merged.worst { XCTAssertTrue(FileManager.default.fileExists(atPath: split.appendingPathComponent(strip.strip).path)) }

        // The catalog: one row for the run (the merged one replaced the whole run's row, same key), none for the shards.
        let runs = try catalog.scoreRuns()
        XCTAssertEqual(runs.map(\.shard), ["1/1"])
        let row = try XCTUnwrap(runs.first)
        XCTAssertEqual(row.cacheKey, whole.cacheKey)
        XCTAssertEqual(try JSONDecoder().decode([String: MetricSummary].self, from: Data(row.aggregates.utf8)), whole.aggregates)
        XCTAssertEqual(row.idRetrieval, whole.aggregates["id_retrieval"]?.mean)
        XCTAssertEqual(row.faces, whole.outputs[0].faces.count)
        let faceRows = try catalog.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_scores") ?? 0 }
        XCTAssertEqual(faceRows, whole.outputs[0].faces.count, "each face once")

        // Unchanged: a shard again, and the whole run over the merged folder, are cache hits.
        result = try score(["run", "--workspace", dir.path, "--output", split.path, "--shard", "1/2", manifest.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("the whole run is cached in"), result.stderr)
        result = try score(["run", "--workspace", dir.path, "--output", split.path, manifest.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("(cached)"), result.stderr)
        XCTAssertEqual(try catalog.scoreRuns().count, 1)
    }
}
