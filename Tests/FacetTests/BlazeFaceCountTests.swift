import Foundation
import Media
import Models
import XCTest

/// Face counts on real photos, as `detect` will need them: full range with 2x2 overlapping tiles finds the
/// small faces of group photos that the whole-image pass misses, without inventing faces on dogs.
final class BlazeFaceCountTests: XCTestCase {
    func testTiledFullRangeCountsFaces() throws {
        let detector = try BlazeFace(range: .full)
        for (name, expected) in [("group_six.jpg", 6), ("two_people.jpg", 2), ("obama.jpg", 1), ("no_face_dogs.jpg", 0)] {
            let image = try ImageDecoder.decode(fileAt: TestPaths.image(name))
            let faces = detector.detect(image, tiles: 2)
            XCTAssertEqual(faces.count, expected, "\(name): \(faces.map { String(format: "%.2f at %.0f,%.0f", $0.score, $0.x, $0.y) })")
            for face in faces {
                XCTAssertTrue(face.x > -face.width && face.x < Double(image.width) && face.y > -face.height && face.y < Double(image.height),
                              "\(name): box outside the image")
            }
        }
    }

    func testTilesKeepTheWholeImageFace() throws {
        // A large single face is found once, not once per tile.
        let image = try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))
        let whole = try BlazeFace(range: .full).detect(image)
        let tiled = try BlazeFace(range: .full).detect(image, tiles: 2)
        XCTAssertEqual(whole.count, 1)
        XCTAssertEqual(tiled.count, 1)
        if let a = whole.first, let b = tiled.first { XCTAssertGreaterThan(BlazeFace.iou(a, b), 0.8) }
    }

    func testCroppedIsTheRectangle() {
        var rng = SplitMix64(seed: 5)
        let image = RGBImage(width: 7, height: 5, pixels: rng.bytes(7 * 5 * 3))
        let crop = image.cropped(x: 2, y: 1, width: 3, height: 2)
        XCTAssertEqual(crop.width, 3)
        XCTAssertEqual(Array(crop.pixels[0..<9]), Array(image.pixels[((1 * 7 + 2) * 3)..<((1 * 7 + 5) * 3)]))
        XCTAssertEqual(Array(crop.pixels[9..<18]), Array(image.pixels[((2 * 7 + 2) * 3)..<((2 * 7 + 5) * 3)]))
    }
}
