import FacetCore
import Foundation
import Manifest
import Media
import XCTest

/// Crafted manifests (issue 18, "reads are not confined"): every file a manifest names must resolve, symlinks
/// followed, inside its workspace or the tool's `--workspace` (exit 65 naming the item otherwise), and
/// `dedupe` decodes every file before copying it into a dataset.
final class ReliabilityConfinementTests: XCTestCase {
    /// A workspace with a catalog file and a frames manifest in `Manifests/` naming `path`.
    func framesManifest(naming path: String, in ws: URL) throws -> URL {
        try FileManager.default.createDirectory(at: ws.appendingPathComponent("Manifests"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: ws.appendingPathComponent("catalog.sqlite").path, contents: Data())
        let item = FrameItem(path: path, input: 0, frameNumber: 0, pts: 0, seconds: 0, width: 1, height: 1, sha256: String(repeating: "0", count: 64))
        let manifest = FramesManifest(tool: ToolInfo(name: "fetch-frames", parameters: [:]), createdAt: "2026-01-01T00:00:00Z",
                                      inputs: [InputFile(path: "../../elsewhere/clip.mp4", sha256: String(repeating: "0", count: 64), bytes: 1, kind: "video")],
                                      items: [item], damage: [])
        let url = ws.appendingPathComponent("Manifests/frames-crafted.json")
        try ManifestIO.write(manifest, to: url)
        return url
    }

    func assertOutside(_ url: URL, item: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ManifestIO.read(FramesManifest.self, from: url), file: file, line: line) { error in
            guard case .outsideWorkspace(let path, let named, _, _)? = error as? ManifestError else {
                return XCTFail("expected outsideWorkspace, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, url.path, file: file, line: line)
            XCTAssertEqual(named, item, file: file, line: line)
            XCTAssertEqual((error as? FacetError)?.exitStatus, .dataError, file: file, line: line)
        }
    }

    func testAbsoluteDotDotAndSymlinkedPathsAreRefused() throws {
        let ws = try makeTemporaryDirectory()
        assertOutside(try framesManifest(naming: "/etc/passwd", in: ws), item: "items[0].path")
        assertOutside(try framesManifest(naming: "../../../../../../../../etc/passwd", in: ws), item: "items[0].path")
        assertOutside(try framesManifest(naming: "../Datasets/../../outside.jpg", in: ws), item: "items[0].path")
        // A symlink inside the workspace pointing out of it.
        let frames = ws.appendingPathComponent("Datasets/frames")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: frames.appendingPathComponent("link.jpg").path, withDestinationPath: "/etc/passwd")
        assertOutside(try framesManifest(naming: "../Datasets/frames/link.jpg", in: ws), item: "items[0].path")
        // A symlinked folder pointing out of it, with a file below it.
        try FileManager.default.createSymbolicLink(atPath: frames.appendingPathComponent("etc").path, withDestinationPath: "/etc")
        assertOutside(try framesManifest(naming: "../Datasets/frames/etc/hostname", in: ws), item: "items[0].path")

        // Paths inside the workspace are fine, relative or absolute, existing or not; `inputs` may point anywhere.
        let inside = frames.appendingPathComponent("000001.jpg")
        XCTAssertNoThrow(try ManifestIO.read(FramesManifest.self, from: try framesManifest(naming: "../Datasets/frames/000001.jpg", in: ws)))
        XCTAssertNoThrow(try ManifestIO.read(FramesManifest.self, from: try framesManifest(naming: inside.path, in: ws)))
        // A symlink inside the workspace pointing inside it is fine too.
        try Data([1]).write(to: inside)
        try FileManager.default.createSymbolicLink(atPath: frames.appendingPathComponent("alias.jpg").path, withDestinationPath: inside.path)
        XCTAssertNoThrow(try ManifestIO.read(FramesManifest.self, from: try framesManifest(naming: "../Datasets/frames/alias.jpg", in: ws)))
    }

    /// `detect` on a crafted frames manifest: exit 65 naming the manifest and the item, nothing read.
    func testDetectRefusesAFramesManifestReachingOutside() throws {
        let ws = try makeTemporaryDirectory()
        let url = try framesManifest(naming: "../../../../../../../../etc/passwd", in: ws)
        let run = try detect([url.path], workspace: ws)
        XCTAssertEqual(run.status, 65, run.stderr)
        XCTAssertTrue(run.stderr.contains(url.path) && run.stderr.contains("items[0].path") && run.stderr.contains("outside"), run.stderr)
    }

    /// `dedupe` on crafted faces manifests: a mask outside (absolute, or by symlink) is refused before
    /// anything is written; a "mask" inside the workspace that is no image is decoded first and refused
    /// (before the fix its raw bytes were copied into `Datasets/<identity>/faces/`).
    func testDedupeRefusesMasksOutsideOrNotImages() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"))
        let (d3URL, d3, _) = try DetectFixtures.d3.get()

        let outside = try makeTemporaryDirectory()
        let (absoluteURL, absolute) = try copyFacesManifest(d3, at: d3URL, to: outside)
        var crafted = absolute
        crafted.items[0].mask = "/etc/passwd"
        try ManifestIO.write(crafted, to: absoluteURL)
        let refused = try runDedupe(["--identity", "x", "--force", absoluteURL.path], workspace: outside)
        XCTAssertEqual(refused.status, 65, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("items[0].mask") && refused.stderr.contains("/etc/passwd"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside.appendingPathComponent("Datasets/x").path))

        try FileManager.default.createSymbolicLink(atPath: outside.appendingPathComponent("crops/mask-link.png").path, withDestinationPath: "/etc/passwd")
        crafted.items[0].mask = "crops/mask-link.png"
        try ManifestIO.write(crafted, to: absoluteURL)
        let linked = try runDedupe(["--identity", "x", "--force", absoluteURL.path], workspace: outside)
        XCTAssertEqual(linked.status, 65, linked.stderr)
        XCTAssertTrue(linked.stderr.contains("items[0].mask") && linked.stderr.contains("mask-link.png"), linked.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside.appendingPathComponent("Datasets/x").path))

