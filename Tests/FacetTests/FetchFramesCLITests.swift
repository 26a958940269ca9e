import Catalog
import FacetCore
import Foundation
import FrameExtraction
import Manifest
import Media
import XCTest

/// `fetch-frames` end to end: the built binary on real and damaged inputs.
final class FetchFramesCLITests: XCTestCase {
    var d18: URL { TestPaths.video("d18.mp4") }

    func testEveryTenThenRerunReusesEverything() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        let first = try fetchFrames(["--every", "10", d18.path], workspace: ws)
        XCTAssertEqual(first.status, 0, first.stderr)
        let report = try first.requireReport()
        XCTAssertEqual(report.frames, 22)
        XCTAssertEqual(report.written, 22)
        XCTAssertEqual(report.reused, 0)
        XCTAssertEqual(report.inputs, 1)
        XCTAssertEqual(report.damage, [])
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(first.stderr, "", "-q keeps stderr quiet")

        let (manifestURL, manifest) = try first.manifest()
        XCTAssertEqual(manifestURL.path, ws.appendingPathComponent("Manifests/frames-d18.json").path)
        XCTAssertEqual(manifest.items.count, 22)
        XCTAssertEqual(manifest.items.map(\.frameNumber), Array(stride(from: 0, to: 216, by: 10)))
        XCTAssertTrue(manifest.items.allSatisfy { $0.width == 480 && $0.height == 480 && $0.input == 0 })
        XCTAssertEqual(manifest.inputs.count, 1)
        XCTAssertEqual(manifest.inputs[0].kind, "video")
        XCTAssertEqual(manifest.inputs[0].sha256, try SHA256.hex(fileAt: d18))
        XCTAssertEqual(manifest.inputs[0].bytes, 187_263)
        XCTAssertEqual(ManifestIO.resolve(manifest.inputs[0].path, relativeToManifest: manifestURL).path, d18.path)
        XCTAssertEqual(manifest.tool.name, "fetch-frames")
        XCTAssertEqual(manifest.tool.parameters["every"], .number(10))
        for item in manifest.items { XCTAssertEqual(item.seconds, Double(item.frameNumber) / 30, accuracy: 1e-3) }
        try assertItemFilesIntact(manifest, at: manifestURL)
        XCTAssertEqual(try catalogFrameRows(ws), 22)
        let catalog = try Catalog(url: ws.appendingPathComponent("catalog.sqlite"))
        let sources = try catalog.read { db in try SourceRecord.fetchAll(db) }
        XCTAssertEqual(sources.count, 1)
        XCTAssertEqual(sources.first?.frameCount, 216)
        XCTAssertEqual(sources.first?.hasAudio, true)

