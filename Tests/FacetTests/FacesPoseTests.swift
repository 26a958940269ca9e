import Faces
import Foundation
import Media
import Models
import XCTest

/// Head pose from the FaceMesh: mirror symmetry on real faces, a real head turn in a clip, a frontal
/// face, and exact rotations of a real mesh (the sign conventions).
final class FacesPoseTests: XCTestCase {
    /// A still's mesh (BlazeFace short range, FaceMesh refined once on its own landmarks).
    private func mesh(_ image: RGBImage, file: StaticString = #filePath, line: UInt = #line) throws -> [SIMD3<Double>] {
        let detector = try BlazeFace(range: .short), faceMesh = try FaceMesh()
        guard let result = FaceProbe.mesh(image, detector: detector, mesh: faceMesh) else {
            XCTFail("no face found", file: file, line: line)
            return []
        }
        return result.points
    }

    private func pose(_ image: RGBImage) throws -> HeadPose? { HeadPose(mesh: try mesh(image)) }

    /// Mirroring negates yaw and roll and keeps pitch, within 3°, on the astronaut and five LFW faces.
    /// FaceMesh itself is not exactly mirror-equivariant (see `testMirrorSymmetryAcrossLFWSurvey`: about
    /// one LFW face in three misses 3° on some angle); these six were checked to be within it.
    func testMirroredFacesNegateYawAndRoll() throws {
        let urls = [TestPaths.image("astronaut.png"), FaceProbe.identity("Tony_Blair", 1), FaceProbe.identity("George_W_Bush", 1),
                    FaceProbe.identity("Vladimir_Putin", 3), FaceProbe.identity("Hugo_Chavez", 2), FaceProbe.identity("Colin_Powell", 4)]
        try requireSharedMedia(urls[0])
        for url in urls {
            let image = try ImageDecoder.decode(fileAt: url)
            guard let a = try pose(image), let b = try pose(image.mirrored()) else { XCTFail("\(url.lastPathComponent): no pose"); continue }
            let name = url.lastPathComponent
            XCTAssertEqual(a.yaw, -b.yaw, accuracy: 3, "\(name) yaw \(a.yaw) mirrored \(b.yaw)")
            XCTAssertEqual(a.roll, -b.roll, accuracy: 3, "\(name) roll \(a.roll) mirrored \(b.roll)")
            XCTAssertEqual(a.pitch, b.pitch, accuracy: 3, "\(name) pitch \(a.pitch) mirrored \(b.pitch)")
        }
    }

    /// All 50 LFW images of the first five of each of the ten identities: the mirror errors
    /// (|yaw + yaw'|, |pitch - pitch'|, |roll + roll'|) stay small on average and never large, and every
    /// clearly turned face (|yaw| > 5°) flips the sign of its yaw.
    func testMirrorSymmetryAcrossLFWSurvey() throws {
        try requireSharedMedia(TestPaths.faces.appendingPathComponent("identities"))
        let people = ["Ariel_Sharon", "Arnold_Schwarzenegger", "Colin_Powell", "Donald_Rumsfeld", "George_W_Bush",
                      "Gerhard_Schroeder", "Hugo_Chavez", "Jacques_Chirac", "Tony_Blair", "Vladimir_Putin"]
        let detector = try BlazeFace(range: .short), faceMesh = try FaceMesh()
        var errors: [[Double]] = [[], [], []]
        for person in people {
            for k in 1...5 {
                let image = try ImageDecoder.decode(fileAt: FaceProbe.identity(person, k))
                guard let ma = FaceProbe.mesh(image, detector: detector, mesh: faceMesh), let a = HeadPose(mesh: ma.points),
                      let mb = FaceProbe.mesh(image.mirrored(), detector: detector, mesh: faceMesh), let b = HeadPose(mesh: mb.points)
                else { XCTFail("\(person) \(k): no pose"); continue }
                errors[0].append(abs(a.yaw + b.yaw)); errors[1].append(abs(a.pitch - b.pitch)); errors[2].append(abs(a.roll + b.roll))
                if abs(a.yaw) > 5 { XCTAssertLessThan(a.yaw * b.yaw, 0, "\(person) \(k): yaw \(a.yaw) mirrored \(b.yaw)") }
            }
        }
        for (name, e) in zip(["yaw", "pitch", "roll"], errors) where !e.isEmpty {
            let mean = e.reduce(0, +) / Double(e.count)
            let within3 = Double(e.filter { $0 <= 3 }.count) / Double(e.count)
            print(String(format: "mirror survey %@: mean %.2f°, max %.2f°, %.0f%% within 3°", name, mean, e.max() ?? 0, within3 * 100))
            XCTAssertLessThan(mean, 2.5, "\(name): mean mirror error")
            XCTAssertLessThan(e.max() ?? 0, 10, "\(name): worst mirror error")
            XCTAssertGreaterThan(within3, 0.8, "\(name): share of faces within 3°")
        }
    }

