import FacetCore
import Foundation
import Media
import XCTest

/// Photos whose EXIF Orientation says how to show them (a phone stores a portrait shot on its side) decode
/// as shown, in all eight orientations, the way EXIF defines them (not just the way one decoder happens to).
final class ImageOrientationTests: XCTestCase {
    /// EXIF orientation → the shown picture, from the stored one, by the standard's definitions (TIFF 6.0 /
    /// EXIF 2.3: 2 mirror, 3 half turn, 4 flip top to bottom, 5 transpose, 6 quarter turn clockwise,
    /// 7 transverse, 8 quarter turn anticlockwise), built from the test's own turn and mirror.
    static func shown(_ stored: RGBImage, orientation: Int) -> RGBImage {
        switch orientation {
        case 2: return stored.mirrored()
        case 3: return stored.rotated(clockwise: 180)
        case 4: return stored.rotated(clockwise: 180).mirrored()
        case 5: return transposed(stored)
        case 6: return stored.rotated(clockwise: 90)
        case 7: return transposed(stored).rotated(clockwise: 180)
        case 8: return stored.rotated(clockwise: 270)
        default: return stored
        }
    }

    /// Rows become columns: the shown pixel (x, y) is the stored pixel (y, x).
    static func transposed(_ image: RGBImage) -> RGBImage {
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let s = (y * image.width + x) * 3, d = (x * image.height + y) * 3
                out[d] = image.pixels[s]; out[d + 1] = image.pixels[s + 1]; out[d + 2] = image.pixels[s + 2]
            }
        }
        return RGBImage(width: image.height, height: image.width, pixels: out)
    }

    /// JPEG bytes with an EXIF APP1 segment holding only Orientation = `orientation`, right after the
    /// start-of-image marker (as cameras write it); the compressed picture is untouched.
    static func withOrientation(_ jpeg: Data, _ orientation: UInt16, bigEndian: Bool = true) -> Data {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { bigEndian ? [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
                                                     : [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
        // TIFF header, one IFD entry: tag 0x0112 (Orientation), type SHORT, count 1, the value left-justified.
        var tiff: [UInt8] = (bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]) + u16(42) + u32(8)
        tiff += u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0) + u32(0)
        let payload: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let segment: [UInt8] = [0xFF, 0xE1] + [UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload
        return jpeg.prefix(2) + Data(segment) + jpeg.dropFirst(2)
    }

    func testEveryEXIFOrientationDecodesAsShown() throws {
        // An asymmetric picture (320x240, not square): every wrong turn or mirror changes it.
        let picture = try ImageDecoder.decode(fileAt: TestPaths.fixture("images/obama_small.jpg"))
        let jpeg = try ImageEncoder(format: .jpeg, quality: 95).encode(picture)
        let stored = try ImageDecoder.decode(jpeg, path: "stored.jpg")
        for bigEndian in [true, false] {
            for orientation in 1...8 {
                let tagged = Self.withOrientation(jpeg, UInt16(orientation), bigEndian: bigEndian)
                let decoded = try ImageDecoder.decode(tagged, path: "orientation-\(orientation).jpg")
                let expected = Self.shown(stored, orientation: orientation)
                XCTAssertEqual(decoded.width, expected.width, "orientation \(orientation)")
                XCTAssertEqual(decoded.height, expected.height, "orientation \(orientation)")
                XCTAssertTrue(decoded == expected, "orientation \(orientation) (\(bigEndian ? "big" : "little")-endian EXIF): not the picture as shown")
            }
        }
        // Orientation values outside 1-8 are ignored: the picture as stored.
        XCTAssertEqual(try ImageDecoder.decode(Self.withOrientation(jpeg, 9), path: "nine.jpg"), stored)
        XCTAssertEqual(try ImageDecoder.decode(Self.withOrientation(jpeg, 0), path: "zero.jpg"), stored)
        XCTAssertEqual(try ImageDecoder.size(ofFileAt: try writeTemporary(Self.withOrientation(jpeg, 6))).width, 240)
    }

    /// A file that is written to a temporary folder (for the file-based entry points).
    private func writeTemporary(_ data: Data) throws -> URL {
        let url = try makeTemporaryDirectory().appendingPathComponent("photo.jpg")
        try data.write(to: url)
        return url
    }

    func testOrientationDescriptions() {
        XCTAssertEqual(DisplayOrientation.upright.description, "upright")
        XCTAssertEqual(DisplayOrientation.upright.clockwiseDegrees, 0)
        XCTAssertFalse(DisplayOrientation.upright.isMirrored)
        XCTAssertFalse(DisplayOrientation.upright.swapsSides)
        let still = RGBImage(width: 3, height: 2, pixels: Array(0..<18))
        XCTAssertEqual(DisplayOrientation.upright.apply(to: still), still)
    }
}
