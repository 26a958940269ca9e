import FacetCore
import Foundation
import Manifest
import XCTest

final class ManifestTests: XCTestCase {
    static func sampleManifest() -> FramesManifest {
        let sha = String(repeating: "ab", count: 32)
        return FramesManifest(
            tool: ToolInfo(name: "fetch-frames", parameters: ["format": "jpeg", "quality": 95, "fps": 2.5, "shard": "1/2"]),
            createdAt: "2024-05-01T12:00:00Z",
            inputs: [InputFile(path: "../videos/clip ü.mp4", sha256: sha, bytes: 187_263, kind: "video"),
                     InputFile(path: "faces", sha256: String(repeating: "cd", count: 32), bytes: 4096, kind: "images")],
            items: [
                FrameItem(path: "../Datasets/frames/clip-abababab/000000.jpg", input: 0, frameNumber: 0, pts: 0, seconds: 0,
                          width: 480, height: 480, sha256: String(repeating: "01", count: 32)),
                FrameItem(path: "../Datasets/frames/clip-abababab/000012.jpg", input: 0, frameNumber: 12, pts: 6144, seconds: 0.4,
                          width: 480, height: 480, sha256: String(repeating: "02", count: 32)),
                FrameItem(path: "../Datasets/frames/faces-cdcdcdcd/000000.jpg", input: 1, frameNumber: 0, pts: 0, seconds: 0,
                          width: 250, height: 250, sha256: String(repeating: "03", count: 32), original: "hopkins.webp"),
            ],
            damage: [DamageNote(input: 0, message: "only 1 of 2 frames could be decoded")])
    }

    private func write(_ text: String, to dir: URL, name: String = "m.json") throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    private func jsonObject(_ manifest: FramesManifest) throws -> [String: Any] {
        let data = try JSONEncoder().encode(manifest)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func text(of object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    func testRoundTrip() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("Manifests/frames-clip.json")
        let manifest = Self.sampleManifest()
        try ManifestIO.write(manifest, to: url)
        let read = try ManifestIO.read(FramesManifest.self, from: url)
        XCTAssertEqual(read, manifest)
        XCTAssertEqual(read.schema, "facet.frames")
        XCTAssertEqual(read.version.description, "1.0")
        XCTAssertEqual(temporaryFiles(in: dir), [])
        // Written pretty-printed with sorted keys, ending in a newline.
        let written = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(written.hasSuffix("}\n"))
        XCTAssertTrue(written.contains("\"schema\" : \"facet.frames\""), written)
        XCTAssertLessThan(try XCTUnwrap(written.range(of: "\"createdAt\"")).lowerBound, try XCTUnwrap(written.range(of: "\"damage\"")).lowerBound)
    }

    func testUnknownMajorVersionIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        var object = try jsonObject(Self.sampleManifest())
        object["version"] = "2.0"
        let url = try write(try text(of: object), to: dir)
        XCTAssertThrowsError(try ManifestIO.read(FramesManifest.self, from: url)) { error in
            guard case .unsupportedVersion(let path, let found, _)? = error as? ManifestError else {
                return XCTFail("expected unsupportedVersion, got \(error)")
            }
            XCTAssertEqual(path, url.path)
            XCTAssertEqual(found, "2.0")
            let description = "\(error)"
            XCTAssertTrue(description.contains(url.path), description)
            XCTAssertTrue(description.contains("2.0"), description)
            XCTAssertEqual((error as? ManifestError)?.exitStatus, .dataError)
        }
    }

    func testNewerMinorVersionWithUnknownFieldStillReads() throws {
        let dir = try makeTemporaryDirectory()
        let manifest = Self.sampleManifest()
        var object = try jsonObject(manifest)
        object["version"] = "1.7"
        object["addedInOnePointSeven"] = ["anything": [1, 2, 3]]
        var items = try XCTUnwrap(object["items"] as? [[String: Any]])
        items[0]["faceCount"] = 2
        object["items"] = items
        // In a workspace's Manifests/, as the sample's `../Datasets/frames/...` paths say (paths outside the
        // manifest's workspace are refused: ReliabilityConfinementTests).
        let manifests = dir.appendingPathComponent("Manifests")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        let url = try write(try text(of: object), to: manifests)
        let read = try ManifestIO.read(FramesManifest.self, from: url)
        XCTAssertEqual(read.version, ManifestVersion(1, 7))
        XCTAssertEqual(read.items, manifest.items)
        XCTAssertEqual(read.inputs, manifest.inputs)
        XCTAssertEqual(read.tool, manifest.tool)
    }

    func testWrongSchemaName() throws {
        let dir = try makeTemporaryDirectory()
        var object = try jsonObject(Self.sampleManifest())
        object["schema"] = "facet.crops"
        let url = try write(try text(of: object), to: dir)
        XCTAssertThrowsError(try ManifestIO.read(FramesManifest.self, from: url)) { error in
            XCTAssertEqual(error as? ManifestError, .wrongSchema(path: url.path, found: "facet.crops", expected: "facet.frames"))
            XCTAssertEqual((error as? ManifestError)?.exitStatus, .dataError)
            XCTAssertTrue("\(error)".contains(url.path))
        }
    }

