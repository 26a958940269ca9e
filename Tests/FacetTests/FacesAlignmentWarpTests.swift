import Faces
import FacetCore
import Foundation
import Media
import Models
import XCTest

/// `FaceAlignment`: matrix algebra, sampling, and the crop → warp-back round trip on astronaut.png.
final class FacesAlignmentWarpTests: XCTestCase {
    /// Seeded random similarity transforms: matrix ∘ inverse is the identity, and points go there and back,
    /// within 1e-9.
    func testTransformThenInverseIsIdentity() throws {
        var rng = SplitMix64(seed: 0xA11C)
        for _ in 0..<200 {
            let angle = Double.random(in: -Double.pi...Double.pi, using: &rng)
            let scale = Double.random(in: 0.05...20, using: &rng)
            let m = AffineMatrix2x3(a: scale * cos(angle), b: -scale * sin(angle), tx: .random(in: -2000...2000, using: &rng),
                                    c: scale * sin(angle), d: scale * cos(angle), ty: .random(in: -2000...2000, using: &rng))
            let alignment = try XCTUnwrap(FaceAlignment(matrix: m, size: 256))
            let both = alignment.inverse.concatenating(alignment.matrix)
            for (x, y) in zip([both.a, both.b, both.c, both.d, both.tx, both.ty], [1.0, 0, 0, 1, 0, 0]) {
                XCTAssertEqual(x, y, accuracy: 1e-9)
            }
            for _ in 0..<10 {
                let p = SIMD2(Double.random(in: -1000...3000, using: &rng), Double.random(in: -1000...3000, using: &rng))
                let back = alignment.toImage(alignment.toCrop(p))
                XCTAssertEqual(back.x, p.x, accuracy: 1e-9 * max(1, abs(p.x)))
                XCTAssertEqual(back.y, p.y, accuracy: 1e-9 * max(1, abs(p.y)))
            }
        }
        XCTAssertNil(FaceAlignment(matrix: AffineMatrix2x3(a: 1, b: 2, tx: 0, c: 2, d: 4, ty: 0)), "singular")
        XCTAssertNil(FaceAlignment(landmarks68: []), "wrong count")
        XCTAssertNil(FaceAlignment(landmarks68: [SIMD2<Double>](repeating: SIMD2(.nan, 1), count: 68)), "non-finite")
        XCTAssertNil(FaceAlignment(landmarks68: [SIMD2<Double>](repeating: SIMD2(5, 5), count: 68)), "coincident")
        // A crop footprint far outside the frame leaves the frame alone (and does not trap).
        let far = try XCTUnwrap(FaceAlignment(matrix: AffineMatrix2x3(a: 1e-12, b: 0, tx: 1e3, c: 0, d: 1e-12, ty: -1e3), size: 8))
        let frame = RGBImage(width: 4, height: 4, fill: (1, 2, 3))
        XCTAssertEqual(far.warpBack(crop: RGBImage(width: 8, height: 8), into: frame), frame)
        XCTAssertEqual(far.crop(image: frame), RGBImage(width: 8, height: 8, fill: (1, 2, 3)))
    }

    /// Zero rotation, unit scale, integer shift: the crop is exactly the shifted window of the image.
    func testUnitTransformGivesIdentityCrop() throws {
        var rng = SplitMix64(seed: 7)
        let image = Synthetic.noise(width: 64, height: 48, rng: &rng)
        let shifted = try XCTUnwrap(FaceAlignment(matrix: AffineMatrix2x3(a: 1, b: 0, tx: -10, c: 0, d: 1, ty: -7), size: 32))
        XCTAssertEqual(shifted.crop(image: image), image.cropped(x: 10, y: 7, width: 32, height: 32))
        let identity = try XCTUnwrap(FaceAlignment(matrix: .identity, size: 48))
        XCTAssertEqual(identity.crop(image: image), image.cropped(x: 0, y: 0, width: 48, height: 48))
        // Edge replication: a crop reaching past the right edge repeats the last column.
        let past = try XCTUnwrap(FaceAlignment(matrix: AffineMatrix2x3(a: 1, b: 0, tx: -60, c: 0, d: 1, ty: 0), size: 8))
        let crop = past.crop(image: image)
        for y in 0..<8 { for x in 4..<8 { for k in 0..<3 {
            XCTAssertEqual(crop.pixels[(y * 8 + x) * 3 + k], image.pixels[(y * 64 + 63) * 3 + k])
        } } }
        // Warping the identity crop back changes nothing.
        XCTAssertEqual(identity.warpBack(crop: identity.crop(image: image), into: image), image)
    }

