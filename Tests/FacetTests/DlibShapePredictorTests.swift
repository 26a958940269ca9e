import Foundation
import Media
import Models
import XCTest

/// The 5-point shape predictor and dlib's face chips against dlib 19.24's own outputs.
final class DlibShapePredictorTests: XCTestCase {
    func testLandmarksMatchDlib() throws {
        let image = try DlibFixtures.astronaut()
        let predictor = try DlibFixtures.shapePredictor()
        XCTAssertEqual(predictor.partCount, 5)
        let result = predictor.predict(image: image, box: DlibFixtures.astronautBox)
        let dlibPoints = try DlibFixtures.numbers("landmarks5.txt").map { SIMD2(Int($0[1]), Int($0[2])) }
        XCTAssertEqual(result.points, dlibPoints, "dlib's integer landmarks")
        let precise = try DlibFixtures.numbers("landmarks5_float_numpy.txt")
        XCTAssertEqual(result.precisePoints.count, precise.count)
        for (p, q) in zip(result.precisePoints, precise) {
            XCTAssertEqual(p.x, q[0], accuracy: 1e-3)
            XCTAssertEqual(p.y, q[1], accuracy: 1e-3)
        }
    }

    func testBoxesAtAndBeyondTheBorderDoNotCrash() throws {
        let image = try DlibFixtures.astronaut()
        let predictor = try DlibFixtures.shapePredictor()
        for box in [(left: -60, top: -60, right: 40, bottom: 40), (left: 450, top: 450, right: 600, bottom: 600),
                    (left: 1000, top: 1000, right: 1100, bottom: 1100), (left: 10, top: 10, right: 10, bottom: 10)] {
            let result = predictor.predict(image: image, box: box)
            XCTAssertEqual(result.points.count, 5)
            XCTAssertTrue(result.precisePoints.allSatisfy { $0.x.isFinite && $0.y.isFinite })
        }
    }