        // Inside the tree but not an image: every item's "mask" is a text file named .png.
        let secret = outside.appendingPathComponent("crops/notes.png")
        try Data("not an image: a secret someone wanted copied\n".utf8).write(to: secret)
        var textMasks = absolute
        for i in textMasks.items.indices { textMasks.items[i].mask = "crops/notes.png" }
        try ManifestIO.write(textMasks, to: absoluteURL)
        let smuggled = try runDedupe(["--identity", "y", "--force", absoluteURL.path], workspace: outside)
        XCTAssertEqual(smuggled.status, 65, smuggled.stderr)
        XCTAssertTrue(smuggled.stderr.contains(secret.path), smuggled.stderr)
        let copied = (FileManager.default.enumerator(atPath: outside.appendingPathComponent("Datasets").path)?.allObjects as? [String]) ?? []
        for name in copied where name.hasSuffix(".png") {
            let data = try Data(contentsOf: outside.appendingPathComponent("Datasets").appendingPathComponent(name))
            XCTAssertNotEqual(data, try Data(contentsOf: secret), "\(name) is a raw copy of a non-image file")
        }

        // Real masks of the crop's size are decoded and copied.
        let mask = outside.appendingPathComponent("crops/real-mask.png")
        try ImageEncoder(format: .png).encode(RGBImage(width: d3.cropSize, height: d3.cropSize, fill: (255, 255, 255))).write(to: mask)
        var realMasks = absolute
        for i in realMasks.items.indices { realMasks.items[i].mask = "crops/real-mask.png" }
        try ManifestIO.write(realMasks, to: absoluteURL)
        let good = try runDedupe(["--identity", "z", "--force", absoluteURL.path], workspace: outside)
        XCTAssertEqual(good.status, 0, good.stderr)
        let dataset = try ManifestIO.read(DatasetManifest.self, from: URL(fileURLWithPath: try good.report().manifest))
        XCTAssertFalse(dataset.items.isEmpty)
        XCTAssertTrue(dataset.items.allSatisfy { $0.mask != nil })
    }
}