    /// The template puts the mean face where `FaceCentering` documents it.
    func testTemplateCoverage() {
        let face = FaceAlignment.template(size: 256, centering: .face)
        XCTAssertEqual((face.map(\.x).max() ?? 0) - (face.map(\.x).min() ?? 0), 256 / 1.6, accuracy: 1e-9)
        XCTAssertEqual(face.map(\.x).min() ?? 0, 0.3 * 256 / 1.6, accuracy: 1e-9)
        let head = FaceAlignment.template(size: 256, centering: .head)
        XCTAssertEqual((head.map(\.x).max() ?? 0) - (head.map(\.x).min() ?? 0), 256 / 2.4, accuracy: 1e-9)
        XCTAssertEqual(head.map(\.y).min() ?? 0, (0.9 + 0.035562) * 256 / 2.4, accuracy: 1e-3)
    }

    /// Astronaut: align (256 px, `.face`), warp the crop back without a mask and compare the landmark-hull
    /// region with the original. Bound: PSNR > 34 dB (the face is ~2.2× upsampled, then resampled back).
    func testAstronautRoundTripPSNR() throws {
        try requireSharedMedia(TestPaths.image("astronaut.png"))
        let (image, mesh) = try FacesFixtures.astronaut()
        let p68 = try XCTUnwrap(LandmarkSubsets.points68(fromMesh: mesh))
        for centering in FaceCentering.allCases {
            let alignment = try XCTUnwrap(FaceAlignment(landmarks68: p68, size: 256, centering: centering))
            let crop = alignment.crop(image: image)
            XCTAssertEqual(crop.width, 256)
            // The aligned stable points land near the template (astronaut vs the LFW mean).
            let template = FaceAlignment.template(size: 256, centering: centering)
            let aligned = p68[17...].map { alignment.toCrop($0) }
            let rms = (zip(aligned, template).map { (($0 - $1) * ($0 - $1)).sum() }.reduce(0, +) / 51).squareRoot()
            XCTAssertLessThan(rms, 0.05 * 256 / centering.side, "\(centering) alignment residual \(rms) px")
            let back = alignment.warpBack(crop: crop, into: image)
            let hull = FaceMask(hullOf: p68, width: image.width, height: image.height)
            let db = maskedPSNR(image, back, mask: hull)
            print("astronaut \(centering): scale \(alignment.scale), rotation \(alignment.rotation) rad, landmark RMS \(rms) px, round-trip hull PSNR \(db) dB")
            XCTAssertGreaterThan(db, 34, "\(centering)")
        }
    }

    /// Warp-back with a mask: outside the mask the frame is untouched, inside it is the crop.
    func testWarpBackHonoursMask() throws {
        var rng = SplitMix64(seed: 11)
        let frame = Synthetic.noise(width: 40, height: 40, rng: &rng)
        let alignment = try XCTUnwrap(FaceAlignment(matrix: AffineMatrix2x3(a: 1, b: 0, tx: -10, c: 0, d: 1, ty: -10), size: 20))
        let red = RGBImage(width: 20, height: 20, fill: (255, 0, 0))
        let mask = FaceMask(hullOf: [SIMD2(0, 0), SIMD2(20, 0), SIMD2(20, 20), SIMD2(0, 20)], width: 20, height: 20)
        let left = try XCTUnwrap(FaceMask(width: 20, height: 20, values: (0..<400).map { $0 % 20 < 10 ? 255 : 0 }))
        XCTAssertEqual(alignment.warpBack(crop: red, into: frame, mask: mask), alignment.warpBack(crop: red, into: frame))
        let out = alignment.warpBack(crop: red, into: frame, mask: left)
        XCTAssertEqual(Array(out.pixels[((15 * 40) + 12) * 3..<((15 * 40) + 12) * 3 + 3]), [255, 0, 0], "inside the mask")
        XCTAssertEqual(Array(out.pixels[((15 * 40) + 27) * 3..<((15 * 40) + 27) * 3 + 3]),
                       Array(frame.pixels[((15 * 40) + 27) * 3..<((15 * 40) + 27) * 3 + 3]), "outside the mask")
        XCTAssertEqual(Array(out.pixels[0..<3]), Array(frame.pixels[0..<3]), "outside the crop")
    }

