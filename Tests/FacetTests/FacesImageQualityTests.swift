import FacetCore
import Faces
import Foundation
import Media
import XCTest

/// Sharpness (variance of the Laplacian), brightness and contrast on luma, with and without a mask.
final class FacesImageQualityTests: XCTestCase {
    /// A 5×5 box blur (edge pixels replicated) of every channel.
    private func boxBlurred(_ image: RGBImage, radius: Int = 2) -> RGBImage {
        var out = image.pixels
        let w = image.width, h = image.height, n = (2 * radius + 1) * (2 * radius + 1)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    var sum = 0
                    for dy in -radius...radius {
                        for dx in -radius...radius {
                            let sx = min(max(x + dx, 0), w - 1), sy = min(max(y + dy, 0), h - 1)
                            sum += Int(image.pixels[(sy * w + sx) * 3 + c])
                        }
                    }
                    out[(y * w + x) * 3 + c] = UInt8((sum + n / 2) / n)
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    func testBlurLowersSharpness() throws {
        try requireSharedMedia(TestPaths.image("astronaut.png"))
        let image = try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))
        let sharp = try ImageQuality(image: image), blurred = try ImageQuality(image: boxBlurred(image))
        print(String(format: "astronaut sharpness %.1f, box-blurred %.1f", sharp.sharpness, blurred.sharpness))
        XCTAssertLessThan(blurred.sharpness, sharp.sharpness / 4)
        XCTAssertEqual(blurred.brightness, sharp.brightness, accuracy: 0.5, "blur keeps the mean")
        XCTAssertLessThan(blurred.contrast, sharp.contrast)
    }

    func testConstantImageHasZeroSharpnessAndContrast() throws {
        let q = try ImageQuality(image: RGBImage(width: 40, height: 30, fill: (90, 140, 200)))
        XCTAssertEqual(q.sharpness, 0)
        XCTAssertEqual(q.contrast, 0, accuracy: 1e-9)
        XCTAssertEqual(q.brightness, 0.299 * 90 + 0.587 * 140 + 0.114 * 200, accuracy: 1e-4)
        XCTAssertEqual(q.pixelCount, 1200)
    }

    /// Left half black, right half white: mean 127.5, standard deviation 127.5, exactly.
    func testBrightnessAndContrastOfKnownImage() throws {
        var image = RGBImage(width: 10, height: 4)
        for y in 0..<4 { for x in 5..<10 { for c in 0..<3 { image.pixels[(y * 10 + x) * 3 + c] = 255 } } }
        let q = try ImageQuality(image: image)
        XCTAssertEqual(q.brightness, 127.5, accuracy: 1e-3)
        XCTAssertEqual(q.contrast, 127.5, accuracy: 1e-3)
        XCTAssertGreaterThan(q.sharpness, 0, "the edge")
        // Masked to the white half only: brightness 255, no contrast, no Laplacian response inside
        // except next to the edge (column 5), which the mask leaves out from column 6 on.
        var mask = [UInt8](repeating: 0, count: 40)
        for y in 0..<4 { for x in 6..<10 { mask[y * 10 + x] = 255 } }
        let white = try ImageQuality(image: image, mask: mask)
        XCTAssertEqual(white.brightness, 255, accuracy: 1e-3)
        XCTAssertEqual(white.contrast, 0, accuracy: 1e-9)
        XCTAssertEqual(white.sharpness, 0)
        XCTAssertEqual(white.pixelCount, 16)
    }

    func testBadMasksThrow() {
        let image = RGBImage(width: 4, height: 4, fill: (1, 2, 3))
        XCTAssertThrowsError(try ImageQuality(image: image, mask: [255])) { error in
            XCTAssertEqual(error as? ImageQualityError, .maskSizeMismatch(expected: 16, got: 1))
        }
        XCTAssertThrowsError(try ImageQuality(image: image, mask: [UInt8](repeating: 0, count: 16))) { error in
            XCTAssertEqual(error as? ImageQualityError, .emptyRegion)
        }
        XCTAssertEqual(try ImageQuality(image: RGBImage(width: 2, height: 2, fill: (9, 9, 9))).sharpness, 0, "too small for the kernel")
    }

    /// On seeded random images and masks (odd sizes, partly masked), the integer computation equals the definition
    /// taken directly in doubles: two-pass mean and variance of luma 0.299 R + 0.587 G + 0.114 B over the selected
    /// pixels, and the variance of the 4-neighbour Laplacian over the selected interior ones.
    func testMatchesTheDefinitionOnRandomImages() throws {
        var rng = SeededRandom(seed: 17)
        for (width, height) in [(3, 3), (7, 5), (31, 17), (64, 64), (257, 3)] {
            var image = RGBImage(width: width, height: height)
            for k in image.pixels.indices { image.pixels[k] = UInt8.random(in: 0...255, using: &rng) }
            let mask = (0..<(width * height)).map { _ in UInt8(Bool.random(using: &rng) ? 255 : 0) }
            for selection in [nil, mask] {
                let luma = (0..<(width * height)).map { (i: Int) -> Double in
                    let r = Double(image.pixels[3 * i]), g = Double(image.pixels[3 * i + 1]), b = Double(image.pixels[3 * i + 2])
                    return 0.299 * r + 0.587 * g + 0.114 * b
                }
                let chosen = luma.indices.filter { (selection?[$0] ?? 1) != 0 }
                let mean = chosen.map { luma[$0] }.reduce(0, +) / Double(chosen.count)
                let variance = chosen.map { (i: Int) -> Double in (luma[i] - mean) * (luma[i] - mean) }.reduce(0, +) / Double(chosen.count)
                var laplacians: [Double] = []
                for y in 1..<(height - 1) {
                    for x in 1..<(width - 1) where (selection?[y * width + x] ?? 1) != 0 {
                        let i = y * width + x
                        let neighbours: Double = luma[i - width] + luma[i + width] + luma[i - 1] + luma[i + 1]
                        laplacians.append(neighbours - 4 * luma[i])
                    }
                }
                let lapMean = laplacians.reduce(0, +) / Double(max(laplacians.count, 1))
                let sharpness = laplacians.map { (v: Double) -> Double in (v - lapMean) * (v - lapMean) }.reduce(0, +) / Double(max(laplacians.count, 1))
                let q = try ImageQuality(image: image, mask: selection)
                let label = "\(width)x\(height) \(selection == nil ? "whole" : "masked")"
                XCTAssertEqual(q.pixelCount, chosen.count, label)
                XCTAssertEqual(q.brightness, mean, accuracy: 1e-9 * mean, label)
                XCTAssertEqual(q.contrast, variance.squareRoot(), accuracy: 1e-9 * variance.squareRoot(), label)
                XCTAssertEqual(q.sharpness, sharpness, accuracy: 1e-9 * max(sharpness, 1), label)
            }
        }
    }
}
