import Catalog
import Faces
import FacetCore
import Foundation
import Media
import Scoring
import XCTest

/// `score`'s arithmetic against published or hand-computed answers: CIEDE2000, summaries, gates, comparison.
final class ScoringUnitTests: XCTestCase {
    /// Sharma, Wu & Dalal (2005), Table 1: all 34 pairs (L1 a1 b1, L2 a2 b2, ΔE00), to the table's 4 decimals.
    static let sharma: [(SIMD3<Double>, SIMD3<Double>, Double)] = [
        (SIMD3(50, 2.6772, -79.7751), SIMD3(50, 0, -82.7485), 2.0425), (SIMD3(50, 3.1571, -77.2803), SIMD3(50, 0, -82.7485), 2.8615),
        (SIMD3(50, 2.8361, -74.0200), SIMD3(50, 0, -82.7485), 3.4412), (SIMD3(50, -1.3802, -84.2814), SIMD3(50, 0, -82.7485), 1.0000),
        (SIMD3(50, -1.1848, -84.8006), SIMD3(50, 0, -82.7485), 1.0000), (SIMD3(50, -0.9009, -85.5211), SIMD3(50, 0, -82.7485), 1.0000),
        (SIMD3(50, 0, 0), SIMD3(50, -1, 2), 2.3669), (SIMD3(50, -1, 2), SIMD3(50, 0, 0), 2.3669),
        (SIMD3(50, 2.49, -0.001), SIMD3(50, -2.49, 0.0009), 7.1792), (SIMD3(50, 2.49, -0.001), SIMD3(50, -2.49, 0.001), 7.1792),
        (SIMD3(50, 2.49, -0.001), SIMD3(50, -2.49, 0.0011), 7.2195), (SIMD3(50, 2.49, -0.001), SIMD3(50, -2.49, 0.0012), 7.2195),
        (SIMD3(50, -0.001, 2.49), SIMD3(50, 0.0009, -2.49), 4.8045), (SIMD3(50, -0.001, 2.49), SIMD3(50, 0.001, -2.49), 4.8045),
        (SIMD3(50, -0.001, 2.49), SIMD3(50, 0.0011, -2.49), 4.7461), (SIMD3(50, 2.5, 0), SIMD3(50, 0, -2.5), 4.3065),
        (SIMD3(50, 2.5, 0), SIMD3(73, 25, -18), 27.1492), (SIMD3(50, 2.5, 0), SIMD3(61, -5, 29), 22.8977),
        (SIMD3(50, 2.5, 0), SIMD3(56, -27, -3), 31.9030), (SIMD3(50, 2.5, 0), SIMD3(58, 24, 15), 19.4535),
        (SIMD3(50, 2.5, 0), SIMD3(50, 3.1736, 0.5854), 1.0000), (SIMD3(50, 2.5, 0), SIMD3(50, 3.2972, 0), 1.0000),
        (SIMD3(50, 2.5, 0), SIMD3(50, 1.8634, 0.5757), 1.0000), (SIMD3(50, 2.5, 0), SIMD3(50, 3.2592, 0.3350), 1.0000),
        (SIMD3(60.2574, -34.0099, 36.2677), SIMD3(60.4626, -34.1751, 39.4387), 1.2644),
        (SIMD3(63.0109, -31.0961, -5.8663), SIMD3(62.8187, -29.7946, -4.0864), 1.2630),
        (SIMD3(61.2901, 3.7196, -5.3901), SIMD3(61.4292, 2.2480, -4.9620), 1.8731),
        (SIMD3(35.0831, -44.1164, 3.7933), SIMD3(35.0232, -40.0716, 1.5901), 1.8645),
        (SIMD3(22.7233, 20.0904, -46.6940), SIMD3(23.0331, 14.9730, -42.5619), 2.0373),
        (SIMD3(36.4612, 47.8580, 18.3852), SIMD3(36.2715, 50.5065, 21.2231), 1.4146),
        (SIMD3(90.8027, -2.0831, 1.4410), SIMD3(91.1528, -1.6435, 0.0447), 1.4441),
        (SIMD3(90.9257, -0.5406, -0.9208), SIMD3(88.6381, -0.8985, -0.7239), 1.5381),
        (SIMD3(6.7747, -0.2908, -2.4247), SIMD3(5.8714, -0.0985, -2.2286), 0.6377),
        (SIMD3(2.0776, 0.0795, -1.1350), SIMD3(0.9033, -0.0636, -0.5514), 0.9082),
    ]

    func testCIEDE2000MatchesSharmaTable() {
        XCTAssertEqual(Self.sharma.count, 34)
        for (i, (a, b, expected)) in Self.sharma.enumerated() {
            XCTAssertEqual(LabColour.ciede2000(a, b), expected, accuracy: 5e-5, "pair \(i + 1)")
            XCTAssertEqual(LabColour.ciede2000(b, a), expected, accuracy: 5e-5, "pair \(i + 1) swapped")
        }
    }

