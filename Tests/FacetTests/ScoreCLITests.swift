import Catalog
import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Scoring
import Watermark
import XCTest

/// `score` run as a built binary: bad input with its documented exit codes, gates, compare's outputs, and the
/// HTML reports opened in headless Chromium.
final class ScoreCLITests: XCTestCase {
    func score(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(try TestPaths.executable("score"), arguments, timeout: 300)
    }

    /// An image run over obama.jpg: the output is the photo itself, or a hard-edged brighter paste of its face.
    func imageRun(_ dir: URL, name: String, swapped: Bool = true, paste: Bool = false, decoder: String = "Nobody Enrolled") throws -> URL {
        let photo = try ImageDecoder.decode(fileAt: TestPaths.image("obama.jpg"))
        guard let face = try SwapFixture.analyseImage(photo), let alignment = FaceAlignment(mesh: face.mesh, size: 256) else {
            throw XCTSkip("no face in obama.jpg")
        }
        let encoder = try ImageEncoder(format: .png)
        let source = dir.appendingPathComponent("source.png")
        if !FileManager.default.fileExists(atPath: source.path) { try encoder.encode(photo).write(to: source) }
        var output = source
        if paste {
            var crop = alignment.crop(image: photo)
            for k in crop.pixels.indices { crop.pixels[k] = UInt8(min(255, Int(crop.pixels[k]) + 45)) }
            let flat = face.mesh.map { SIMD2($0.x, $0.y) }
            output = dir.appendingPathComponent("\(name)-out.png")
            try encoder.encode(alignment.warpBack(crop: crop, into: photo, mask: FaceMask(landmarks: flat, alignment: alignment))).write(to: output)
        }
        let manifest = dir.appendingPathComponent("\(name).json")
        let frame = SwapFrame(index: 0, pts: 0, seconds: 0, damaged: false,
                              faces: [SwapFixture.swapFace(face, track: 0, swapped: swapped, identity: swapped ? "Barack Obama" : nil)])
        try SwapFixture.write(manifest, model: SwapFixture.model(source: "Barack Obama", decoder: decoder), target: "Barack Obama", outputs: [
            try SwapFixture.output(source: source, output: output, manifest: manifest, kind: "image", width: photo.width, height: photo.height,
                                   fps: nil, hasAudio: false, frames: [frame])])
        return manifest
    }