    private func maskedPSNR(_ a: RGBImage, _ b: RGBImage, mask: FaceMask) -> Double {
        var sum = 0.0, count = 0
        for k in 0..<(a.width * a.height) where mask.values[k] > 127 {
            for c in 0..<3 { let d = Double(a.pixels[3 * k + c]) - Double(b.pixels[3 * k + c]); sum += d * d }
            count += 3
        }
        XCTAssertGreaterThan(count, 0)
        return sum == 0 ? .infinity : 10 * log10(255 * 255 / (sum / Double(max(count, 1))))
    }
}

/// `FaceMask`: exact hull fill, dilation and feathering, and coverage on an aligned face.
final class FacesAlignmentMaskTests: XCTestCase {
    /// The fill of a triangle with non-integer vertices equals a brute-force pixel-centre half-plane test.
    func testTriangleFillIsExact() {
        let tri = [SIMD2(3.3, 2.7), SIMD2(27.6, 9.1), SIMD2(11.2, 28.4)]
        let mask = FaceMask(hullOf: tri + [SIMD2(12, 12)], width: 32, height: 32)   // an interior point is dropped
        XCTAssertEqual(FaceMask.convexHull(tri + [SIMD2(12, 12)]).count, 3)
        var inside = 0
        for i in 0..<32 {
            for j in 0..<32 {
                let p = SIMD2(Double(j) + 0.5, Double(i) + 0.5)
                func side(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) }
                let s = [side(tri[0], tri[1]), side(tri[1], tri[2]), side(tri[2], tri[0])]
                let expected: UInt8 = s.allSatisfy { $0 >= 0 } || s.allSatisfy { $0 <= 0 } ? 255 : 0
                XCTAssertEqual(mask[j, i], expected, "pixel (\(j), \(i))")
                if expected == 255 { inside += 1 }
            }
        }
        // The triangle's area is 286.975 px²; the pixel count (287) is close to it.
        XCTAssertEqual(Double(inside), 286.975, accuracy: 8)
        // Dilation grows it, feathering adds intermediate values, and both are monotone.
        let grown = FaceMask(hullOf: tri, width: 32, height: 32, dilation: 2)
        let soft = FaceMask(hullOf: tri, width: 32, height: 32, dilation: 2, feather: 3)
        XCTAssertTrue(zip(mask.values, grown.values).allSatisfy { $0 <= $1 })
        XCTAssertTrue(zip(grown.values, soft.values).allSatisfy { $0 <= $1 })
        XCTAssertGreaterThan(grown.coverage, mask.coverage)
        XCTAssertTrue(soft.values.contains { $0 > 0 && $0 < 255 })
        XCTAssertEqual(FaceMask(hullOf: [], width: 4, height: 4).coverage, 0)
        XCTAssertNil(FaceMask(width: 2, height: 2, values: [0]))
    }

    /// The hull fill equals the signed-distance definition (inside or on the hull: `signedDistance ≤ 0` at the
    /// pixel centre) on seeded random hulls, among them hulls whose vertices and edges pass exactly through pixel
    /// centres (vertical, horizontal and diagonal edges), where the row fill must decide boundary pixels as the
    /// distance does.
    func testHullFillMatchesSignedDistanceOnRandomHulls() {
        var rng = SeededRandom(seed: 29)
        for trial in 0..<70 {
            let size = 40
            let onCentres = trial % 2 == 0
            // Trials 40 on: clouds large enough for the hull's octagon filter, some with a nearly horizontal edge.
            var points = (0..<Int.random(in: trial < 40 ? 3...12 : 20...200, using: &rng)).map { _ -> SIMD2<Double> in
                onCentres ? SIMD2(Double(Int.random(in: 2..<38, using: &rng)) + 0.5, Double(Int.random(in: 2..<38, using: &rng)) + 0.5)
                          : SIMD2(Double.random(in: -5...45, using: &rng), Double.random(in: -5...45, using: &rng))
            }
            if trial >= 50 { points += [SIMD2(3.3, 20.25), SIMD2(36.7, 20.25 + 1e-9)] }
            let hull = FaceMask.convexHull(points)
            let mask = FaceMask(hullOf: points, width: size, height: size)
            for i in 0..<size {
                for j in 0..<size {
                    let d = FaceMask.signedDistance(SIMD2(Double(j) + 0.5, Double(i) + 0.5), toConvex: hull)
                    let expected: UInt8 = hull.count >= 3 && d <= 0 ? 255 : 0
                    XCTAssertEqual(mask[j, i], expected, "trial \(trial), pixel (\(j), \(i)), distance \(d)")
                }
            }
        }
    }

    /// `convexHull` drops points inside the octagon of their extremes before sorting (Akl–Toussaint); on seeded clouds of
    /// 17-600 points (uniform, clustered on a circle as a face's oval is, on a grid with collinear runs, and with nearly
    /// horizontal edges) it equals Andrew's monotone chain over every point, vertex for vertex.
    func testConvexHullEqualsTheUnfilteredChain() {
        func reference(_ points: [SIMD2<Double>]) -> [SIMD2<Double>] {
            let sorted = points.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
            var unique: [SIMD2<Double>] = []
            for p in sorted where unique.last != p { unique.append(p) }
            guard unique.count >= 3 else { return unique }
            func cross(_ o: SIMD2<Double>, _ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x) }
            var lower: [SIMD2<Double>] = [], upper: [SIMD2<Double>] = []
            for p in unique {
                while lower.count >= 2, cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 { lower.removeLast() }
                lower.append(p)
            }
            for p in unique.reversed() {
                while upper.count >= 2, cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 { upper.removeLast() }
                upper.append(p)
            }
            return Array(lower.dropLast() + upper.dropLast())
        }
        var rng = SeededRandom(seed: 31)
        for trial in 0..<80 {
            let count = Int.random(in: 17...600, using: &rng)
            let points: [SIMD2<Double>] = (0..<count).map { _ in
                switch trial % 4 {
                case 0: return SIMD2(Double.random(in: 0...256, using: &rng), Double.random(in: 0...256, using: &rng))
                case 1:
                    let t = Double.random(in: 0...(2 * .pi), using: &rng), r = 100 - Double.random(in: 0...30, using: &rng)
                    return SIMD2(128 + r * cos(t), 128 + r * sin(t))
                case 2: return SIMD2(Double(Int.random(in: 0...12, using: &rng)) * 8, Double(Int.random(in: 0...12, using: &rng)) * 8)
                default: return SIMD2(Double.random(in: 0...256, using: &rng), 100 + Double.random(in: 0...1e-6, using: &rng))
                }
            }
            XCTAssertEqual(FaceMask.convexHull(points), reference(points), "trial \(trial), \(count) points")
        }
    }

    /// On astronaut's aligned crop the 68-point hull covers the face centre, not the corners, and a plausible
    /// share of the crop (measured: see the printed numbers; bound 25–60 % for `.face`, 8–35 % for `.head`).
    func testAstronautMaskArea() throws {
        try requireSharedMedia(TestPaths.image("astronaut.png"))
        let (image, mesh) = try FacesFixtures.astronaut()
        let p68 = try XCTUnwrap(LandmarkSubsets.points68(fromMesh: mesh))
        let all = mesh.map { SIMD2($0.x, $0.y) }
        for (centering, range) in [(FaceCentering.face, 0.25...0.60), (.head, 0.08...0.35)] {
            let alignment = try XCTUnwrap(FaceAlignment(landmarks68: p68, size: 256, centering: centering))
            let mask = FaceMask(landmarks: p68, alignment: alignment)
            let full = FaceMask(landmarks: all, alignment: alignment, dilation: 4, feather: 6)
            print("astronaut \(centering) mask coverage: 68-hull \(mask.coverage), 468-hull dilated 4 feathered 6 \(full.coverage)")
            XCTAssertTrue(range.contains(mask.coverage), "\(centering) coverage \(mask.coverage)")
            XCTAssertGreaterThanOrEqual(full.coverage, mask.coverage)
            XCTAssertEqual(mask[128, 128], 255, "centre is face")
            for (x, y) in [(0, 0), (255, 0), (0, 255), (255, 255)] { XCTAssertEqual(full[x, y], 0, "corner (\(x), \(y))") }
            let gray = mask.grayImage()
            XCTAssertEqual(gray.width, 256)
            XCTAssertEqual(gray.pixels[(128 * 256 + 128) * 3], 255)
            _ = image
        }
    }
}
