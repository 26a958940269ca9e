import Augment
import Faces
import FacetCore
import Media
import XCTest

/// Errors that used to bypass `FacetError` (and so exited 1): bad image-quality input and bad augmentation
/// settings or faces are bad data, exit 65, with the one-line description the tools print.
final class TypedErrorTests: XCTestCase {
    func testImageQualityErrorIsBadData() {
        let image = RGBImage(width: 4, height: 4, fill: (90, 90, 90))
        XCTAssertThrowsError(try ImageQuality(image: image, mask: [UInt8](repeating: 0, count: 16))) { error in
            guard let e = error as? any FacetError else { return XCTFail("\(error) is not a FacetError") }
            XCTAssertEqual(e.exitStatus, .dataError)
            XCTAssertEqual(e.description, "no pixel to measure (empty image or empty mask)")
        }
    }

    func testAugmentErrorIsBadData() {
        XCTAssertThrowsError(try AugmentGeometry(outputSize: 4, coverage: 0.75)) { error in
            guard let e = error as? any FacetError else { return XCTFail("\(error) is not a FacetError") }
            XCTAssertEqual(e.exitStatus, .dataError)
            XCTAssertEqual(e.description, "invalid augmentation: output size 4 is outside 8...1024")
        }
        let notSquare = RGBImage(width: 16, height: 12)
        XCTAssertThrowsError(try AugmentSource(crop: notSquare, landmarks68: [], mask: nil, processingSize: 16)) { error in
            XCTAssertEqual((error as? any FacetError)?.exitStatus, .dataError)
        }
    }
}
