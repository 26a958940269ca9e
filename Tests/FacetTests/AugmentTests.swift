import Augment
import Faces
import FacetCore
import Foundation
import Media
import XCTest

/// The augmentation library: identity at zero strength, the statistics of the random transforms, colour, and
/// the helpers (seeded streams, splines, resizing).
final class AugmentTests: XCTestCase {
    /// A synthetic face source: a noise image with the mean face's landmarks.
    func source(size: Int, seed: UInt64 = 1) throws -> AugmentSource {
        var rng = SplitMix64(seed: seed)
        let image = RGBImage(width: size, height: size, pixels: rng.bytes(size * size * 3))
        let template = FaceAlignment.template(size: size)   // 51 stable points
        var points: [Float] = []
        for k in 0..<68 {
            let p = k >= 17 ? template[k - 17] : SIMD2(Double(size) * (0.2 + 0.6 * Double(k) / 16), Double(size) * 0.8)
            points += [Float(p.x), Float(p.y)]
        }
        return try AugmentSource(crop: image, landmarks68: points, mask: nil, processingSize: size)
    }

    func render(_ augmenter: FaceAugmenter, _ source: AugmentSource, draw: AugmentDraw) -> (input: [Float], target: [Float]) {
        let s = augmenter.geometry.outputSize
        var input = [Float](repeating: -1, count: s * s * 3), target = input
        input.withUnsafeMutableBufferPointer { i in target.withUnsafeMutableBufferPointer { t in
            augmenter.render(source, draw: draw, into: AugmentTargets(input: i.baseAddress, target: t.baseAddress))
        } }
        return (input, target)
    }

    func testZeroStrengthIsTheIdentity() throws {
        // Output = processing size and full coverage: every output pixel reads its own source pixel centre.
        let geometry = try AugmentGeometry(outputSize: 64, coverage: 1)
        XCTAssertEqual(geometry.processingSize, 64)
        let face = try source(size: 64)
        let augmenter = try FaceAugmenter(settings: .none, geometry: geometry)
        var rng = AugmentRandom(seed: 7)
        let draw = AugmentDraw(settings: .none, geometry: geometry, rng: &rng)
        let (input, target) = render(augmenter, face, draw: draw)
        let expected = face.pixels.map { Float($0) * (1 / 255) }
        XCTAssertEqual(input, expected, "zero-strength warp must reproduce the source exactly")
        XCTAssertEqual(target, expected)
    }

    func testNoWarpNoiseMakesInputEqualTarget() throws {
        // Affine, flip and colour on, warp noise off: input and target read the same points.
        let geometry = try AugmentGeometry(outputSize: 64, coverage: 0.75)
        var settings = AugmentSettings()
        settings.warpScale = 0
        let augmenter = try FaceAugmenter(settings: settings, geometry: geometry)
        let face = try source(size: geometry.processingSize)
        for seed in 0..<20 as Range<UInt64> {
            var rng = AugmentRandom(seed: seed)
            let draw = AugmentDraw(settings: settings, geometry: geometry, rng: &rng)
            let (input, target) = render(augmenter, face, draw: draw)
            XCTAssertEqual(input, target, "seed \(seed)")
        }
        // With noise, the two differ.
        let warped = try FaceAugmenter(settings: AugmentSettings(), geometry: geometry)
        var rng = AugmentRandom(seed: 3)
        let (input, target) = render(warped, face, draw: AugmentDraw(settings: AugmentSettings(), geometry: geometry, rng: &rng))
        XCTAssertNotEqual(input, target)
    }

    func testUnwarpedTargetFitsTheNoisyGridExactlyWithoutNoise() throws {
        let geometry = try AugmentGeometry(outputSize: 64, coverage: 0.625)
        var settings = AugmentSettings.none
        settings.warpScale = 1e-12   // noise so small the least-squares path runs but must agree with the exact map
        var rng = AugmentRandom(seed: 1)
        let plan = WarpPlan(draw: AugmentDraw(settings: settings, geometry: geometry, rng: &rng), geometry: geometry, settings: settings)
        for (u, v) in [(0.5, 0.5), (32.0, 17.5), (63.5, 63.5)] {
            let a = plan.inputPoint(u, v), b = plan.targetPoint(u, v)
            XCTAssertEqual(a.x, b.x, accuracy: 1e-6); XCTAssertEqual(a.y, b.y, accuracy: 1e-6)
        }
        // The covered square: output corners map to centre ± coverage·P/2.
        let p = Double(geometry.processingSize), r = 0.625 * p / 2
        let corner = plan.targetPoint(0, 0), far = plan.targetPoint(64, 64)
        XCTAssertEqual(corner.x, p / 2 - r, accuracy: 1e-6); XCTAssertEqual(far.y, p / 2 + r, accuracy: 1e-6)
    }