    func testSimilarityTransformRecoversAKnownOne() {
        let angle = 0.3, scale = 1.7, shift = SIMD2(12.5, -4.25)
        let from: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(10, 0), SIMD2(3, 7), SIMD2(-2, 5), SIMD2(8, -6)]
        let to = from.map { p in
            SIMD2(scale * (cos(angle) * p.x - sin(angle) * p.y), scale * (sin(angle) * p.x + cos(angle) * p.y)) + shift
        }
        let t = DlibAffineTransform.similarity(from: from, to: to)
        XCTAssertEqual(t.m00, scale * cos(angle), accuracy: 1e-12)
        XCTAssertEqual(t.m01, -scale * sin(angle), accuracy: 1e-12)
        XCTAssertEqual(t.m10, scale * sin(angle), accuracy: 1e-12)
        XCTAssertEqual(t.m11, scale * cos(angle), accuracy: 1e-12)
        XCTAssertEqual(t.b.x, shift.x, accuracy: 1e-12)
        XCTAssertEqual(t.b.y, shift.y, accuracy: 1e-12)
        // A mirrored point set still gets a rotation (Umeyama never returns a reflection).
        let mirrored = from.map { SIMD2(-$0.x, $0.y) }
        let r = DlibAffineTransform.similarity(from: from, to: mirrored)
        XCTAssertEqual(r.m00, r.m11, accuracy: 1e-12)
        XCTAssertEqual(r.m01, -r.m10, accuracy: 1e-12)
        XCTAssertEqual(DlibAffineTransform.similarity(from: from, to: from).m00, 1, accuracy: 1e-12)
    }

    func testChipDetailsMatchDlib() throws {
        try DlibFixtures.requireGolden()
        let points = try DlibFixtures.numbers("landmarks5.txt").map { SIMD2(Int($0[1]), Int($0[2])) }
        let d = try FaceChip.details(landmarks5: points)
        let text = try String(contentsOf: DlibFixtures.golden("chip_5pt_details.txt"), encoding: .utf8)
        let values = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
        XCTAssertEqual(values.count, 7)   // l t r b, angle, rows, cols
        XCTAssertEqual(d.left, values[0], accuracy: 1e-4)
        XCTAssertEqual(d.top, values[1], accuracy: 1e-4)
        XCTAssertEqual(d.right, values[2], accuracy: 1e-4)
        XCTAssertEqual(d.bottom, values[3], accuracy: 1e-4)
        XCTAssertEqual(d.angle, values[4], accuracy: 1e-4)
        XCTAssertEqual(d.rows, Int(values[5])); XCTAssertEqual(d.cols, Int(values[6]))
        XCTAssertThrowsError(try FaceChip.details(landmarks5: [SIMD2<Int>(1, 2)]))
    }

    /// A jitter folded into the chip's details: none changes nothing; a shift along the chip's own axes (the
    /// chip turned by 0.2 rad) samples the very image points the plain chip samples a few columns over; a
    /// seeded series is reproducible and stays within dlib's ranges.
    func testChipJitterShiftsAlongTheChipsAxesAndIsSeeded() throws {
        let image = try DlibFixtures.astronaut()
        let points = try DlibFixtures.numbers("landmarks5.txt").map { SIMD2(Int($0[1]), Int($0[2])) }
        var d = try FaceChip.details(landmarks5: points)
        d.angle += 0.2
        XCTAssertEqual(FaceChipJitter().apply(to: d), d)
        let plain = FaceChip.extract(from: image, details: d)
        let shifted = FaceChipJitter(dx: 4, dy: -3).chip(from: image, details: d)
        var worst = 0
        for r in 3..<147 {
            for c in 0..<146 {
                for ch in 0..<3 {
                    let a: Int = (r * 150 + c) * 3 + ch, b: Int = ((r - 3) * 150 + c + 4) * 3 + ch
                    worst = max(worst, abs(Int(shifted.pixels[a]) - Int(plain.pixels[b])))
                }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1, "same image points, up to rounding")
        let mirrored = FaceChipJitter(mirror: true).chip(from: image, details: d)
        XCTAssertEqual(mirrored.pixels, plain.mirrored().pixels)
        let series = FaceChipJitter.series(count: 200, seed: 7)
        XCTAssertEqual(series, FaceChipJitter.series(count: 200, seed: 7))
        XCTAssertNotEqual(series, FaceChipJitter.series(count: 200, seed: 8))
        for j in series {
            XCTAssertLessThanOrEqual(abs(j.dx), 0.02 * 144 + 1e-9); XCTAssertLessThanOrEqual(abs(j.dy), 0.02 * 144 + 1e-9)
            XCTAssertLessThanOrEqual(abs(j.angle), 3 * Double.pi / 180 + 1e-12)
            let least: Double = 144.0 / 150 - 1e-9, most: Double = 144.0 / 150 / 0.97 + 1e-9
            XCTAssertTrue((least...most).contains(j.zoom), "\(j.zoom)")
        }
        let mirrors = series.filter(\.mirror).count
        XCTAssertTrue((60...140).contains(mirrors), "\(mirrors) of 200 mirrored")
    }

    func testChipMatchesDlibByteForByte() throws {
        let image = try DlibFixtures.astronaut()
        let points = try DlibFixtures.numbers("landmarks5.txt").map { SIMD2(Int($0[1]), Int($0[2])) }
        let chip = try FaceChip.extract(from: image, landmarks5: points)
        XCTAssertEqual(chip.width, 150); XCTAssertEqual(chip.height, 150)
        let dlibChip = [UInt8](try Data(contentsOf: DlibFixtures.golden("chip_5pt.rgb")))
        XCTAssertEqual(dlibChip.count, 150 * 150 * 3)
        var differing = 0, maxDiff = 0
        for p in 0..<(150 * 150) {
            let d = (0..<3).map { abs(Int(chip.pixels[3 * p + $0]) - Int(dlibChip[3 * p + $0])) }.max()!
            if d > 0 { differing += 1; maxDiff = max(maxDiff, d) }
        }
        XCTAssertEqual(differing, 0, "\(differing) of 22500 pixels differ from dlib's chip, by at most \(maxDiff)")
    }

    func testPyramidDown() {
        let flat = RGBImage(width: 21, height: 12, fill: (200, 100, 7))
        let down = FaceChip.pyramidDown(flat)
        XCTAssertEqual(down.width, 9); XCTAssertEqual(down.height, 4)       // (n - 3) / 2
        XCTAssertEqual(down, RGBImage(width: 9, height: 4, fill: (200, 100, 7)))
        XCTAssertEqual(FaceChip.pyramidDown(RGBImage(width: 8, height: 50)).width, 0)
        // A single bright pixel spreads with the [1 4 6 4 1]² / 256 kernel, truncated.
        var dot = RGBImage(width: 13, height: 13)
        dot.pixels[(6 * 13 + 6) * 3] = 255
        let spread = FaceChip.pyramidDown(dot)
        XCTAssertEqual(spread.pixels[(2 * spread.width + 2) * 3], UInt8(255 * 36 / 256))
        XCTAssertEqual(spread.pixels[(1 * spread.width + 2) * 3], UInt8(255 * 6 / 256))
    }

    /// A face over twice the chip size goes through dlib's pyramid: the astronaut upscaled ×3 must give
    /// nearly the same chip as the original.
    func testLargeFaceUsesThePyramid() throws {
        let image = try DlibFixtures.astronaut()
        let scale = 3
        var big = RGBImage(width: image.width * scale, height: image.height * scale)
        for y in 0..<big.height { for x in 0..<big.width { for c in 0..<3 {
            big.pixels[(y * big.width + x) * 3 + c] = image.pixels[((y / scale) * image.width + x / scale) * 3 + c]
        } } }
        let points = try DlibFixtures.numbers("landmarks5.txt").map { SIMD2(Int($0[1]) * scale + 1, Int($0[2]) * scale + 1) }
        let chip = try FaceChip.extract(from: big, landmarks5: points)
        let reference = try FaceChip.extract(from: image, landmarks5: try DlibFixtures.numbers("landmarks5.txt").map { SIMD2(Int($0[1]), Int($0[2])) })
        var total = 0
        for i in 0..<chip.pixels.count { total += abs(Int(chip.pixels[i]) - Int(reference.pixels[i])) }
        let mean = Double(total) / Double(chip.pixels.count)
        XCTAssertLessThan(mean, 12, "mean absolute difference between the pyramid chip and the direct one")
    }

    func testChipOffTheImageIsBlack() throws {
        let image = RGBImage(width: 64, height: 64, fill: (90, 90, 90))
        let far = FaceChip.Details(left: 1000, top: 1000, right: 1100, bottom: 1100, angle: 0.3, rows: 150, cols: 150)
        XCTAssertEqual(FaceChip.extract(from: image, details: far), RGBImage(width: 150, height: 150))
        // Half outside: the part over the image is grey, the rest black.
        let half = FaceChip.Details(left: 32, top: 0, right: 95, bottom: 63, angle: 0.001, rows: 64, cols: 64)
        let chip = FaceChip.extract(from: image, details: half)
        XCTAssertGreaterThanOrEqual(chip.pixels[(32 * 64 + 5) * 3], 89)   // 90, or 89 when the weights sum just under 1
        XCTAssertEqual(chip.pixels[(32 * 64 + 60) * 3], 0)
    }
}