    func testSRGBToLabKnownColours() {
        let white = LabColour.exactLab(red: 255, green: 255, blue: 255)
        XCTAssertEqual(white.x, 100, accuracy: 0.01); XCTAssertEqual(white.y, 0, accuracy: 0.01); XCTAssertEqual(white.z, 0, accuracy: 0.01)
        let red = LabColour.exactLab(red: 255, green: 0, blue: 0)  // CIE L*a*b* of sRGB red, D65: 53.24, 80.09, 67.20
        XCTAssertEqual(red.x, 53.24, accuracy: 0.02); XCTAssertEqual(red.y, 80.09, accuracy: 0.05); XCTAssertEqual(red.z, 67.20, accuracy: 0.05)
    }

    /// The table path of `LabColour` (Float, lookup tables; swap's colour matching, Augment) stays within
    /// `tableTolerance` of the exact path (Double; score's colour metric) on every 8-bit grey and on 8-bit colours
    /// every 5th level each way (52³), and converts back to the colour it came from.
    func testLabTablePathStaysNearTheExactPath() {
        var worst = 0.0, worstDE = 0.0
        func check(_ r: Int, _ g: Int, _ b: Int) {
            let exact = LabColour.exactLab(red: UInt8(r), green: UInt8(g), blue: UInt8(b))
            let table = LabColour.lab(red: Float(r) / 255, green: Float(g) / 255, blue: Float(b) / 255)
            let t = SIMD3(Double(table.l), Double(table.a), Double(table.b))
            let d = exact - t
            worst = max(worst, abs(d.x), abs(d.y), abs(d.z))
            worstDE = max(worstDE, LabColour.ciede2000(exact, t))
        }
        for v in 0..<256 { check(v, v, v) }
        for r in stride(from: 0, through: 255, by: 5) { for g in stride(from: 0, through: 255, by: 5) { for b in stride(from: 0, through: 255, by: 5) { check(r, g, b) } } }
        print("LabColour table vs exact: largest L*a*b* difference \(worst), largest ΔE00 \(worstDE)")
        XCTAssertLessThanOrEqual(worst, LabColour.tableTolerance)
        XCTAssertLessThanOrEqual(worstDE, LabColour.tableTolerance)
        // Both paths share the white point (the sRGB matrix's row sums), so white is neutral to the matrix's 7 digits.
        let white = LabColour.exactLab(encodedRed: 1, green: 1, blue: 1)
        XCTAssertEqual(white.x, 100, accuracy: 1e-4); XCTAssertEqual(white.y, 0, accuracy: 1e-4); XCTAssertEqual(white.z, 0, accuracy: 1e-4)
        let tableWhite = LabColour.lab(red: 1, green: 1, blue: 1)
        XCTAssertEqual(Double(tableWhite.a), 0, accuracy: 1e-3); XCTAssertEqual(Double(tableWhite.b), 0, accuracy: 1e-3)
        XCTAssertEqual(LabColour.exactLab(encodedRed: 0.2, green: 0.6, blue: 1), LabColour.exactLab(red: 51, green: 153, blue: 255))
    }

    func testSummaryQuantiles() throws {
        let s = try XCTUnwrap(MetricSummary((1...100).map(Double.init) + [.nan]))
        XCTAssertEqual(s.count, 100); XCTAssertEqual(s.mean, 50.5); XCTAssertEqual(s.median, 50.5)
        XCTAssertEqual(s.p95, 95.05, accuracy: 1e-9); XCTAssertEqual(s.max, 100)
        XCTAssertNil(MetricSummary([]))
    }

    func testGatesParseAndFail() throws {
        let gate = try Gate(parsing: "id_retrieval < 0.9")
        XCTAssertTrue(gate.check(["id_retrieval": try XCTUnwrap(MetricSummary([0, 1, 1, 1]))]).failed)
        XCTAssertFalse(gate.check(["id_retrieval": try XCTUnwrap(MetricSummary([1, 1]))]).failed)
        XCTAssertTrue(gate.check([:]).failed, "a metric that was not measured fails its gate")
        let p95 = try Gate(parsing: "pose_error.p95>=10")
        XCTAssertEqual(p95.statistic, "p95")
        XCTAssertTrue(p95.check(["pose_error": try XCTUnwrap(MetricSummary([1, 2, 30]))]).failed)
        XCTAssertThrowsError(try Gate(parsing: "bogus<1"))
        XCTAssertThrowsError(try Gate(parsing: "seam=1"))
        XCTAssertThrowsError(try Gate(parsing: "seam.p42<1"))
    }

