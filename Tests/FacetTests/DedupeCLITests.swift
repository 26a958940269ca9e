import Datasets
import Foundation
import GRDB
import Manifest
import Media
import XCTest

/// `dedupe` through the built binary on real faces: d6.mp4 (dedupe, extremes, determinism, schemas), an audit
/// against another person's clip, and bad input.
final class DedupeCLITests: XCTestCase {
    /// d6.mp4: near-identical consecutive frames go, the ends of the yaw and pitch ranges stay, every drop is
    /// recorded (catalog and report), and a re-run or a rebuild gives the same bytes.
    func testD6DedupeDropsNearIdenticalFramesAndKeepsExtremePoses() throws {
        try requireSharedMedia(TestPaths.video("d6.mp4"))
        let (facesURL, faces, _) = try DedupeFixtures.d6.get()
        let workspace = try makeTemporaryDirectory()
        let run = try runDedupe(["--identity", "d6-woman", facesURL.path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try run.report()
        let yawRead = faces.items.map(\.pose.yaw), pitchRead = faces.items.map(\.pose.pitch)
        print("d6.mp4: \(report.facesRead) faces read, \(report.kept) kept; dropped \(report.dropped); "
            + String(format: "yaw kept %.1f…%.1f of %.1f…%.1f, pitch kept %.1f…%.1f of %.1f…%.1f", report.yawKept[0], report.yawKept[1],
                     yawRead.min()!, yawRead.max()!, report.pitchKept[0], report.pitchKept[1], pitchRead.min()!, pitchRead.max()!))
        XCTAssertEqual(report.facesRead, faces.items.count)
        XCTAssertLessThan(report.kept, report.facesRead / 3, "most frames of a talking head are near-duplicates")
        XCTAssertGreaterThan(report.kept, 60, "expressions and poses still give many distinct faces")
        XCTAssertGreaterThan(report.dropped["duplicate"] ?? 0, report.facesRead / 2)
        XCTAssertEqual(report.yawKept, [yawRead.min()!, yawRead.max()!], "the extreme yaws are kept")
        XCTAssertEqual(report.pitchKept, [pitchRead.min()!, pitchRead.max()!], "the extreme pitches are kept")
        XCTAssertTrue(report.warnings.contains { $0.contains("fewer than the 300") }, "\(report.warnings)")
        XCTAssertTrue(run.stderr.isEmpty || !run.stderr.contains("error"), run.stderr)

        let manifestURL = URL(fileURLWithPath: report.manifest)
        let dataset = try ManifestIO.read(DatasetManifest.self, from: manifestURL)
        XCTAssertEqual(dataset.items.count, report.kept)
        XCTAssertEqual(dataset.identity, "d6-woman")
        XCTAssertEqual(dataset.datasetVersion, 1)
        // Consecutive frames rarely both survive, and every kept frame differs from its kept neighbours.
        let keptFrames = Set(dataset.items.map(\.frameNumber))
        let consecutive = keptFrames.filter { keptFrames.contains($0 + 1) }.count
        XCTAssertLessThan(consecutive, keptFrames.count / 4, "\(consecutive) kept frames are followed by a kept frame")
        // Every face read is either in the dataset or recorded as dropped, with its reason, in the report and catalog.
        let dedupeReport = try ManifestIO.read(DedupeReportDocument.self, from: URL(fileURLWithPath: report.report))
        XCTAssertEqual(dedupeReport.drops.count + dataset.items.count, faces.items.count)
        XCTAssertTrue(dedupeReport.drops.filter { $0.reason == "duplicate" }.allSatisfy { $0.keptFaceId != nil && $0.detail.contains("hash distance") })
        let (rows, drops) = try readCatalog(workspace) { db in
            (try Int.fetchOne(db, sql: "SELECT faces FROM datasets WHERE identity = 'd6-woman'") ?? -1,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dataset_drops") ?? -1)
        }
        XCTAssertEqual(rows, report.kept)
        XCTAssertEqual(drops, dedupeReport.drops.count)
        try validate(manifestURL, schema: "dataset.schema.json")
        try validate(URL(fileURLWithPath: report.report), schema: "dedupe-report.schema.json")

        // Same inputs: nothing redone, same bytes; after deleting the folder, a rebuild gives the same bytes again.
        let original = try Data(contentsOf: manifestURL)
        let again = try runDedupe(["--identity", "d6-woman", facesURL.path], workspace: workspace)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(try again.report().reused)
        try FileManager.default.removeItem(at: manifestURL.deletingLastPathComponent())
        let rebuilt = try runDedupe(["--identity", "d6-woman", facesURL.path], workspace: workspace)
        XCTAssertEqual(rebuilt.status, 0, rebuilt.stderr)
        XCTAssertFalse(try rebuilt.report().reused)
        XCTAssertEqual(try Data(contentsOf: manifestURL), original, "a rebuild of the same inputs gives the same manifest, byte for byte")
        // Another seed or option is a new version.
        let other = try runDedupe(["--identity", "d6-woman", "--max-pose-gap", "2", facesURL.path], workspace: workspace)
        XCTAssertEqual(try other.report().version, 2)
        XCTAssertGreaterThan(try other.report().kept, report.kept)
        XCTAssertEqual(try runDedupe(["verify", manifestURL.path], workspace: workspace).status, 0)
    }

    /// A dataset of d6's woman audited against d3.mp4 (another woman, turning her head further): the bins d3
    /// uses beyond d6's poses are reported with counts on both sides; one is checked by hand.
    func testAuditAgainstAnotherPersonsClipReportsUncoveredBins() throws {
        try requireSharedMedia(TestPaths.video("d6.mp4"), TestPaths.video("d3.mp4"))
        let (d6URL, _, _) = try DedupeFixtures.d6.get()
        let (d3URL, d3, _) = try DetectFixtures.d3.get()
        let workspace = try makeTemporaryDirectory()
        let build = try runDedupe(["--identity", "d6-woman", d6URL.path], workspace: workspace)
        let manifestURL = URL(fileURLWithPath: try build.report().manifest)
        let dataset = try ManifestIO.read(DatasetManifest.self, from: manifestURL)
        let run = try runDedupe(["audit", manifestURL.path, "--against", d3URL.path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let audit = try run.audit()
        XCTAssertEqual(audit.dataset.faces, dataset.items.count)
        XCTAssertEqual(audit.target?.faces, d3.items.count)
        XCTAssertEqual(audit.integrity?.intact, true)
        XCTAssertFalse(audit.thin.isEmpty)
        for bin in audit.thin {
            XCTAssertLessThan(bin.datasetFaces, audit.thinBelow)
            XCTAssertGreaterThanOrEqual(bin.targetFaces, audit.minTargetFaces)
            XCTAssertEqual(bin.uncovered, bin.datasetFaces == 0)
        }
        // By hand: yaw 10°–20°, pitch −20°–−10°. d6's woman never turns past 10° of yaw; d3's does.
        func inBin(_ pose: PoseItem) -> Bool { pose.yaw >= 10 && pose.yaw < 20 && pose.pitch >= -20 && pose.pitch < -10 }
        let targetCount = d3.items.filter { inBin($0.pose) }.count
        let datasetCount = dataset.items.filter { inBin($0.pose) }.count
        print("audit d6 dataset against d3: bin yaw 10..20 pitch -20..-10: target \(targetCount) faces, dataset \(datasetCount); "
            + "\(audit.thin.count) thin bins: \(audit.thin.map { "\($0.bin) \($0.targetFaces)/\($0.datasetFaces)" })")
        XCTAssertGreaterThanOrEqual(targetCount, 3, "d3 turns into this bin")
        XCTAssertEqual(datasetCount, 0)
        let entry = try XCTUnwrap(audit.thin.first { $0.kind == "pose" && $0.bin == "yaw 10..20 pitch -20..-10" }, "\(audit.thin)")
        XCTAssertEqual(entry.targetFaces, targetCount)
        XCTAssertEqual(entry.datasetFaces, 0)
        XCTAssertTrue(entry.uncovered)
        XCTAssertEqual(entry.targetShare, Double(targetCount) / Double(d3.items.count), accuracy: 1e-12)
        // A cell the dataset covers well is not listed.
        let grid = audit.poseHeatmap
        let wellCovered = (0..<grid.count).flatMap { r in (0..<grid[r].count).map { (r, $0) } }.filter { grid[$0.0][$0.1] >= audit.thinBelow }
        XCTAssertFalse(wellCovered.isEmpty)
        for (r, c) in wellCovered {
            let label = CoverageBins().poseLabel(of: r * grid[r].count + c)
            XCTAssertFalse(audit.thin.contains { $0.bin == label }, label)
        }
        // The files: JSON valid against its schema, PNGs that decode, one HTML page with everything inline.
        let folder = manifestURL.deletingLastPathComponent().appendingPathComponent("audit")
        try validate(folder.appendingPathComponent("audit.json"), schema: "audit.schema.json")
        for png in audit.files where png.hasSuffix(".png") {
            let image = try ImageDecoder.decode(fileAt: folder.appendingPathComponent(png))
            XCTAssertGreaterThan(image.width, 300, png)
        }
        let html = try String(contentsOf: folder.appendingPathComponent("audit.html"), encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1, 4)
        XCTAssertFalse(html.contains("src=\"http"), "no external resources")
        XCTAssertTrue(html.contains("yaw 10..20 pitch -20..-10"))
    }

    /// Above --max-faces, the selection keeps the rarest poses whole; with --reference it follows the target.
    func testSelectionAboveTheCapFollowsTheReference() throws {
        try requireSharedMedia(TestPaths.video("d6.mp4"), TestPaths.video("d3.mp4"))
        let (d6URL, _, _) = try DedupeFixtures.d6.get()
        let (d3URL, _, _) = try DetectFixtures.d3.get()
        let workspace = try makeTemporaryDirectory()
        let even = try runDedupe(["--identity", "even", "--max-faces", "60", "--hard-min", "10", d6URL.path], workspace: workspace)
        let followed = try runDedupe(["--identity", "followed", "--max-faces", "60", "--hard-min", "10", "--reference", d3URL.path,
                                      "--reference-weight", "1", d6URL.path], workspace: workspace)
        XCTAssertEqual(try even.report().kept, 60, even.stderr)
        XCTAssertEqual(try followed.report().kept, 60, followed.stderr)
        XCTAssertGreaterThan(try even.report().dropped["over-cap"] ?? 0, 0)
        let evenReport = try ManifestIO.read(DedupeReportDocument.self, from: URL(fileURLWithPath: try even.report().report))
        let followedReport = try ManifestIO.read(DedupeReportDocument.self, from: URL(fileURLWithPath: try followed.report().report))
        XCTAssertEqual(evenReport.quotas.reduce(0) { $0 + $1.quota }, 60)
        XCTAssertTrue(evenReport.quotas.allSatisfy { $0.referenceShare == nil })
        XCTAssertTrue(followedReport.quotas.allSatisfy { $0.referenceShare != nil })
        // The cell d3 uses most among d6's gets more with the reference than without.
        let top = try XCTUnwrap(followedReport.quotas.max { ($0.referenceShare ?? 0) < ($1.referenceShare ?? 0) })
        let before = try XCTUnwrap(evenReport.quotas.first { $0.cell == top.cell })
        print("selection to 60 faces: cell \(top.cell) (d3 share \(String(format: "%.2f", top.referenceShare ?? 0))): "
            + "\(before.quota) of \(before.available) evenly, \(top.quota) following d3")
        XCTAssertGreaterThan(top.quota, before.quota)
        // Rare poses are kept whole when even.
        for cell in evenReport.quotas where cell.available <= 3 { XCTAssertEqual(cell.quota, cell.available, cell.cell) }
    }

    func testTooFewFacesAreRefusedUnlessForcedAndNothingIsWritten() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"))
        let (d3URL, _, _) = try DetectFixtures.d3.get()
        let workspace = try makeTemporaryDirectory()
        let refused = try runDedupe(["--identity", "d3", "--hard-min", "1000", d3URL.path], workspace: workspace)
        XCTAssertEqual(refused.status, 65)
        XCTAssertTrue(refused.stderr.contains("fewer than the hard minimum 1000") && refused.stderr.contains("--force"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.appendingPathComponent("Datasets/d3").path))
        let forced = try runDedupe(["--identity", "d3", "--hard-min", "1000", "--force", d3URL.path], workspace: workspace)
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(try forced.report().warnings.contains { $0.contains("--force") })
    }

    func testEmptyOrMissingManifestsAreRefusedWithTheirName() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"))
        let (d3URL, d3, _) = try DetectFixtures.d3.get()
        let folder = try makeTemporaryDirectory()
        var empty = d3
        empty.items = []
        let emptyURL = folder.appendingPathComponent("faces-empty.json")
        try ManifestIO.write(empty, to: emptyURL)
        let run = try runDedupe(["--identity", "x", d3URL.path, emptyURL.path], workspace: folder)
        XCTAssertEqual(run.status, 65)
        XCTAssertTrue(run.stderr.contains("faces-empty.json: the faces manifest holds no face"), run.stderr)
        let missing = try runDedupe(["--identity", "x", folder.appendingPathComponent("nope.json").path], workspace: folder)
        XCTAssertEqual(missing.status, 66)
        XCTAssertTrue(missing.stderr.contains("nope.json"), missing.stderr)
        let noIdentity = try runDedupe([d3URL.path], workspace: folder)
        XCTAssertEqual(noIdentity.status, 64)
        XCTAssertTrue(noIdentity.stderr.contains("--identity"), noIdentity.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("Datasets").path))
    }

    /// Crops deleted by hand are dropped as crop-missing and named; when all are gone, exit 66.
    func testCropsThatAreGoneAreDroppedOrRefused() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"))
        let (d3URL, d3, _) = try DetectFixtures.d3.get()
        let folder = try makeTemporaryDirectory()
        let (copyURL, copy) = try copyFacesManifest(d3, at: d3URL, to: folder)
        let gone = copy.items.enumerated().filter { $0.offset % 4 == 0 }.map { ManifestIO.resolve($0.element.crop, relativeToManifest: copyURL) }
        for url in gone { try FileManager.default.removeItem(at: url) }
        let run = try runDedupe(["--identity", "d3", "--force", copyURL.path], workspace: folder)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try run.report()
        let document = try ManifestIO.read(DedupeReportDocument.self, from: URL(fileURLWithPath: report.report))
        let missing = document.drops.filter { $0.reason == "crop-missing" }
        XCTAssertGreaterThan(missing.count, 0)
        XCTAssertLessThanOrEqual(missing.count, gone.count, "faces dropped by a filter first are not read")
        XCTAssertTrue(missing.allSatisfy { drop in gone.contains { drop.detail.contains($0.lastPathComponent) } })
        let datasetItems = try ManifestIO.read(DatasetManifest.self, from: URL(fileURLWithPath: report.manifest)).items
        XCTAssertFalse(datasetItems.contains { item in gone.contains { $0.lastPathComponent.hasPrefix(String(format: "%06d", item.frameNumber)) } })
        for item in copy.items { try? FileManager.default.removeItem(at: ManifestIO.resolve(item.crop, relativeToManifest: copyURL)) }
        let none = try runDedupe(["--identity", "d3-again", "--force", copyURL.path], workspace: folder)
        XCTAssertEqual(none.status, 66)
        XCTAssertTrue(none.stderr.contains(copyURL.path) && none.stderr.contains("crop files"), none.stderr)
    }

    /// A dataset folder edited by hand is detected by the crops' SHA-256: verify and audit refuse it (65),
    /// a rebuild refuses to overwrite it and leaves it as it is, and --replace rebuilds it.
    func testHandEditedDatasetFolderIsDetected() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"))
        let (d3URL, _, _) = try DetectFixtures.d3.get()
        let workspace = try makeTemporaryDirectory()
        let build = try runDedupe(["--identity", "d3", "--force", d3URL.path], workspace: workspace)
        XCTAssertEqual(build.status, 0, build.stderr)
        let manifestURL = URL(fileURLWithPath: try build.report().manifest)
        let dataset = try ManifestIO.read(DatasetManifest.self, from: manifestURL)
        let edited = ManifestIO.resolve(dataset.items[1].crop, relativeToManifest: manifestURL)
        let deleted = ManifestIO.resolve(dataset.items[2].crop, relativeToManifest: manifestURL)
        // Paint a black square on one crop (as an image editor would) and delete another.
        var image = try ImageDecoder.decode(fileAt: edited)
        for y in 0..<20 { for x in 0..<20 { for c in 0..<3 { image.pixels[(y * image.width + x) * 3 + c] = 0 } } }
        try ImageEncoder(format: .png).encode(image).write(to: edited)
        try FileManager.default.removeItem(at: deleted)
        let editedBytes = try Data(contentsOf: edited)

        let verify = try runDedupe(["verify", manifestURL.deletingLastPathComponent().path], workspace: workspace)
        XCTAssertEqual(verify.status, 65)
        XCTAssertTrue(verify.stderr.contains("\(dataset.items[1].crop) was changed"), verify.stderr)
        XCTAssertTrue(verify.stderr.contains("\(dataset.items[2].crop) is missing"), verify.stderr)
        let audit = try runDedupe(["audit", manifestURL.path], workspace: workspace)
        XCTAssertEqual(audit.status, 65)
        XCTAssertTrue(audit.stderr.contains("changed by hand"), audit.stderr)
        let rebuild = try runDedupe(["--identity", "d3", "--force", d3URL.path], workspace: workspace)
        XCTAssertEqual(rebuild.status, 65)
        XCTAssertTrue(rebuild.stderr.contains("--replace"), rebuild.stderr)
        XCTAssertEqual(try Data(contentsOf: edited), editedBytes, "a refused rebuild leaves the folder as it was")
        XCTAssertTrue(FileManager.default.fileExists(atPath: manifestURL.path))
        let unverified = try runDedupe(["audit", manifestURL.path, "--no-verify"], workspace: workspace)
        XCTAssertEqual(unverified.status, 0, unverified.stderr)
        XCTAssertEqual(try unverified.audit().integrity?.changed, [dataset.items[1].crop])
        let replaced = try runDedupe(["--identity", "d3", "--force", "--replace", d3URL.path], workspace: workspace)
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        XCTAssertEqual(try runDedupe(["verify", manifestURL.path], workspace: workspace).status, 0)
    }
}