    func testUnknownManifestVersionExits65() throws {
        let dir = try makeTemporaryDirectory()
        let manifest = try imageRun(dir, name: "run")
        var json = try String(contentsOf: manifest, encoding: .utf8)
        json = json.replacingOccurrences(of: "\"version\" : \"1.0\"", with: "\"version\" : \"7.0\"")
        try json.write(to: manifest, atomically: true, encoding: .utf8)
        let result = try score(["run", "--workspace", dir.path, manifest.path])
        XCTAssertEqual(result.status, 65, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("score: error: \(manifest.path): manifest version 7.0"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1)
    }

    func testMissingOutputOrSourceExits66() throws {
        let dir = try makeTemporaryDirectory()
        let manifest = try imageRun(dir, name: "run", paste: true)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("run-out.png"))
        var result = try score(["run", "--workspace", dir.path, manifest.path])
        XCTAssertEqual(result.status, 66, result.stderr)
        XCTAssertTrue(result.stderr.contains("the output \(dir.appendingPathComponent("run-out.png").path) is missing"), result.stderr)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("source.png"))
        result = try score(["run", "--workspace", dir.path, manifest.path])
        XCTAssertEqual(result.status, 66, result.stderr)
        XCTAssertTrue(result.stderr.contains("the source"), result.stderr)
        result = try score(["run", "--workspace", dir.path, dir.appendingPathComponent("nothing.json").path])
        XCTAssertEqual(result.status, 66, result.stderr)
    }

    /// A model whose identities are not enrolled and a run with no swapped face: both scored, each with a warning
    /// naming the file; the report says so; a gate on a metric that could not be measured fails with exit 4.
    func testNotEnrolledAndZeroSwappedAreScoredWithWarnings() throws {
        let dir = try makeTemporaryDirectory()
        let notEnrolled = try imageRun(dir, name: "not-enrolled")
        var result = try score(["run", "--workspace", dir.path, "--json", notEnrolled.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("warning: \(notEnrolled.path): the decoder's identity 'Nobody Enrolled' is not enrolled"), result.stderr)
        XCTAssertTrue(result.stdout.contains("\"decoderEnrolled\" : false"))
        result = try score(["run", "--workspace", dir.path, "--fail-if", "id_retrieval<0.9", notEnrolled.path])
        XCTAssertEqual(result.status, 4, result.stderr)
        XCTAssertTrue(result.stderr.contains("gate failed: not-enrolled: id_retrieval<0.9 (value not measured)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("(cached)"), "the second run reuses the first's result: \(result.stderr)")

        let none = try imageRun(dir, name: "none-swapped", swapped: false)
        result = try score(["run", "--workspace", dir.path, none.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("warning: \(none.path): no face was swapped"), result.stderr)
        let report = try String(contentsOf: dir.appendingPathComponent("Scores/none-swapped/report.html"), encoding: .utf8)
        XCTAssertTrue(report.contains("No face was swapped in this run"))
        XCTAssertThrowsError(try Gate(parsing: "nonsense"))
        result = try score(["run", "--workspace", dir.path, "--fail-if", "nonsense", none.path])
        XCTAssertEqual(result.status, 64, result.stderr)
    }

    /// A cached result whose catalog row is gone (a run killed between the catalog and `score.json` in an earlier
    /// build, a fresh catalog, rows removed by hand) is stored again by the cache hit, with its faces, once.
    func testCachedResultRestoresItsCatalogRow() throws {
        let dir = try makeTemporaryDirectory()
        let manifest = try imageRun(dir, name: "run", paste: true)
        let catalogURL = dir.appendingPathComponent("catalog.sqlite")
        func counts() throws -> [Int] {
            try Catalog(url: catalogURL).read { db in
                try ["score_runs", "face_scores"].map { try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($0)") ?? -1 }
            }
        }
        var result = try score(["run", "--workspace", dir.path, manifest.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let stored = try counts()
        XCTAssertEqual(stored, [1, 1])
        try Catalog(url: catalogURL).write { db in try db.execute(sql: "DELETE FROM score_runs") }
        XCTAssertEqual(try counts(), [0, 0])
        result = try score(["run", "--workspace", dir.path, manifest.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("(cached)"), result.stderr)
        XCTAssertEqual(try counts(), stored)
        result = try score(["run", "--workspace", dir.path, manifest.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try counts(), stored, "a cache hit with its row present adds nothing")
    }

    /// Two runs compared: text, CSV and JSON tables with the best run marked; both HTML reports render in
    /// headless Chromium (a screenshot that is neither blank nor one colour).
    func testCompareAndReportsRenderInChromium() throws {
        let dir = try makeTemporaryDirectory()
        let catalog = try Catalog(url: dir.appendingPathComponent("catalog.sqlite"))
        try SwapFixture.enroll("Barack Obama", images: [TestPaths.image("obama.jpg")], catalog: catalog)
        try SwapFixture.enroll("Tony Blair", images: [SwapFixture.lfw("Tony_Blair", 1)], catalog: catalog)
        let same = try imageRun(dir, name: "same", decoder: "Barack Obama")
        let pasted = try imageRun(dir, name: "pasted", paste: true, decoder: "Barack Obama")
        var result = try score(["run", "--workspace", dir.path, same.path, pasted.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        try validate(dir.appendingPathComponent("Scores/pasted/score.json"), schema: "score.schema.json")
        result = try score(["compare", "--workspace", dir.path, "--csv", dir.appendingPathComponent("Scores/same").path,
                            dir.appendingPathComponent("Scores/pasted/score.json").path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let seamRow = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("seam,mean,") })
        XCTAssertTrue(seamRow.hasSuffix(",same"), String(seamRow))
        result = try score(["compare", "--workspace", dir.path, "--json", "--fail-if", "seam>1.2", same.path, pasted.path])
        XCTAssertEqual(result.status, 4, result.stderr)
        let table = try JSONDecoder().decode(ComparisonTable.self, from: result.stdoutData)
        XCTAssertEqual(table.runs, ["same", "pasted"])
        XCTAssertEqual(table.failures.map(\.run), ["pasted"])
        XCTAssertEqual(table.rows.first { $0.metric == "id_retrieval" && $0.statistic == "mean" }?.values.first ?? nil, 1)
        let rows = try catalog.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM score_runs") ?? 0 }
        XCTAssertEqual(rows, 2)

        for page in [dir.appendingPathComponent("Scores/pasted/report.html"), dir.appendingPathComponent("Scores/compare/compare.html")] {
            let shot = try screenshot(page, dir: dir)
            let image = try ImageDecoder.decode(fileAt: shot)
            var nonWhite = 0, colours = Set<UInt32>()
            for k in stride(from: 0, to: image.pixels.count, by: 3) {
                let r = image.pixels[k], g = image.pixels[k + 1], b = image.pixels[k + 2]
                if min(r, g, b) < 235 { nonWhite += 1 }
                if colours.count < 5000 { colours.insert(UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)) }
            }
            let share = Double(nonWhite) / Double(image.width * image.height)
            XCTAssertGreaterThan(share, 0.03, "\(page.lastPathComponent) looks blank")
            XCTAssertGreaterThan(colours.count, 50, "\(page.lastPathComponent) has too few colours to hold plots")
        }
    }

    /// `score provenance`: a watermarked clip is found (exit 0), the unmarked clip is not (exit 3), a missing file is 66.
    func testProvenanceFindsTheWatermark() throws {
        let dir = try makeTemporaryDirectory()
        let clip = TestPaths.video("d18.mp4")
        try requireSharedMedia(clip)
        let markedURL = dir.appendingPathComponent("marked.mp4"), plainURL = dir.appendingPathComponent("plain.mp4")
        let embedder = WatermarkEmbedder(payload: WatermarkPayload(0x5eed1e55))
        for (url, mark) in [(markedURL, true), (plainURL, false)] {
            let reader = try VideoReader(url: clip)
            let converter = FrameConverter()
            var writer: VideoWriter?
            var count = 0
            while count < 30, let frame = try reader.nextFrame() {
                var image = try converter.rgb(frame)
                if mark { embedder.embed(into: &image) }
                if writer == nil { writer = try VideoWriter(url: url, options: VideoWriterOptions(width: image.width, height: image.height, crf: 18)) }
                try writer?.write(image)
                count += 1
            }
            try writer?.finish()
        }
        var result = try score(["provenance", markedURL.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("\(markedURL.path): watermark found (payload 5eed1e55, "), result.stdout)
        result = try score(["provenance", "--json", markedURL.path, plainURL.path])
        XCTAssertEqual(result.status, 3, result.stderr)
        let reports = try JSONDecoder().decode([ProvenanceReport].self, from: result.stdoutData)
        XCTAssertEqual(reports.map(\.detected), [true, false])
        XCTAssertEqual(reports.first?.payload?.description, "5eed1e55")
        // Read among the first words: a wrong payload would need a 2⁻²⁴ CRC coincidence among a few checked.
        XCTAssertLessThan(reports.first?.payloadErrorBound ?? 1, 1e-4)
        XCTAssertNil(reports.last?.payloadErrorBound)
        result = try score(["provenance", dir.appendingPathComponent("none.png").path])
        XCTAssertEqual(result.status, 66, result.stderr)
    }

    /// A headless Chromium screenshot (1280×2400) of `page`.
    func screenshot(_ page: URL, dir: URL) throws -> URL {
        let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        guard let browser = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("chromium is not installed (make setup installs it)") }
            throw XCTSkip("chromium is not installed; `make setup` installs it")
        }
        let shot = dir.appendingPathComponent(page.deletingPathExtension().lastPathComponent + "-screenshot.png")
        let result = try runProcess(URL(fileURLWithPath: browser), [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,2400",
            "--user-data-dir=\(dir.appendingPathComponent("chromium-profile").path)", "--screenshot=\(shot.path)", page.absoluteString,
        ], timeout: 120)
        XCTAssertTrue(FileManager.default.fileExists(atPath: shot.path), "no screenshot: \(result.stderr)")
        if let keep = ProcessInfo.processInfo.environment["FACET_KEEP_SCREENSHOTS"] {
            try? FileManager.default.copyItem(at: shot, to: URL(fileURLWithPath: keep).appendingPathComponent(shot.lastPathComponent))
        }
        return shot
    }
}