        let second = try fetchFrames(["--every", "10", d18.path], workspace: ws)
        XCTAssertEqual(second.status, 0, second.stderr)
        let again = try second.requireReport()
        XCTAssertEqual(again.frames, 22)
        XCTAssertEqual(again.written, 0)
        XCTAssertEqual(again.reused, 22)
        XCTAssertEqual(try second.manifest().1.items, manifest.items)
        XCTAssertEqual(try catalogFrameRows(ws), 22)
    }

    // MARK: Bad inputs: exit code, and stderr names the file

    func testMissingFile() throws {
        let ws = try makeTemporaryDirectory()
        let missing = ws.appendingPathComponent("no such clip.mp4").path
        let run = try fetchFrames([missing], workspace: ws)
        assertRun(run, exits: 66, mentioning: [missing, "fetch-frames: error:"])
        XCTAssertNil(run.report?.manifest, "nothing to write a manifest for")
        XCTAssertEqual(run.report?.failures.count, 1)
    }

    func testZeroByteFile() throws {
        let ws = try makeTemporaryDirectory()
        let empty = ws.appendingPathComponent("empty.mp4")
        try Data().write(to: empty)
        assertRun(try fetchFrames([empty.path], workspace: ws), exits: 65, mentioning: [empty.path, "empty"])
    }

    func testTextFileNamedMP4() throws {
        let ws = try makeTemporaryDirectory()
        let text = ws.appendingPathComponent("readme.mp4")
        try Data("just some text\n".utf8).write(to: text)
        assertRun(try fetchFrames([text.path], workspace: ws), exits: 65, mentioning: [text.path])
    }

    /// A phone's HEIC photo (and AVIF) is refused as what it is, not as a damaged MP4, by every tool that
    /// takes photos: exit 65, the file named, what to do about it.
    func testHEICPhotoIsRefusedAsAnUnreadablePhoto() throws {
        let ws = try makeTemporaryDirectory()
        // The start of an HEIF file: an ISO-BMFF 'ftyp' box with the 'heic' brand (what FFmpeg would open as MOV).
        let heic = ws.appendingPathComponent("IMG_0001.HEIC"), avif = ws.appendingPathComponent("photo.avif")
        let header = Data([0, 0, 0, 24] + Array("ftypheic".utf8) + [0, 0, 0, 0] + Array("mif1heic".utf8))
        try header.write(to: heic)
        try header.write(to: avif)
        for file in [heic, avif] {
            assertRun(try fetchFrames([file.path], workspace: ws), exits: 65, mentioning: [file.path, "HEIC/HEIF and AVIF photos cannot be read", "JPEG or PNG"])
            let detect = try runDetect([file.path], workspace: ws)
            XCTAssertEqual(detect.status, 65, detect.stderr)
            XCTAssertTrue(detect.stderr.contains("\(file.path): not a readable video or image: HEIC/HEIF"), detect.stderr)
            let enroll = try runIdentify("enroll", ["--name", "someone", "--consent", "test", file.path], workspace: ws)
            XCTAssertEqual(enroll.status, 65, enroll.stderr)
            XCTAssertTrue(enroll.stderr.contains("HEIC/HEIF and AVIF photos cannot be read"), enroll.stderr)
        }
        // A folder of them: no image to read, and the error says which kind it holds.
        let folder = ws.appendingPathComponent("phone")
        try copy(heic, to: folder)
        try copy(avif, to: folder)
        assertRun(try fetchFrames([folder.path], workspace: ws), exits: 66,
                  mentioning: ["folder holds no images", "its 2 HEIC/HEIF or AVIF photos cannot be read"])
        let detect = try runDetect([folder.path], workspace: ws)
        XCTAssertEqual(detect.status, 66, detect.stderr)
        XCTAssertTrue(detect.stderr.contains("its 2 HEIC/HEIF or AVIF photos cannot be read"), detect.stderr)

        // Beside a JPEG (a phone's folder, half converted): the JPEG is read and a warning says what was left out.
        try copy(TestPaths.repo.appendingPathComponent("Datasets/samples/lin-manuel-miranda.jpg"), to: folder)
        for tool in ["fetch-frames", "detect"] {
            let run = try runProcess(try TestPaths.executable(tool), ["--workspace", ws.path, folder.path], timeout: 300)
            XCTAssertEqual(run.status, 0, "\(tool): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("\(folder.path): 2 HEIC/HEIF or AVIF photos left out") && run.stderr.contains("JPEG or PNG"),
                          "\(tool): \(run.stderr)")
        }
    }

    func testAudioOnlyFile() throws {
        let ws = try makeTemporaryDirectory()
        let audio = TestPaths.fixture("audio_only.m4a")
        assertRun(try fetchFrames([audio.path], workspace: ws), exits: 65, mentioning: [audio.path, "no video stream"])
    }

    func testMaxPixels() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        assertRun(try fetchFrames(["--max-pixels", "1000", d18.path], workspace: ws), exits: 65, mentioning: [d18.path, "1000"])
    }

    func testPlaylistIsRefused() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        let playlist = ws.appendingPathComponent("list.mp4")
        try Data("#EXTM3U\n#EXTINF:7.2,\n\(d18.path)\n#EXT-X-ENDLIST\n".utf8).write(to: playlist)
        let run = try fetchFrames([playlist.path], workspace: ws)
        assertRun(run, exits: 65, mentioning: [playlist.path])
        XCTAssertEqual(run.report?.frames, 0)
    }

    func testTruncatedVideoKeepsWhatDecodes() throws {
        let source = TestPaths.video("d20.mp4")
        try requireSharedMedia(source)
        let ws = try makeTemporaryDirectory()
        let data = try Data(contentsOf: source)
        let truncated = ws.appendingPathComponent("truncated.mp4")
        try data.prefix(data.count / 2).write(to: truncated)
        let run = try fetchFrames([truncated.path], workspace: ws)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try run.requireReport()
        XCTAssertGreaterThan(report.frames, 0)
        XCTAssertLessThan(report.frames, 175)
        XCTAssertFalse(report.damage.isEmpty)
        XCTAssertTrue(report.damage.allSatisfy { $0.contains("truncated.mp4") }, "\(report.damage)")
        let (url, manifest) = try run.manifest()
        XCTAssertFalse(manifest.damage.isEmpty)
        XCTAssertEqual(manifest.items.count, report.frames)
        try assertItemFilesIntact(manifest, at: url)
    }

    func testSpacesAndNonASCIIInFileName() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        let name = "my clip ü 名前.mp4"
        let clip = try copy(d18, to: ws.appendingPathComponent("in put"), as: name)
        let run = try fetchFrames(["--every", "50", clip.path], workspace: ws)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (url, manifest) = try run.manifest()
        XCTAssertTrue(manifest.inputs[0].path.hasSuffix(name), manifest.inputs[0].path)
        XCTAssertEqual(ManifestIO.resolve(manifest.inputs[0].path, relativeToManifest: url).path, clip.path)
        XCTAssertEqual(manifest.items.count, 5)
        try assertItemFilesIntact(manifest, at: url)
    }

    func testBadShardAndQualityAreUsageErrors() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        assertRun(try fetchFrames(["--shard", "3/2", d18.path], workspace: ws), exits: 64, mentioning: ["--shard", "3/2"])
        assertRun(try fetchFrames(["--quality", "0", d18.path], workspace: ws), exits: 64, mentioning: ["--quality"])
        assertRun(try fetchFrames(["--every", "0", d18.path], workspace: ws), exits: 64, mentioning: ["--every"])
        assertRun(try fetchFrames(["--start", "5", "--end", "2", d18.path], workspace: ws), exits: 64, mentioning: ["--end"])
        assertRun(try fetchFrames(["--format", "gif", d18.path], workspace: ws), exits: 64, mentioning: ["--format"])
        assertRun(try fetchFrames([], workspace: ws), exits: 64, mentioning: ["input"])
        // Nothing was started.
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.appendingPathComponent("Manifests").path))
    }

    // MARK: Image folders

    func testImportsFixtureImageFolder() throws {
        let ws = try makeTemporaryDirectory()
        let folder = TestPaths.fixture("images")
        let run = try fetchFrames([folder.path], workspace: ws)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try run.requireReport()
        XCTAssertEqual(report.frames, 3)
        XCTAssertEqual(report.damage, [])
        let (url, manifest) = try run.manifest()
        XCTAssertEqual(manifest.inputs.map(\.kind), ["images"])
        // Name order: hopkins.bmp, hopkins.webp, obama_small.jpg.
        XCTAssertEqual(manifest.items.map(\.original), ["hopkins.bmp", "hopkins.webp", "obama_small.jpg"])
        XCTAssertEqual(manifest.items.map(\.frameNumber), [0, 1, 2])
        XCTAssertEqual(manifest.items.map(\.width), [250, 250, 320])
        XCTAssertTrue(manifest.items.allSatisfy { $0.path.hasSuffix(".jpg") })
        try assertItemFilesIntact(manifest, at: url)
        // The JPEG is already in the output format: copied byte for byte.
        let copied = try XCTUnwrap(manifest.items.last)
        XCTAssertEqual(copied.sha256, try SHA256.hex(fileAt: folder.appendingPathComponent("obama_small.jpg")))
    }

    func testFolderWithOneDamagedImage() throws {
        let ws = try makeTemporaryDirectory()
        let folder = ws.appendingPathComponent("faces")
        try copy(TestPaths.fixture("images/obama_small.jpg"), to: folder)
        try copy(TestPaths.fixture("images/hopkins.bmp"), to: folder)
        let jpeg = try Data(contentsOf: TestPaths.fixture("images/obama_small.jpg"))
        try jpeg.prefix(200).write(to: folder.appendingPathComponent("broken.jpg"))
        let run = try fetchFrames(["--format", "png", folder.path], workspace: ws)
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try run.requireReport()
        XCTAssertEqual(report.frames, 2)
        XCTAssertTrue(report.damage.contains { $0.contains("broken.jpg") }, "\(report.damage)")
        let (url, manifest) = try run.manifest()
        XCTAssertEqual(manifest.items.compactMap(\.original).sorted(), ["hopkins.bmp", "obama_small.jpg"])
        XCTAssertTrue(manifest.items.allSatisfy { $0.path.hasSuffix(".png") })
        try assertItemFilesIntact(manifest, at: url)
        // PNG output is lossless: the BMP's pixels come back exactly.
        let bmpItem = try XCTUnwrap(manifest.items.first { $0.original == "hopkins.bmp" })
        let written = ManifestIO.resolve(bmpItem.path, relativeToManifest: url)
        XCTAssertEqual(try ImageDecoder.decode(fileAt: written), try ImageDecoder.decode(fileAt: folder.appendingPathComponent("hopkins.bmp")))
    }

    func testMultipleInputsWithOneMissing() throws {
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        let missing = ws.appendingPathComponent("gone.mp4").path
        let run = try fetchFrames(["--every", "30", d18.path, missing], workspace: ws)
        assertRun(run, exits: 66, mentioning: [missing])
        let report = try run.requireReport()
        XCTAssertEqual(report.inputs, 2)
        XCTAssertEqual(report.frames, 8)
        XCTAssertEqual(report.failures.count, 1)
        let (url, manifest) = try run.manifest()
        XCTAssertEqual(manifest.inputs.count, 1, "only the input that worked")
        XCTAssertEqual(manifest.items.map(\.frameNumber), [0, 30, 60, 90, 120, 150, 180, 210])
        try assertItemFilesIntact(manifest, at: url)
    }
}
