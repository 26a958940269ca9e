import FacetCore
import Foundation
import Media
import XCTest

final class ImageCodecTests: XCTestCase {
    func testDecodesFixtureFormats() throws {
        let jpg = try ImageDecoder.decode(fileAt: TestPaths.fixture("images/obama_small.jpg"))
        XCTAssertEqual(jpg.width, 320)
        XCTAssertEqual(jpg.height, 240)
        let webp = try ImageDecoder.decode(fileAt: TestPaths.fixture("images/hopkins.webp"))
        XCTAssertEqual(webp.width, 250)
        XCTAssertEqual(webp.height, 250)
        let bmp = try ImageDecoder.decode(fileAt: TestPaths.fixture("images/hopkins.bmp"))
        XCTAssertEqual(bmp.width, 250)
        XCTAssertEqual(bmp.height, 250)
        XCTAssertEqual(try ImageDecoder.size(ofFileAt: TestPaths.fixture("images/hopkins.bmp")).width, 250)
    }

    func testDecodesSharedPNG() throws {
        let url = TestPaths.image("astronaut.png")
        try requireSharedMedia(url)
        let image = try ImageDecoder.decode(fileAt: url)
        XCTAssertEqual(image.width, 512)
        XCTAssertEqual(image.height, 512)
        XCTAssertEqual(image.pixels.count, 512 * 512 * 3)
        if let reference = try ffmpegReferenceFrame(url, width: 512, height: 512) {
            XCTAssertEqual(image, reference, "a PNG decodes losslessly")
        }
    }

    func testDecodedPixelsMatchFFmpeg() throws {
        // BMP (bottom-up BGR rows) is lossless: exactly ffmpeg's pixels. YUV formats: close to them,
        // across the whole picture (a missing right edge or a garbage column would fail this).
        let bmpURL = TestPaths.fixture("images/hopkins.bmp")
        guard let bmpReference = try ffmpegReferenceFrame(bmpURL, width: 250, height: 250) else {
            throw missingPrerequisite("ffmpeg is not installed")
        }
        XCTAssertEqual(try ImageDecoder.decode(fileAt: bmpURL), bmpReference)
        for (name, w, h) in [("hopkins.webp", 250, 250), ("obama_small.jpg", 320, 240)] {
            let url = TestPaths.fixture("images/\(name)")
            let ours = try ImageDecoder.decode(fileAt: url)
            let reference = try XCTUnwrap(try ffmpegReferenceFrame(url, width: w, height: h))
            XCTAssertGreaterThan(psnr(ours, reference), 30, name)
            XCTAssertGreaterThan(psnr(column(ours, ours.width - 1), column(reference, w - 1)), 25, "\(name): right edge")
        }
    }

    private func column(_ image: RGBImage, _ x: Int) -> RGBImage {
        var pixels: [UInt8] = []
        for y in 0..<image.height {
            let i = (y * image.width + x) * 3
            pixels += image.pixels[i..<i + 3]
        }
        return RGBImage(width: 1, height: image.height, pixels: pixels)
    }

    private func row(_ image: RGBImage, _ y: Int) -> RGBImage {
        RGBImage(width: image.width, height: 1, pixels: Array(image.pixels[(y * image.width * 3)..<((y + 1) * image.width * 3)]))
    }

    func testPNGRoundTripIsExact() throws {
        var rng = SplitMix64(seed: 0x0009_46A1)
        let encoder = try ImageEncoder(format: .png)
        for (w, h) in [(123, 77), (1, 1), (64, 3), (250, 31)] {
            let image = Synthetic.noise(width: w, height: h, rng: &rng)
            let data = try encoder.encode(image)
            XCTAssertEqual(ImageFormat(signature: data), .png)
            XCTAssertEqual(try ImageDecoder.decode(data, path: "(memory)"), image, "\(w)x\(h)")
        }
        // Through a file, too.
        let url = try makeTemporaryDirectory().appendingPathComponent("noise.png")
        let image = Synthetic.noise(width: 40, height: 30, rng: &rng)
        try encoder.encode(image).write(to: url)
        XCTAssertEqual(try ImageDecoder.decode(fileAt: url), image)
    }

    func testJPEGRoundTripKeepsQuality() throws {
        let encoder = try ImageEncoder(format: .jpeg, quality: 95)
        // Widths that are and are not multiples of 8 and 16 (odd widths exercise the converters' edges).
        for (w, h) in [(320, 240), (100, 60), (250, 90), (97, 55), (111, 1), (1, 9)] {
            let image = Synthetic.gradient(width: w, height: h)
            let data = try encoder.encode(image)
            XCTAssertEqual(ImageFormat(signature: data), .jpeg)
            let decoded = try ImageDecoder.decode(data, path: "(memory)")
            XCTAssertEqual(decoded.width, w)
            XCTAssertEqual(decoded.height, h)
            XCTAssertGreaterThan(psnr(decoded, image), 30, "\(w)x\(h)")
            XCTAssertGreaterThan(psnr(column(decoded, w - 1), column(image, w - 1)), 30, "\(w)x\(h): right edge")
            XCTAssertGreaterThan(psnr(row(decoded, h - 1), row(image, h - 1)), 30, "\(w)x\(h): bottom edge")
        }
    }