    /// videos/d3.mp4 turns its head: around frame 216 to the subject's right (nose to the image's left),
    /// around frame 264 to their left (nose to the image's right). Yaw changes sign between them.
    func testYawChangesSignAcrossHeadTurnInClip() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"))
        let rows = try FaceProbe.d3Scan.get()
        XCTAssertGreaterThan(rows.count, 35, "frames with a face")
        guard let low = rows.min(by: { $0.pose.yaw < $1.pose.yaw }), let high = rows.max(by: { $0.pose.yaw < $1.pose.yaw }),
              let turnedRight = rows.first(where: { $0.frame == 216 }), let turnedLeft = rows.first(where: { $0.frame == 264 }) else {
            return XCTFail("frames 216 and 264 must have a face")
        }
        print(String(format: "d3 yaw: most negative %.1f° at frame %d, most positive %.1f° at frame %d; frame 216 %.1f°, frame 264 %.1f°",
                     low.pose.yaw, low.frame, high.pose.yaw, high.frame, turnedRight.pose.yaw, turnedLeft.pose.yaw))
        XCTAssertLessThan(turnedRight.pose.yaw, -5)
        XCTAssertGreaterThan(turnedLeft.pose.yaw, 5)
        XCTAssertGreaterThan(high.pose.yaw - low.pose.yaw, 25, "a real turn")
    }

    /// The astronaut looks at the camera: |yaw| and |pitch| under 15° (measured about 0° and -11°;
    /// the pitch is the anatomical offset of the forehead-to-chin axis, see `HeadPose`).
    func testFrontalFaceIsNearZero() throws {
        try requireSharedMedia(TestPaths.image("astronaut.png"))
        guard let p = try pose(try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))) else { return XCTFail("no pose") }
        print(String(format: "astronaut pose: yaw %.2f° pitch %.2f° roll %.2f°", p.yaw, p.pitch, p.roll))
        XCTAssertLessThan(abs(p.yaw), 15)
        XCTAssertLessThan(abs(p.pitch), 15)
        XCTAssertLessThan(abs(p.roll), 15)
    }

    /// Rotating the astronaut's real mesh rigidly by known angles moves the pose by those angles with
    /// the documented signs: yaw + when the nose moves to the image's right, pitch + when it moves up,
    /// roll + for a clockwise turn on screen.
    func testKnownRotationsOfRealMesh() throws {
        try requireSharedMedia(TestPaths.image("astronaut.png"))
        let points = try mesh(try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png")))
        guard let base = HeadPose(mesh: points) else { return XCTFail("no pose") }
        let centre = points.reduce(SIMD3<Double>.zero, +) / Double(points.count)
        func rotated(_ f: (SIMD3<Double>) -> SIMD3<Double>) -> HeadPose? { HeadPose(mesh: points.map { f($0 - centre) + centre }) }
        let t = 20 * Double.pi / 180, c = cos(t), s = sin(t)
        // Nose (−z) towards +x: x' = c x − s z, z' = s x + c z.
        let yawed = rotated { SIMD3(c * $0.x - s * $0.z, $0.y, s * $0.x + c * $0.z) }
        // Nose (−z) towards −y (up): y' = c y + s z, z' = −s y + c z.
        let pitched = rotated { SIMD3($0.x, c * $0.y + s * $0.z, -s * $0.y + c * $0.z) }
        // Clockwise on screen (y down): x' = c x − s y, y' = s x + c y.
        let rolled = rotated { SIMD3(c * $0.x - s * $0.y, s * $0.x + c * $0.y, $0.z) }
        XCTAssertEqual((yawed?.yaw ?? 0) - base.yaw, 20, accuracy: 1.5)
        XCTAssertEqual((pitched?.pitch ?? 0) - base.pitch, 20, accuracy: 1.5)
        XCTAssertEqual((rolled?.roll ?? 0) - base.roll, 20, accuracy: 1.5)
        XCTAssertNil(HeadPose(mesh: Array(points.prefix(100))), "short mesh")
        XCTAssertNil(HeadPose(mesh: [SIMD3<Double>](repeating: .zero, count: 468)), "degenerate mesh")
    }
}
