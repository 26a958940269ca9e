import Faces
import FaceDetect
import FacetCore
import Foundation
import GRDB
import Manifest
import Media
import Models
import XCTest

/// `detect` end to end: the built binary on real photos and clips.
final class DetectCLITests: XCTestCase {
    /// The golden astronaut outputs through the tool: short range, one FaceMesh pass (MediaPipe's graph).
    func testAstronautGoldenThroughTheTool() throws {
        let workspace = try makeTemporaryDirectory()
        let run = try detect(["--detector", "short", "--mesh-passes", "1", "--tiles", "1", TestPaths.image("astronaut.png").path],
                             workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (_, manifest) = try run.manifest()
        XCTAssertEqual(manifest.items.count, 1)
        let face = try XCTUnwrap(manifest.items.first)
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: TFLiteGoldenTests.golden.appendingPathComponent("tflite_golden.json")))
        let expected = try XCTUnwrap((((golden as? [String: Any])?["short_range"] as? [String: Any])?["nms_detections"] as? [[String: Any]])?.first)
        XCTAssertEqual(face.score, expected["score"] as? Double ?? 0, accuracy: 1e-4)
        XCTAssertEqual(face.box.x / 512, expected["xmin"] as? Double ?? 0, accuracy: 1e-4)
        XCTAssertEqual(face.box.y / 512, expected["ymin"] as? Double ?? 0, accuracy: 1e-4)
        XCTAssertEqual(face.box.width / 512, expected["width"] as? Double ?? 0, accuracy: 1e-4)
        XCTAssertEqual(face.box.height / 512, expected["height"] as? Double ?? 0, accuracy: 1e-4)
        let text = try String(contentsOf: TFLiteGoldenTests.golden.appendingPathComponent("landmark_468_image_px.txt"), encoding: .utf8)
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").compactMap { Double($0) } }
        XCTAssertEqual(rows.count, 468)
        XCTAssertEqual(face.mesh.count, 1404)
        var worst = 0.0
        for (i, row) in rows.enumerated() where row.count == 3 && face.mesh.count == 1404 {
            for k in 0..<3 { worst = max(worst, abs(Double(face.mesh[3 * i + k]) - row[k])) }
        }
        // MODELS.md: 0.02 px; the manifest stores points to 0.01 px.
        XCTAssertLessThan(worst, 0.02 + 0.005, "468 points: worst difference \(worst) px")
        // dlib's 5 points (its shape predictor on a box made from the mesh) against dlib's golden points.
        let dlib = try String(contentsOf: TFLiteGoldenTests.golden.deletingLastPathComponent().appendingPathComponent("dlib/landmarks5.txt"), encoding: .utf8)
        let points = dlib.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").compactMap { Double($0) } }
        for (k, p) in points.enumerated() where p.count == 3 {
            XCTAssertEqual(Double(face.points5[2 * k]), p[1], accuracy: 1.5, "5-point \(k) x")
            XCTAssertEqual(Double(face.points5[2 * k + 1]), p[2], accuracy: 1.5, "5-point \(k) y")
        }
    }

    func testFaceCountsOnPhotos() throws {
        let workspace = try makeTemporaryDirectory()
        let names = ["group_six.jpg": 6, "two_people.jpg": 2, "obama.jpg": 1]
        let run = try detect(names.keys.sorted().map { TestPaths.image($0).path }, workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (url, manifest) = try run.manifest()
        XCTAssertEqual(manifest.inputs.count, 3)
        for (index, input) in manifest.inputs.enumerated() {
            let name = (input.path as NSString).lastPathComponent
            XCTAssertEqual(manifest.items.filter { $0.input == index }.count, names[name], name)
        }
        // Every crop is a 256×256 image on disk; the catalog holds one row per face, linked to a track.
        for item in manifest.items {
            let size = try ImageDecoder.size(ofFileAt: ManifestIO.resolve(item.crop, relativeToManifest: url))
            XCTAssertEqual(size.width, 256)
            XCTAssertEqual(size.height, 256)
        }
        let rows = try readCatalog(workspace) { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM faces JOIN tracks ON tracks.id = faces.track_id") }
        XCTAssertEqual(rows, manifest.items.count)
        try validate(url, schema: "faces.schema.json")

        // No face on dogs: exit 65 naming the file; the manifest still records the input, with no faces.
        let dogs = try detect([TestPaths.image("no_face_dogs.jpg").path], workspace: workspace)
        XCTAssertEqual(dogs.status, 65, dogs.stderr)
        XCTAssertTrue(dogs.stderr.contains("no_face_dogs.jpg: no face found"), dogs.stderr)
        XCTAssertEqual(try dogs.manifest().1.items.count, 0)
    }

    /// The 100 LFW images: each has exactly one face near its centre; the extra faces found are the
    /// bystanders known to be in six of them.
    func testEveryIdentityImageHasOneCentralFace() throws {
        let workspace = try makeTemporaryDirectory()
        let root = TestPaths.faces.appendingPathComponent("identities")
        let people = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(people.count, 10)
        let run = try detect(people.map { root.appendingPathComponent($0).path }, workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (_, manifest) = try run.manifest()
        let byFrame = facesByFrameName(manifest)
        var images = 0
        var withBystanders: [String] = []
        for person in people {
            for file in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(person).path) where file.hasSuffix(".jpg") {
                images += 1
                let faces = byFrame[file] ?? []
                let central = faces.filter { face in
                    let cx = face.box.x + face.box.width / 2, cy = face.box.y + face.box.height / 2
                    return abs(cx - Double(face.frameWidth) / 2) < 0.15 * Double(face.frameWidth)
                        && abs(cy - Double(face.frameHeight) / 2) < 0.15 * Double(face.frameHeight)
                }
                XCTAssertEqual(central.count, 1, "\(file): \(faces.map { "\(Int($0.box.x)),\(Int($0.box.y)) \($0.score)" })")
                if faces.count > 1 { withBystanders.append(String(file.dropLast(4))) }
            }
        }
        XCTAssertEqual(images, 100)
        let known: Set = ["Ariel_Sharon_0004", "Ariel_Sharon_0009", "Arnold_Schwarzenegger_0005", "Arnold_Schwarzenegger_0007",
                          "Colin_Powell_0010", "Vladimir_Putin_0007"]
        XCTAssertTrue(Set(withBystanders).isSubset(of: known), "unexpected extra faces in \(Set(withBystanders).subtracting(known).sorted())")
    }

    /// Phone photos stored on their side with an EXIF Orientation (6: shown turned a quarter clockwise; 8:
    /// anticlockwise): every face is found exactly where it is in the same picture stored upright (a PNG of
    /// the same decoded pixels, turned by the test). Read as stored, the faces would lie on their side and
    /// most would go unseen (8 of 21 on 20 LFW photos before the orientation was applied).
    func testPhotosStoredOnTheirSideAreReadAsShown() throws {
        let root = TestPaths.faces.appendingPathComponent("identities")
        try requireSharedMedia(root)
        let upright = try makeTemporaryDirectory(), sideways = try makeTemporaryDirectory()
        var count = 0
        for person in try FileManager.default.contentsOfDirectory(atPath: root.path).filter({ !$0.hasPrefix(".") }).sorted() {
            let folder = root.appendingPathComponent(person)
            for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).filter({ $0.hasSuffix(".jpg") }).sorted().prefix(2) {
                let picture = try ImageDecoder.decode(fileAt: folder.appendingPathComponent(file))
                // Stored turned the other way, so that the tag's turn shows it upright.
                let orientation: UInt16 = count % 2 == 0 ? 6 : 8
                let stored = try ImageEncoder(format: .jpeg, quality: 95).encode(picture.rotated(clockwise: orientation == 6 ? 270 : 90))
                let shown = try ImageDecoder.decode(stored, path: file).rotated(clockwise: orientation == 6 ? 90 : 270)
                let name = (file as NSString).deletingPathExtension
                try ImageEncoder(format: .png).encode(shown).write(to: upright.appendingPathComponent(name + ".png"))
                try ImageOrientationTests.withOrientation(stored, orientation).write(to: sideways.appendingPathComponent(name + ".jpg"))
                count += 1
            }
        }
        XCTAssertEqual(count, 20)
        let workspace = try makeTemporaryDirectory()
        let run = try detect([upright.path, sideways.path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (_, manifest) = try run.manifest()
        func faces(_ input: Int) -> [String: [FaceItem]] {
            Dictionary(grouping: manifest.items.filter { $0.input == input }) { item in
                ((item.frame ?? "") as NSString).lastPathComponent.components(separatedBy: ".")[0]
            }
        }
        let plain = faces(0), turned = faces(1)
        XCTAssertGreaterThanOrEqual(plain.values.map(\.count).reduce(0, +), 20)
        XCTAssertEqual(Set(plain.keys), Set(turned.keys), "photos with faces")
        for (name, expected) in plain {
            let found = turned[name] ?? []
            XCTAssertEqual(found.count, expected.count, name)
            for (a, b) in zip(expected.sorted { $0.box.x < $1.box.x }, found.sorted { $0.box.x < $1.box.x }) {
                XCTAssertEqual(b.frameWidth, a.frameWidth, name)
                XCTAssertEqual(b.frameHeight, a.frameHeight, name)
                for (u, v) in [(a.box.x, b.box.x), (a.box.y, b.box.y), (a.box.width, b.box.width), (a.pose.roll, b.pose.roll)] {
                    XCTAssertEqual(u, v, accuracy: 0.01, name)
                }
            }
        }
    }

    /// d3.mp4: one track for its one person; yaw changes sign where she turns (frame 216 to her right,
    /// 264 to her left); crops warp back onto the frame.
    func testWholeClipOneTrackAndPose() throws {
        let (url, manifest, _) = try DetectFixtures.d3.get()
        XCTAssertGreaterThan(manifest.items.count, 340)
        XCTAssertEqual(Set(manifest.items.map(\.track)).count, 1)
        let byFrame = Dictionary(grouping: manifest.items, by: \.frameNumber)
        let left = try XCTUnwrap(byFrame[216]?.first), right = try XCTUnwrap(byFrame[264]?.first)
        XCTAssertLessThan(left.pose.yaw, -5)
        XCTAssertGreaterThan(right.pose.yaw, 10)
        // Alignment round trip through the stored matrix.
        let frames = try decodeFrames(TestPaths.video("d3.mp4"), numbers: [216, 264])
        for item in [left, right] {
            let frame = try XCTUnwrap(frames[item.frameNumber])
            let crop = try ImageDecoder.decode(fileAt: ManifestIO.resolve(item.crop, relativeToManifest: url))
            let m = item.matrix
            let alignment = try XCTUnwrap(FaceAlignment(matrix: AffineMatrix2x3(a: m[0], b: m[1], tx: m[2], c: m[3], d: m[4], ty: m[5]),
                                                         size: manifest.cropSize))
            let mesh = stride(from: 0, to: item.mesh.count, by: 3).map { SIMD2(Double(item.mesh[$0]), Double(item.mesh[$0 + 1])) }
            let hull = FaceMask(hullOf: mesh, width: frame.width, height: frame.height)
            let back = alignment.warpBack(crop: crop, into: RGBImage(width: frame.width, height: frame.height), mask: nil)
            let db = maskedPSNR(back, frame, mask: hull.values)
            XCTAssertGreaterThan(db, 32, "frame \(item.frameNumber): warp-back PSNR \(db) dB over the face hull")
        }
    }

    /// Mirrored frames give mirrored yaw (within 3°) and roll, and the same pitch.
    func testMirroredInputMirrorsYaw() throws {
        let frames = try decodeFrames(TestPaths.video("d3.mp4"), numbers: [40, 216, 264, 300])
        let folder = try makeTemporaryDirectory(), mirrored = try makeTemporaryDirectory()
        for (number, image) in frames {
            try ImageEncoder(format: .png).encode(image).write(to: folder.appendingPathComponent("\(number).png"))
            try ImageEncoder(format: .png).encode(image.mirrored()).write(to: mirrored.appendingPathComponent("\(number).png"))
        }
        let workspace = try makeTemporaryDirectory()
        let run = try detect([folder.path, mirrored.path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (_, manifest) = try run.manifest()
        let plain = facesByFrameName(.init(tool: manifest.tool, createdAt: "", inputs: [], cropSize: 0, centering: "", framesAnalysed: [],
                                           items: manifest.items.filter { $0.input == 0 }, damage: []))
        let flipped = facesByFrameName(.init(tool: manifest.tool, createdAt: "", inputs: [], cropSize: 0, centering: "", framesAnalysed: [],
                                             items: manifest.items.filter { $0.input == 1 }, damage: []))
        for number in frames.keys {
            let a = try XCTUnwrap(plain["\(number).png"]?.first), b = try XCTUnwrap(flipped["\(number).png"]?.first)
            XCTAssertEqual(a.pose.yaw, -b.pose.yaw, accuracy: 3, "frame \(number)")
            XCTAssertEqual(a.pose.roll, -b.pose.roll, accuracy: 3, "frame \(number)")
            XCTAssertEqual(a.pose.pitch, b.pose.pitch, accuracy: 3, "frame \(number)")
        }
    }

    /// two_people_stage.mp4: faces labelled by hand on a few frames (a point inside each face) must never
    /// share a track with another person's; the contact sheet is written.
    func testTracksNeverMixPeople() throws {
        let workspace = try makeTemporaryDirectory()
        let sheet = workspace.appendingPathComponent("sheet.png")
        let clip = TestPaths.repo.appendingPathComponent("Datasets/samples/two_people_stage.mp4")
        let run = try detect(["--contact-sheet", sheet.path, clip.path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (_, manifest) = try run.manifest()
        // (frame, person, x, y): Lin-Manuel Miranda singing, then (after a dissolve) Barack Obama and a woman
        // in the audience.
        let labels: [(Int, String, Double, Double)] = [
            (10, "miranda", 541, 74), (100, "miranda", 241, 145), (150, "miranda", 251, 85), (200, "miranda", 296, 96),
            (215, "obama", 340, 87), (240, "obama", 342, 87), (270, "obama", 349, 92), (215, "woman", 67, 102), (270, "woman", 68, 102),
        ]
        var people: [Int64: Set<String>] = [:]
        for (frame, person, x, y) in labels {
            let face = manifest.items.first { $0.frameNumber == frame && x >= $0.box.x && x <= $0.box.x + $0.box.width
                && y >= $0.box.y && y <= $0.box.y + $0.box.height }
            let found = try XCTUnwrap(face, "no face of \(person) in frame \(frame)")
            people[found.track, default: []].insert(person)
        }
        for (track, names) in people { XCTAssertEqual(names.count, 1, "track \(track) mixes \(names.sorted())") }
        let size = try ImageDecoder.size(ofFileAt: sheet)
        XCTAssertEqual(size.height, 96 * Set(manifest.items.map(\.track)).count)
    }

    // MARK: Helpers

    /// Frames of a video by frame number (0-based decode order).
    func decodeFrames(_ url: URL, numbers: Set<Int>) throws -> [Int: RGBImage] {
        let reader = try VideoReader(url: url)
        let converter = FrameConverter()
        var out: [Int: RGBImage] = [:]
        var index = 0
        while let frame = try reader.nextFrame(), out.count < numbers.count {
            if numbers.contains(index) { out[index] = try converter.rgb(frame) }
            index += 1
        }
        return out
    }

    /// PSNR over the pixels where `mask` is non-zero.
    func maskedPSNR(_ a: RGBImage, _ b: RGBImage, mask: [UInt8]) -> Double {
        var sum = 0.0, n = 0
        for i in 0..<(a.width * a.height) where mask[i] != 0 {
            for c in 0..<3 {
                let d = Double(a.pixels[3 * i + c]) - Double(b.pixels[3 * i + c])
                sum += d * d
                n += 1
            }
        }
        guard n > 0, sum > 0 else { return n > 0 ? .infinity : 0 }
        return 10 * log10(255 * 255 / (sum / Double(n)))
    }
}