    func testJPEGQualityMapping() throws {
        XCTAssertEqual(ImageEncoder.jpegQScale(forQuality: 100), 2)
        XCTAssertEqual(ImageEncoder.jpegQScale(forQuality: 1), 31)
        XCTAssertEqual(ImageEncoder.jpegQScale(forQuality: 500), 2)
        XCTAssertEqual(ImageEncoder.jpegQScale(forQuality: -3), 31)
        let image = Synthetic.gradient(width: 160, height: 120, square: (40, 30, 30))
        let high = try ImageEncoder(format: .jpeg, quality: 100).encode(image)
        let low = try ImageEncoder(format: .jpeg, quality: 5).encode(image)
        XCTAssertGreaterThan(high.count, low.count)
        XCTAssertGreaterThan(psnr(try ImageDecoder.decode(high, path: "high"), image),
                             psnr(try ImageDecoder.decode(low, path: "low"), image))
        XCTAssertEqual(try ImageEncoder(format: .jpeg, quality: 0).quality, 1)
    }

    func testEncoderRefusesOtherOutputFormats() {
        for format in [ImageFormat.webp, .bmp] {
            XCTAssertThrowsError(try ImageEncoder(format: format)) { error in
                guard case .unsupportedCodec? = error as? MediaError else { return XCTFail("\(error)") }
            }
        }
    }