    /// Over many seeded draws, the transforms the plans produce have the stated ranges and spreads:
    /// rotation uniform in ±10°, zoom in 1 ± 0.05, shift in ±5 % of the crop, flips half the time, and
    /// control-point noise of 5 px per 256 px (measured as the residual between the warped and the
    /// unwarped maps at the grid points).
    func testWarpStatisticsMatchTheStatedParameters() throws {
        let geometry = try AugmentGeometry(outputSize: 64, coverage: 0.625)
        let settings = AugmentSettings()
        let p = Double(geometry.processingSize), centre = SIMD2(p / 2, p / 2)
        let n = 3000
        var rotations: [Double] = [], scales: [Double] = [], shifts: [Double] = [], flips = 0, residuals: [Double] = []
        for k in 0..<n {
            var rng = AugmentRandom(seed: 42, keys: [UInt64(k)])
            let plan = WarpPlan(draw: AugmentDraw(settings: settings, geometry: geometry, rng: &rng), geometry: geometry, settings: settings)
            // Transformed image → source is A⁻¹ ∘ F; undo the flip to read A.
            let m = plan.sourceFromTransformed
            let flipped = m.determinant < 0
            if flipped { flips += 1 }
            let unflipped = flipped ? m.concatenating(AffineMatrix2x3(a: -1, b: 0, tx: p, c: 0, d: 1, ty: 0)) : m
            guard let forward = unflipped.inverse else { return XCTFail("singular transform") }
            scales.append(forward.determinant.squareRoot())
            rotations.append(atan2(forward.b, forward.a) * 180 / .pi)
            let moved = forward.apply(centre) - centre
            shifts += [moved.x / p, moved.y / p]
            // Warp noise: input grid point vs the fitted similarity at the grid's output positions.
            for row in 0..<5 {
                for column in 0..<5 {
                    let u = Double(column) * 16, v = Double(row) * 16
                    let d = plan.inputTransformedPoint(u, v) - plan.targetMap.apply(SIMD2(u, v))
                    residuals += [d.x, d.y]
                }
            }
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        func std(_ x: [Double]) -> Double { let m = mean(x); return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)).squareRoot() }
        // Uniform on ±a: mean 0, standard deviation a/√3.
        XCTAssertLessThanOrEqual(rotations.map(abs).max() ?? 0, 10 + 1e-9)
        XCTAssertEqual(mean(rotations), 0, accuracy: 0.4)
        XCTAssertEqual(std(rotations), 10 / 3.0.squareRoot(), accuracy: 0.25)
        XCTAssertLessThanOrEqual(scales.map { abs($0 - 1) }.max() ?? 0, 0.05 + 1e-9)
        XCTAssertEqual(std(scales), 0.05 / 3.0.squareRoot(), accuracy: 0.002)
        XCTAssertLessThanOrEqual(shifts.map(abs).max() ?? 0, 0.05 + 1e-9)
        XCTAssertEqual(std(shifts), 0.05 / 3.0.squareRoot(), accuracy: 0.0015)
        XCTAssertEqual(Double(flips) / Double(n), 0.5, accuracy: 0.03)
        // Least squares with 4 parameters over 50 coordinates leaves (50 − 4)/50 of the noise variance.
        let sigma = 5 * p / 256
        XCTAssertEqual(mean(residuals), 0, accuracy: 0.01 * sigma)
        XCTAssertEqual(std(residuals), sigma * (46.0 / 50).squareRoot(), accuracy: 0.03 * sigma)
    }

    func testDrawsAreSeededAndIndependentOfOrder() throws {
        let geometry = try AugmentGeometry(outputSize: 64, coverage: 0.75)
        let settings = AugmentSettings()
        var a = AugmentRandom(seed: 9, keys: [5, 1, 3]), b = AugmentRandom(seed: 9, keys: [5, 1, 3]), c = AugmentRandom(seed: 9, keys: [5, 1, 4])
        let da = AugmentDraw(settings: settings, geometry: geometry, rng: &a)
        XCTAssertEqual(da, AugmentDraw(settings: settings, geometry: geometry, rng: &b))
        XCTAssertNotEqual(da, AugmentDraw(settings: settings, geometry: geometry, rng: &c))
        var g = AugmentRandom(seed: 1)
        let values = (0..<20000).map { _ in g.gaussian() }
        let m = values.reduce(0, +) / 20000
        XCTAssertEqual(m, 0, accuracy: 0.03)
        XCTAssertEqual((values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 20000).squareRoot(), 1, accuracy: 0.03)
    }

    func testLabRoundTripAndColourChanges() throws {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<500 {
            let r = Float.random(in: 0...1, using: &rng), g = Float.random(in: 0...1, using: &rng), b = Float.random(in: 0...1, using: &rng)
            let lab = LabColour.lab(red: r, green: g, blue: b)
            let back = LabColour.rgb(l: lab.l, a: lab.a, b: lab.b)
            XCTAssertEqual(back.red, r, accuracy: 2e-3); XCTAssertEqual(back.green, g, accuracy: 2e-3); XCTAssertEqual(back.blue, b, accuracy: 2e-3)
        }
        // Reference values (D65): white is L* 100, a* = b* = 0; pure red is L* 53.24, a* 80.09, b* 67.20.
        let white = LabColour.lab(red: 1, green: 1, blue: 1), red = LabColour.lab(red: 1, green: 0, blue: 0)
        XCTAssertEqual(white.l, 100, accuracy: 0.05); XCTAssertEqual(white.a, 0, accuracy: 0.1); XCTAssertEqual(white.b, 0, accuracy: 0.1)
        XCTAssertEqual(red.l, 53.24, accuracy: 0.1); XCTAssertEqual(red.a, 80.09, accuracy: 0.2); XCTAssertEqual(red.b, 67.20, accuracy: 0.2)

        // A lightness draw brightens both images by the same change; no colour draw leaves them untouched.
        let geometry = try AugmentGeometry(outputSize: 32, coverage: 1)
        let face = try source(size: 32)
        var settings = AugmentSettings.none
        settings.lightness = 0.3
        let augmenter = try FaceAugmenter(settings: settings, geometry: geometry)
        var drawRNG = AugmentRandom(seed: 0)
        var draw = AugmentDraw(settings: .none, geometry: geometry, rng: &drawRNG)
        draw.lightness = 0.3
        let (input, target) = render(augmenter, face, draw: draw)
        XCTAssertEqual(input, target)
        let plain = face.pixels.map { Float($0) / 255 }
        XCTAssertGreaterThan(input.reduce(0, +), plain.reduce(0, +) * 1.1)
    }

    func testThinPlateWarpMovesLandmarksOntoThePartner() throws {
        let geometry = try AugmentGeometry(outputSize: 64, coverage: 1)
        let face = try source(size: 64)
        var settings = AugmentSettings.none
        settings.warpToLandmarks = true
        let partner = face.landmarks.map { $0 + SIMD2(1.5, -1) }   // the same shape, moved
        var rng = AugmentRandom(seed: 0)
        let plan = WarpPlan(draw: AugmentDraw(settings: settings, geometry: geometry, rng: &rng), geometry: geometry, settings: settings,
                            landmarks: face.landmarks, partner: partner)
        // Output point at the partner's landmark reads the face's own landmark (away from the border anchors).
        for k in [30, 36, 45, 48, 54] {
            let q = plan.inputPoint(partner[k].x, partner[k].y)
            XCTAssertEqual(q.x, face.landmarks[k].x, accuracy: 0.35, "point \(k)")
            XCTAssertEqual(q.y, face.landmarks[k].y, accuracy: 0.35, "point \(k)")
        }
        // The target is not warped.
        let t = plan.targetPoint(10.5, 20.5)
        XCTAssertEqual(t.x, 10.5, accuracy: 1e-9); XCTAssertEqual(t.y, 20.5, accuracy: 1e-9)
    }

    func testMirrorOrderIsAnInvolution() {
        let order = Landmarks68.mirrorOrder
        XCTAssertEqual(order.count, 68)
        for k in 0..<68 { XCTAssertEqual(order[order[k]], k) }
        XCTAssertEqual(order[36], 45); XCTAssertEqual(order[48], 54); XCTAssertEqual(order[8], 8); XCTAssertEqual(order[30], 30)
    }

    func testAreaResizeAveragesAndKeepsConstants() {
        let constant = [UInt8](repeating: 77, count: 10 * 10 * 3)
        XCTAssertEqual(Set(AreaResize.resize(constant, side: 10, channels: 3, to: 7)), [77])
        // 2:1 averages each 2×2 block.
        let values: [UInt8] = [0, 100, 50, 150,  200, 100, 50, 250,  0, 0, 10, 10,  0, 0, 30, 30]
        XCTAssertEqual(AreaResize.resize(values, side: 4, channels: 1, to: 2), [100, 125, 0, 20])
    }

    func testInvalidSettingsAreRefused() {
        var settings = AugmentSettings()
        settings.zoom = -0.1
        XCTAssertThrowsError(try settings.validate())
        XCTAssertThrowsError(try AugmentGeometry(outputSize: 64, coverage: 0.1))
        XCTAssertThrowsError(try AugmentGeometry(outputSize: 4, coverage: 0.5))
    }
}
