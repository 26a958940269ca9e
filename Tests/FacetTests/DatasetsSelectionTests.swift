import Datasets
import Foundation
import XCTest

/// Coverage selection, water-filling, quality filters and bins (seeded property tests).
final class DatasetsSelectionTests: XCTestCase {
    func testWaterFillQuotasAreWithinCapacityAndFair() {
        var rng = SplitMix64(seed: 7)
        for round in 0..<300 {
            let bins = Int.random(in: 1...12, using: &rng)
            let available = (0..<bins).map { _ in Int.random(in: 0...60, using: &rng) }
            let weights = (0..<bins).map { _ in Bool.random(using: &rng) ? 1.0 : Double.random(in: 0...3, using: &rng) }
            let total = Int.random(in: 0...300, using: &rng)
            let q = WaterFill.quotas(available: available, weights: weights, total: total)
            XCTAssertEqual(q.reduce(0, +), min(total, available.reduce(0, +)), "round \(round)")
            for i in 0..<bins { XCTAssertTrue((0...available[i]).contains(q[i]), "round \(round): bin \(i)") }
        }
        // Equal weights: every bin below the level gets all it has, the others the same (±1).
        let q = WaterFill.quotas(available: [3, 50, 40, 1, 100], weights: [1, 1, 1, 1, 1], total: 100)
        XCTAssertEqual(q[0], 3)
        XCTAssertEqual(q[3], 1)
        XCTAssertLessThanOrEqual(Set([q[1], q[2], q[4]]).max()! - Set([q[1], q[2], q[4]]).min()!, 1)
        XCTAssertEqual(q.reduce(0, +), 100)
        // Zero weights only get what the weighted bins cannot take.
        XCTAssertEqual(WaterFill.quotas(available: [5, 5], weights: [1, 0], total: 4), [4, 0])
        XCTAssertEqual(WaterFill.quotas(available: [5, 5], weights: [1, 0], total: 8), [5, 3])
    }