    func testMalformedJSON() throws {
        let dir = try makeTemporaryDirectory()
        for (name, body) in [("truncated.json", "{\"schema\": \"facet.frames\", \"version\": \"1.0\", \"items\": ["),
                             ("not-json.json", "hello, world"),
                             ("empty.json", ""),
                             ("bad-version.json", "{\"schema\": \"facet.frames\", \"version\": \"one\"}")] {
            let url = try write(body, to: dir, name: name)
            XCTAssertThrowsError(try ManifestIO.read(FramesManifest.self, from: url), name) { error in
                guard case .malformed(let path, _)? = error as? ManifestError else { return XCTFail("\(name): expected malformed, got \(error)") }
                XCTAssertEqual(path, url.path)
                XCTAssertEqual((error as? ManifestError)?.exitStatus, .dataError)
            }
        }
    }

    func testMissingRequiredFieldNamesIt() throws {
        let dir = try makeTemporaryDirectory()
        var object = try jsonObject(Self.sampleManifest())
        var items = try XCTUnwrap(object["items"] as? [[String: Any]])
        items[1].removeValue(forKey: "sha256")
        object["items"] = items
        let url = try write(try text(of: object), to: dir)
        XCTAssertThrowsError(try ManifestIO.read(FramesManifest.self, from: url)) { error in
            guard case .malformed(_, let reason)? = error as? ManifestError else { return XCTFail("expected malformed, got \(error)") }
            XCTAssertTrue(reason.contains("sha256"), reason)
        }
    }

    func testMissingFile() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("nope.json")
        XCTAssertThrowsError(try ManifestIO.read(FramesManifest.self, from: url)) { error in
            XCTAssertEqual(error as? ManifestError, .missing(path: url.path))
            XCTAssertEqual((error as? ManifestError)?.exitStatus, .noInput)
        }
    }

    func testVersionParsing() {
        XCTAssertEqual(ManifestVersion(string: "1.0"), ManifestVersion(1, 0))
        XCTAssertEqual(ManifestVersion(string: "12.34"), ManifestVersion(12, 34))
        for bad in ["", "1", "1.", ".1", "1.0.0", "a.b", "-1.0", "1.-2"] {
            XCTAssertNil(ManifestVersion(string: bad), bad)
        }
        XCTAssertLessThan(ManifestVersion(1, 9), ManifestVersion(1, 10))
        XCTAssertLessThan(ManifestVersion(1, 10), ManifestVersion(2, 0))
    }

    func testJSONValueRoundTrip() throws {
        let value: JSONValue = .object(["s": "x", "n": 1.5, "b": true, "a": .array([.null, 3]), "o": .object([:])])
        let decoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        XCTAssertEqual(decoded, value)
    }

    // MARK: Relative paths

    func testRelativePathExamples() {
        let manifest = URL(fileURLWithPath: "/w/Manifests/frames.json")
        XCTAssertEqual(ManifestIO.relativePath(of: URL(fileURLWithPath: "/w/Manifests/x.jpg"), fromManifest: manifest), "x.jpg")
        XCTAssertEqual(ManifestIO.relativePath(of: URL(fileURLWithPath: "/w/Datasets/f/1.jpg"), fromManifest: manifest), "../Datasets/f/1.jpg")
        XCTAssertEqual(ManifestIO.relativePath(of: URL(fileURLWithPath: "/other/v.mp4"), fromManifest: manifest), "../../other/v.mp4")
        XCTAssertEqual(ManifestIO.resolve("/abs/v.mp4", relativeToManifest: manifest).path, "/abs/v.mp4")
    }

    func testRelativePathThenResolveGivesBackTheFile() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        let alphabet: [String] = ["a", "b", "z", "0", "7", "-", "_", ".", " ", "ü", "é", "名", "前", "x y", "ß", "Ω"]
        func name() -> String {
            var s = ""
            for _ in 0..<Int.random(in: 1...8, using: &rng) { s += alphabet.randomElement(using: &rng)! }
            // "." and ".." are not names; a leading dot is fine.
            return s == "." || s == ".." ? s + "n" : s
        }
        let root = ["facet-root", "root with space", "wurzel-ü"]
        for trial in 0..<500 {
            let base = "/tmp/" + root.randomElement(using: &rng)!
            let shared = (0..<Int.random(in: 0...3, using: &rng)).map { _ in name() }
            let manifestDirs = (0..<Int.random(in: 0...4, using: &rng)).map { _ in name() }
            let fileDirs = (0..<Int.random(in: 0...4, using: &rng)).map { _ in name() }
            let manifestPath = ([base] + shared + manifestDirs + ["frames-\(name()).json"]).joined(separator: "/")
            var filePath = ([base] + shared + fileDirs + [name() + ".jpg"]).joined(separator: "/")
            // Sometimes give the file as a path that itself goes up and down again.
            if trial % 5 == 0 {
                filePath = ([base] + shared + ["up", "..", "."] + fileDirs + [name() + ".png"]).joined(separator: "/")
            }
            let manifest = URL(fileURLWithPath: manifestPath)
            let file = URL(fileURLWithPath: filePath)
            let relative = ManifestIO.relativePath(of: file, fromManifest: manifest)
            XCTAssertFalse(relative.hasPrefix("/"), "trial \(trial): \(relative)")
            let resolved = ManifestIO.resolve(relative, relativeToManifest: manifest)
            XCTAssertEqual(resolved.path, file.standardizedFileURL.path,
                           "trial \(trial): \(filePath) from \(manifestPath) via \(relative)")
            if manifestDirs.isEmpty && fileDirs.isEmpty && trial % 5 != 0 {
                XCTAssertFalse(relative.split(separator: "/").contains(".."), "trial \(trial): same folder, got \(relative)")
            }
        }
    }

    // MARK: JSON Schema

    func testWrittenManifestValidatesAgainstSchema() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("frames.json")
        try ManifestIO.write(Self.sampleManifest(), to: url)
        try validate(url, schema: "frames.schema.json")
    }
}