    func testFormatDetection() {
        XCTAssertEqual(ImageFormat(fileExtension: "JPG"), .jpeg)
        XCTAssertEqual(ImageFormat(fileExtension: "jpeg"), .jpeg)
        XCTAssertEqual(ImageFormat(fileExtension: "png"), .png)
        XCTAssertEqual(ImageFormat(fileExtension: "WebP"), .webp)
        XCTAssertEqual(ImageFormat(fileExtension: "bmp"), .bmp)
        XCTAssertNil(ImageFormat(fileExtension: "mp4"))
        XCTAssertNil(ImageFormat(fileExtension: ""))
        XCTAssertEqual(ImageFormat.jpeg.fileExtension, "jpg")
        XCTAssertEqual(ImageFormat(signature: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])), .png)
        XCTAssertEqual(ImageFormat(signature: Data([0xFF, 0xD8, 0xFF, 0xE0])), .jpeg)
        XCTAssertEqual(ImageFormat(signature: Data("RIFF\u{0}\u{0}\u{0}\u{0}WEBP".utf8)), .webp)
        XCTAssertEqual(ImageFormat(signature: Data("BM".utf8)), .bmp)
        XCTAssertNil(ImageFormat(signature: Data("GIF89a".utf8)))
        XCTAssertNil(ImageFormat(signature: Data()))
    }

    // MARK: Bad images

    private func assertImageError(_ url: URL, status: ExitStatus = .dataError, file: StaticString = #filePath, line: UInt = #line,
                                  _ matches: (MediaError) -> Bool) {
        XCTAssertThrowsError(try ImageDecoder.decode(fileAt: url), file: file, line: line) { error in
            guard let media = error as? MediaError else { return XCTFail("not a MediaError: \(error)", file: file, line: line) }
            XCTAssertTrue(matches(media), "unexpected \(media)", file: file, line: line)
            XCTAssertEqual(media.exitStatus, status, file: file, line: line)
            XCTAssertTrue(media.description.contains(url.path), "\(media.description) should name the file", file: file, line: line)
        }
    }

    func testDamagedImagesThrowNamingTheFile() throws {
        let dir = try makeTemporaryDirectory()
        let jpeg = try Data(contentsOf: TestPaths.fixture("images/obama_small.jpg"))
        let truncated = dir.appendingPathComponent("truncated.jpg")
        try jpeg.prefix(200).write(to: truncated)
        assertImageError(truncated) { if case .undecodable = $0 { return true }; return false }

        var rng = SplitMix64(seed: 0xDA3A_6ED)
        let garbagePNG = dir.appendingPathComponent("garbage.png")
        try (Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + Data(rng.bytes(3000))).write(to: garbagePNG)
        assertImageError(garbagePNG) { if case .undecodable = $0 { return true }; return false }

        let text = dir.appendingPathComponent("text.png")
        try Data("not an image".utf8).write(to: text)
        assertImageError(text) { if case .unreadable = $0 { return true }; return false }

        let empty = dir.appendingPathComponent("empty.jpg")
        try Data().write(to: empty)
        assertImageError(empty) { $0 == .emptyFile(path: empty.path) }

        let missing = dir.appendingPathComponent("missing.png")
        assertImageError(missing, status: .noInput) { $0 == .missing(path: missing.path) }

        let big = TestPaths.fixture("images/obama_small.jpg")
        XCTAssertThrowsError(try ImageDecoder.decode(fileAt: big, maxPixels: 320 * 240 - 1)) { error in
            XCTAssertEqual(error as? MediaError, .frameTooLarge(path: big.path, width: 320, height: 240, maxPixels: 320 * 240 - 1))
        }
    }

    func testRandomlyDamagedJPEGsNeverCrash() throws {
        // Flip bytes in a valid JPEG: decoding either succeeds at the right size or throws a MediaError.
        let original = try Data(contentsOf: TestPaths.fixture("images/obama_small.jpg"))
        var rng = SplitMix64(seed: 0xF11F)
        for trial in 0..<25 {
            var bytes = [UInt8](original)
            for _ in 0..<Int.random(in: 1...20, using: &rng) {
                let i = Int.random(in: 3..<bytes.count, using: &rng)
                bytes[i] = UInt8.random(in: 0...255, using: &rng)
            }
            if trial % 3 == 0 { bytes.removeLast(Int.random(in: 1..<bytes.count / 2, using: &rng)) }
            do {
                let image = try ImageDecoder.decode(Data(bytes), path: "trial-\(trial).jpg")
                XCTAssertGreaterThan(image.width, 0)
                XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
            } catch let error as MediaError {
                XCTAssertTrue(error.description.contains("trial-\(trial).jpg"))
            }
        }
    }

    // MARK: RGBImage

    func testRotationExamples() {
        // 3x2:  a b c
        //       d e f
        let px: [[UInt8]] = [[1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0], [5, 0, 0], [6, 0, 0]]
        let image = RGBImage(width: 3, height: 2, pixels: px.flatMap { $0 })
        func reds(_ image: RGBImage) -> [UInt8] { stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } }
        let cw = image.rotated(clockwise: 90)
        XCTAssertEqual(cw.width, 2)
        XCTAssertEqual(cw.height, 3)
        XCTAssertEqual(reds(cw), [4, 1, 5, 2, 6, 3])    // d a / e b / f c
        XCTAssertEqual(reds(image.rotated(clockwise: 180)), [6, 5, 4, 3, 2, 1])
        XCTAssertEqual(reds(image.rotated(clockwise: 270)), [3, 6, 2, 5, 1, 4])
        XCTAssertEqual(reds(image.mirrored()), [3, 2, 1, 6, 5, 4])
        XCTAssertEqual(image.rotated(clockwise: -90), image.rotated(clockwise: 270))
        XCTAssertEqual(image.rotated(clockwise: 450), cw)
        XCTAssertEqual(image.rotated(clockwise: 0), image)
        XCTAssertEqual(image.rotated(clockwise: 360), image)
    }

    func testRotationAndMirrorProperties() {
        var rng = SplitMix64(seed: 0x0207_A7E)
        for trial in 0..<60 {
            let image = Synthetic.noise(width: Int.random(in: 1...17, using: &rng), height: Int.random(in: 1...13, using: &rng), rng: &rng)
            let label = "trial \(trial): \(image.width)x\(image.height)"
            var turned = image
            for _ in 0..<4 { turned = turned.rotated(clockwise: 90) }
            XCTAssertEqual(turned, image, "four quarter turns, \(label)")
            XCTAssertEqual(image.rotated(clockwise: 90).rotated(clockwise: 270), image, "90 then 270, \(label)")
            XCTAssertEqual(image.rotated(clockwise: 270).rotated(clockwise: 90), image, "270 then 90, \(label)")
            XCTAssertEqual(image.rotated(clockwise: 180).rotated(clockwise: 180), image, "180 twice, \(label)")
            XCTAssertEqual(image.rotated(clockwise: 90).rotated(clockwise: 90), image.rotated(clockwise: 180), label)
            XCTAssertEqual(image.mirrored().mirrored(), image, "mirrored twice, \(label)")
            // Mirroring then a half turn flips top to bottom: doing it twice is the identity too.
            XCTAssertEqual(image.mirrored().rotated(clockwise: 180).mirrored().rotated(clockwise: 180), image, label)
        }
    }

    func testLumaAndPSNR() {
        let white = RGBImage(width: 4, height: 2, fill: (255, 255, 255))
        XCTAssertEqual(white.luma().count, 8)
        XCTAssertEqual(Double(white.luma()[0]), 255, accuracy: 0.01)
        XCTAssertEqual(Double(RGBImage(width: 1, height: 1, fill: (255, 0, 0)).luma()[0]), 0.299 * 255, accuracy: 0.01)
        XCTAssertEqual(psnr(white, white), .infinity)
        var off = white
        off.pixels[0] = 254
        XCTAssertEqual(psnr(white, off), 10 * log10(255.0 * 255.0 / (1.0 / 24)), accuracy: 1e-9)
    }
}