    /// 3,000 faces crowded around frontal poses with a few profiles: the cap keeps every rare pose and thins the
    /// crowded ones; the same seed gives the same choice.
    func testSelectionKeepsRarePosesAndIsDeterministic() {
        var rng = SplitMix64(seed: 99)
        var traits: [FaceTraits] = []
        var tracks: [Int64] = []
        for i in 0..<3000 {
            let profile = i % 100 == 0
            let yaw = profile ? Double.random(in: 50...70, using: &rng) : Double.random(in: -8...8, using: &rng)
            traits.append(FaceTraits(yaw: yaw, pitch: Double.random(in: -8...8, using: &rng), roll: 0,
                                     mouthOpenness: Double.random(in: 0...0.4, using: &rng), leftEyeOpenness: 0.3, rightEyeOpenness: 0.3,
                                     smileWidth: Double.random(in: 0.7...1.0, using: &rng), browRaise: 0.4,
                                     sharpness: Double.random(in: 10...100, using: &rng), brightness: 120, faceSize: 200, presence: 1))
            tracks.append(Int64(i / 500))
        }
        let bins = CoverageBins()
        let ties = (0..<3000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        let result = CoverageSelector.select(traits: traits, tracks: tracks, tieBreaks: ties, count: 400, bins: bins, reference: nil, referenceWeight: 0.5)
        XCTAssertEqual(result.selected.filter { $0 }.count, 400)
        let profiles = traits.indices.filter { traits[$0].yaw >= 50 }
        XCTAssertEqual(profiles.filter { result.selected[$0] }.count, profiles.count, "every profile kept")
        let again = CoverageSelector.select(traits: traits, tracks: tracks, tieBreaks: ties, count: 400, bins: bins, reference: nil, referenceWeight: 0.5)
        XCTAssertEqual(result.selected, again.selected)
        // Every crowded cell gets about the same quota.
        let crowded = result.quotas.filter { $0.quota < $0.available }
        XCTAssertGreaterThan(crowded.count, 1)
        XCTAssertLessThanOrEqual(crowded.map(\.quota).max()! - crowded.map(\.quota).min()!, 1)
        // Expression classes within a crowded cell are balanced too: open mouths are not crowded out.
        let chosen = traits.indices.filter { result.selected[$0] && abs(traits[$0].yaw) < 10 }
        let openShare = Double(chosen.filter { traits[$0].mouthOpenness >= 0.25 }.count) / Double(chosen.count)
        XCTAssertGreaterThan(openShare, 0.2)
    }

    /// With a reference, the pose quotas follow its shares.
    func testSelectionFollowsTheReferenceDistribution() {
        var traits: [FaceTraits] = []
        for i in 0..<1000 {
            traits.append(FaceTraits(yaw: i % 2 == 0 ? -25 : 25, pitch: 0, roll: 0, mouthOpenness: 0.1, leftEyeOpenness: 0.3, rightEyeOpenness: 0.3,
                                     smileWidth: 0.8, browRaise: 0.4, sharpness: 50, brightness: 120, faceSize: 200, presence: 1))
        }
        let reference = (0..<100).map { i in
            FaceTraits(yaw: i < 90 ? 25 : -25, pitch: 0, roll: 0, mouthOpenness: 0.1, leftEyeOpenness: 0.3, rightEyeOpenness: 0.3,
                       smileWidth: 0.8, browRaise: 0.4, sharpness: 50, brightness: 120, faceSize: 200, presence: 1)
        }
        let ties = (0..<1000).map { UInt64($0) }
        let tracks = [Int64](repeating: 1, count: 1000)
        let even = CoverageSelector.select(traits: traits, tracks: tracks, tieBreaks: ties, count: 200, bins: CoverageBins(), reference: nil, referenceWeight: 1)
        let followed = CoverageSelector.select(traits: traits, tracks: tracks, tieBreaks: ties, count: 200, bins: CoverageBins(), reference: reference,
                                               referenceWeight: 1)
        func right(_ r: CoverageSelector.Result) -> Int { traits.indices.filter { r.selected[$0] && traits[$0].yaw > 0 }.count }
        XCTAssertEqual(right(even), 100)
        XCTAssertEqual(right(followed), 180)
    }

    func testQualityFiltersNameTheMeasureAndLimit() {
        let good = FaceTraits(yaw: 10, pitch: 5, roll: 0, mouthOpenness: 0.1, leftEyeOpenness: 0.3, rightEyeOpenness: 0.3, smileWidth: 0.8,
                              browRaise: 0.4, sharpness: 50, brightness: 120, faceSize: 200, presence: 0.99)
        let settings = QualitySettings()
        XCTAssertNil(settings.check(good, medianSharpness: 60))
        var face = good
        face.sharpness = 20
        XCTAssertEqual(settings.check(face, medianSharpness: 60)?.reason, .blurry)
        face = good; face.faceSize = 40
        XCTAssertEqual(settings.check(face, medianSharpness: 60)?.reason, .small)
        face = good; face.yaw = -85
        XCTAssertEqual(settings.check(face, medianSharpness: 60)?.reason, .extremePose)
        XCTAssertTrue(settings.check(face, medianSharpness: 60)?.detail.contains("yaw") == true)
        face = good; face.presence = 0.5
        XCTAssertEqual(settings.check(face, medianSharpness: 60)?.reason, .lowPresence)
        face = good; face.leftEyeOpenness = 0.05; face.rightEyeOpenness = 0.04
        XCTAssertNil(settings.check(face, medianSharpness: 60), "closed eyes are kept by default")
        var strict = settings
        strict.dropClosedEyes = true
        XCTAssertEqual(strict.check(face, medianSharpness: 60)?.reason, .eyesClosed)
    }

    func testPoseCellsAndExpressionClasses() {
        let bins = CoverageBins(poseBinDegrees: 10)
        XCTAssertEqual(bins.yawBins, 18)
        XCTAssertEqual(bins.pitchBins, 12)
        var face = FaceTraits(yaw: 12, pitch: -15, roll: 0, mouthOpenness: 0.3, leftEyeOpenness: 0.3, rightEyeOpenness: 0.3, smileWidth: 1.0,
                              browRaise: 0.4, sharpness: 50, brightness: 120, faceSize: 200, presence: 1)
        XCTAssertEqual(bins.poseLabel(of: bins.poseCell(face)), "yaw 10..20 pitch -20..-10")
        XCTAssertEqual(CoverageBins.expressionLabel(of: CoverageBins.expressionClass(face)), "mouth wide, eyes open, smile")
        face.yaw = 140
        face.pitch = -90
        XCTAssertEqual(bins.poseLabel(of: bins.poseCell(face)), "yaw 80..90 pitch -60..-50", "beyond the grid: the outermost cell")
    }
}