    /// The seam measure on a synthetic step: a flat image has no ratio, a step along the outline a large one,
    /// and a ramp across it about the same as nothing at all.
    func testSeamRatioOnSyntheticEdges() throws {
        let size = 120
        let square: [SIMD2<Double>] = [SIMD2(30, 30), SIMD2(90, 30), SIMD2(90, 90), SIMD2(30, 90)]
        func image(_ value: (Int, Int) -> Double) -> RGBImage {
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            var random = SeededRandom(seed: 7)
            for y in 0..<size { for x in 0..<size {
                let v = UInt8(max(0, min(255, value(x, y) + Double.random(in: -6...6, using: &random))))
                for c in 0..<3 { pixels[(y * size + x) * 3 + c] = v }
            } }
            return RGBImage(width: size, height: size, pixels: pixels)
        }
        let noise = image { _, _ in 120 }
        let hard = image { x, y in (30..<90).contains(x) && (30..<90).contains(y) ? 170 : 120 }
        let inside = { (x: Int, y: Int) -> Double in
            let d = Double(min(x - 30, 89 - x, y - 30, 89 - y))
            return 120 + 50 * max(0, min(1, (d + 12) / 24))
        }
        let feathered = image(inside)
        let rNoise = try XCTUnwrap(PixelMetrics.seamRatio(noise, polygon: square))
        let rHard = try XCTUnwrap(PixelMetrics.seamRatio(hard, polygon: square))
        let rSoft = try XCTUnwrap(PixelMetrics.seamRatio(feathered, polygon: square))
        XCTAssertEqual(rNoise, 1, accuracy: 0.1)
        XCTAssertGreaterThan(rHard, 3)
        XCTAssertLessThan(rSoft, 1.5)
    }

    func testComparisonMarksBestPerRow() throws {
        func document(_ name: String, retrieval: [Double], pose: [Double]) throws -> ScoreDocument {
            var d = ScoreDocument(schema: ScoreDocument.schemaName, version: ScoreDocument.currentVersion, tool: .init(name: "score", parameters: [:]),
                                  createdAt: "", manifest: "/runs/\(name).json", manifestSha256: "", cacheKey: "", shard: "1/1",
                                  model: SwapFixture.model(source: "a", decoder: "b"), recognizer: "", gallery: [], decoderEnrolled: true,
                                  sourceEnrolled: true, jitterFaceSize: 256, outputs: [], aggregates: [:], warnings: [], worst: [], seconds: 0,
                                  facesPerSecond: 0)
            d.aggregates = ["id_retrieval": try XCTUnwrap(MetricSummary(retrieval)), "pose_error": try XCTUnwrap(MetricSummary(pose))]
            return d
        }
        let table = ComparisonTable(documents: [try document("a", retrieval: [1, 0], pose: [2, 4]), try document("b", retrieval: [1, 1], pose: [5, 5])],
                                    files: ["a/score.json", "b/score.json"], gates: [try Gate(parsing: "id_retrieval<0.9")])
        let retrieval = try XCTUnwrap(table.rows.first { $0.metric == "id_retrieval" && $0.statistic == "mean" })
        XCTAssertEqual(retrieval.best, 1)
        let pose = try XCTUnwrap(table.rows.first { $0.metric == "pose_error" && $0.statistic == "mean" })
        XCTAssertEqual(pose.best, 0)
        XCTAssertEqual(table.failures.map(\.run), ["a"])
        XCTAssertTrue(table.text().contains("1 *"))
        XCTAssertTrue(table.csv().hasPrefix("metric,statistic,unit,better,a,b,best\n"))
    }

    func testCatalogHasScoreTables() throws {
        let dir = try makeTemporaryDirectory()
        let catalog = try Catalog(url: dir.appendingPathComponent("catalog.sqlite"))
        XCTAssertTrue(try catalog.appliedMigrations().contains("v8-scores"))
        var run = ScoreRunRecord(cacheKey: "k", manifestPath: "m", manifestSha256: "s", modelSha256: "x", modelKind: "lite", sourceIdentity: "a",
                                 decoderIdentity: "b", shard: "1/1", faces: 1, swapped: 1, aggregates: "{}", reportPath: nil, seconds: 1, scoredAt: "t")
        run.idRetrieval = 0.5
        var face = FaceScoreRecord(runId: 0, outputIndex: 0, frame: 3, faceIndex: 0, track: 1, swapped: true)
        face.poseError = 2
        try catalog.storeScores(run: run, faces: [face])
        try catalog.storeScores(run: run, faces: [face])  // the same key replaces
        let counts = try catalog.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM score_runs") ?? 0, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_scores") ?? 0)
        }
        XCTAssertEqual(counts.0, 1); XCTAssertEqual(counts.1, 1)
    }
}
