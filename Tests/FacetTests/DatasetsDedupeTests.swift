import Datasets
import Foundation
import Manifest
import Media
import XCTest

/// Near-duplicate grouping: signatures of synthetic and real crops, the pose-grid index against brute force.
final class DatasetsDedupeTests: XCTestCase {
    /// A 256×256 picture of random soft blobs (seeded): smooth like a face crop, and not mirror-symmetric.
    static func blobImage(seed: UInt64, side: Int = 256) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        var blobs: [(x: Double, y: Double, r: Double, c: (Double, Double, Double))] = []
        for _ in 0..<14 {
            blobs.append((Double.random(in: 0...1, using: &rng), Double.random(in: 0...1, using: &rng), Double.random(in: 0.05...0.3, using: &rng),
                          (Double.random(in: -120...120, using: &rng), Double.random(in: -120...120, using: &rng), Double.random(in: -120...120, using: &rng))))
        }
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                var c = (128.0, 128.0, 128.0)
                let fx = Double(x) / Double(side), fy = Double(y) / Double(side)
                for b in blobs {
                    let d2 = ((fx - b.x) * (fx - b.x) + (fy - b.y) * (fy - b.y)) / (b.r * b.r)
                    let w = exp(-d2)
                    c.0 += w * b.c.0; c.1 += w * b.c.1; c.2 += w * b.c.2
                }
                let o = (y * side + x) * 3
                pixels[o] = UInt8(min(255, max(0, c.0))); pixels[o + 1] = UInt8(min(255, max(0, c.1))); pixels[o + 2] = UInt8(min(255, max(0, c.2)))
            }
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    /// `image` moved right by `dx` and down by `dy` pixels, the edges repeated.
    static func shifted(_ image: RGBImage, dx: Int, dy: Int) -> RGBImage {
        var out = image
        for y in 0..<image.height {
            for x in 0..<image.width {
                let sx = min(max(x - dx, 0), image.width - 1), sy = min(max(y - dy, 0), image.height - 1)
                let s = (sy * image.width + sx) * 3, d = (y * image.width + x) * 3
                out.pixels[d] = image.pixels[s]; out.pixels[d + 1] = image.pixels[s + 1]; out.pixels[d + 2] = image.pixels[s + 2]
            }
        }
        return out
    }

    static func jpegRoundTrip(_ image: RGBImage, quality: Int) throws -> RGBImage {
        try ImageDecoder.decode(try ImageEncoder(format: .jpeg, quality: quality).encode(image), path: "(test)")
    }

    static let frontal = FaceTraits(yaw: 6, pitch: -4, roll: 2, mouthOpenness: 0.1, leftEyeOpenness: 0.3, rightEyeOpenness: 0.26,
                                    smileWidth: 0.8, browRaise: 0.4, sharpness: 50, brightness: 120, faceSize: 200, presence: 1)

    /// Groups crops; by default without protecting the pose extremes (a mirrored copy has the opposite yaw and
    /// would be kept as an extreme).
    func group(_ images: [RGBImage], traits: [FaceTraits], settings: DuplicateSettings = DuplicateSettings(keepPoseExtremes: false)) -> [DuplicateMatch?] {
        let table = SignatureTable(images.map { FaceSignature(image: $0) })
        return NearDuplicateGrouper.group(traits: traits, signatures: table, tieBreaks: images.indices.map { UInt64($0) }, settings: settings)
    }

    func testExactCopiesMirroredCopiesJPEGReencodesAndSmallShiftsAreGrouped() throws {
        for seed: UInt64 in [1, 2, 3, 4, 5] {
            let original = Self.blobImage(seed: seed)
            let variants: [(String, RGBImage, FaceTraits)] = [
                ("original", original, Self.frontal),
                ("exact copy", original, Self.frontal),
                ("mirrored", original.mirrored(), Self.frontal.mirrored),
                ("JPEG quality 70", try Self.jpegRoundTrip(original, quality: 70), Self.frontal),
                ("JPEG quality 20", try Self.jpegRoundTrip(original, quality: 20), Self.frontal),
                ("shifted 3,2 px", Self.shifted(original, dx: 3, dy: 2), Self.frontal),
                ("shifted -4,0 px", Self.shifted(original, dx: -4, dy: 0), Self.frontal),
            ]
            let matches = group(variants.map(\.1), traits: variants.map(\.2))
            XCTAssertEqual(matches.filter { $0 == nil }.count, 1, "seed \(seed): all variants form one group: \(matches)")
            for (i, match) in matches.enumerated() {
                guard let match else { continue }
                XCTAssertEqual(match.mirrored, (variants[i].0 == "mirrored") != (variants[match.keeper].0 == "mirrored"),
                               "seed \(seed): \(variants[i].0) matched \(variants[match.keeper].0)")
            }
            // Mirroring only flips signs of odd horizontal frequencies: the mirror hash is the mirrored crop's hash.
            let a = FaceSignature(image: original), m = FaceSignature(image: original.mirrored())
            XCTAssertLessThanOrEqual(FaceSignature.hammingDistance(a.mirrorHash, m.hash), 1, "seed \(seed)")
            XCTAssertLessThanOrEqual(FaceSignature.hammingDistance(a.hash, m.mirrorHash), 1, "seed \(seed)")
        }
    }

    func testUnrelatedPicturesAndOtherExpressionsOrPosesAreNotGrouped() {
        let a = Self.blobImage(seed: 11), b = Self.blobImage(seed: 12)
        XCTAssertEqual(group([a, b], traits: [Self.frontal, Self.frontal]).compactMap { $0 }.count, 0, "unrelated pictures")
        var mouthOpen = Self.frontal
        mouthOpen.mouthOpenness += 0.2
        XCTAssertEqual(group([a, a], traits: [Self.frontal, mouthOpen]).compactMap { $0 }.count, 0, "same picture, mouth opened")
        var turned = Self.frontal
        turned.yaw += 8
        XCTAssertEqual(group([a, a], traits: [Self.frontal, turned]).compactMap { $0 }.count, 0, "same picture, 8° more yaw")
    }

    /// Real crops of one person (d3.mp4 turns her head): faces 10°+ apart in yaw are not grouped, even with the
    /// pose gate opened wide (their crops differ), while a JPEG re-encode and a mirrored copy of each are.
    func testDistinctPosesOfOnePersonAreNotGroupedButTheirCopiesAre() throws {
        let (url, manifest, _) = try DetectFixtures.d3.get()
        var picks: [FaceItem] = []
        for target in [-15.0, 0, 18] {
            let best = try XCTUnwrap(manifest.items.min { abs($0.pose.yaw - target) < abs($1.pose.yaw - target) })
            picks.append(best)
        }
        XCTAssertGreaterThan(picks[2].pose.yaw - picks[0].pose.yaw, 25, "d3 should span more than 25° of yaw")
        let crops = try picks.map { try ImageDecoder.decode(fileAt: ManifestIO.resolve($0.crop, relativeToManifest: url)) }
        let traits = picks.map { FaceTraits($0) }
        var loose = DuplicateSettings(keepPoseExtremes: false)
        loose.maxPoseGap = 90
        loose.maxExpressionGap = 100
        for settings in [DuplicateSettings(), loose] {
            XCTAssertEqual(group(crops, traits: traits, settings: settings).compactMap { $0 }.count, 0, "poses \(traits.map(\.yaw))")
        }
        let withCopies = crops + (try crops.map { try Self.jpegRoundTrip($0, quality: 60) }) + crops.map { $0.mirrored() }
        let copyTraits = traits + traits + traits.map(\.mirrored)
        let matches = group(withCopies, traits: copyTraits)
        XCTAssertEqual(matches.filter { $0 == nil }.count, 3, "three groups, one per pose: \(matches)")
        for (i, match) in matches.enumerated() {
            guard let match else { continue }
            XCTAssertEqual(match.keeper % 3, i % 3, "copy \(i) grouped with its own pose")
        }
    }

    /// The pose-grid index finds exactly what a brute-force scan of the kept faces finds, direct and mirrored,
    /// across cell borders.
    func testGroupingIndexMatchesBruteForce() {
        var rng = SplitMix64(seed: 42)
        for (hashDistance, poseGap) in [(0, 4.0), (3, 4), (7, 2), (10, 4), (13, 6), (15, 0.5)] {
            let n = 600
            var hashes: [UInt64] = [], mirrors: [UInt64] = [], yaws: [Double] = [], pitches: [Double] = []
            for i in 0..<n {
                // Every third face is planted near an earlier one (hash direct or through its mirror hash, and pose).
                if i > 0, i % 3 == 0 {
                    let base = Int.random(in: 0..<i, using: &rng)
                    var h = Bool.random(using: &rng) ? hashes[base] : mirrors[base]
                    for _ in 0..<Int.random(in: 0...(hashDistance + 3), using: &rng) { h ^= 1 << UInt64.random(in: 0..<63, using: &rng) }
                    hashes.append(h)
                    yaws.append((Bool.random(using: &rng) ? yaws[base] : -yaws[base]) + Double.random(in: -1.5...1.5, using: &rng) * poseGap)
                    pitches.append(pitches[base] + Double.random(in: -1.5...1.5, using: &rng) * poseGap)
                } else {
                    hashes.append(rng.next() & (UInt64.max >> 1))
                    yaws.append(Double.random(in: -15...15, using: &rng))
                    pitches.append(Double.random(in: -10...10, using: &rng))
                }
                mirrors.append(rng.next() & (UInt64.max >> 1))
            }
            // Descriptors with only even horizontal frequencies are their own mirror image: hashes and poses decide.
            var descriptor = [Float](repeating: 0, count: FaceSignature.descriptorLength)
            descriptor[1] = 1
            var table = SignatureTable()
            for i in 0..<n { table.append(FaceSignature(hash: hashes[i], mirrorHash: mirrors[i], descriptor: descriptor)) }
            let traits = (0..<n).map { i in
                FaceTraits(yaw: yaws[i], pitch: pitches[i], roll: 0, mouthOpenness: 0.1, leftEyeOpenness: 0.3, rightEyeOpenness: 0.3,
                           smileWidth: 0.8, browRaise: 0.4, sharpness: 10, brightness: 100, faceSize: 100, presence: 1)
            }
            let settings = DuplicateSettings(maxHashDistance: hashDistance, maxPoseGap: poseGap, keepPoseExtremes: false)
            let matches = NearDuplicateGrouper.group(traits: traits, signatures: table, tieBreaks: (0..<n).map { UInt64($0) }, settings: settings)
            // Brute force: visit in index order, match the lowest-index kept face within both limits.
            var kept: [Int] = []
            var expected = [Int?](repeating: nil, count: n)
            for i in 0..<n {
                let direct = { (k: Int) in FaceSignature.hammingDistance(hashes[i], hashes[k]) <= hashDistance
                    && abs(yaws[i] - yaws[k]) <= poseGap && abs(pitches[i] - pitches[k]) <= poseGap }
                let mirrored = { (k: Int) in FaceSignature.hammingDistance(mirrors[i], hashes[k]) <= hashDistance
                    && abs(-yaws[i] - yaws[k]) <= poseGap && abs(pitches[i] - pitches[k]) <= poseGap }
                if let k = kept.first(where: { direct($0) || mirrored($0) }) { expected[i] = k } else { kept.append(i) }
            }
            XCTAssertEqual(matches.map { $0?.keeper }, expected, "hash distance \(hashDistance), pose gap \(poseGap)")
            XCTAssertGreaterThan(expected.compactMap { $0 }.count, 0, "hash distance \(hashDistance): some planted neighbours match")
        }
    }

    func testPoseExtremesAreKeptEvenWhenABetterNeighbourCouldAbsorbThem() {
        let image = Self.blobImage(seed: 7)
        var sharp = Self.frontal, edge = Self.frontal
        sharp.sharpness = 400
        edge.yaw += 2
        edge.sharpness = 20
        let images = [image, image, image]
        var middle = Self.frontal
        middle.yaw += 1
        middle.sharpness = 100
        let traits = [sharp, middle, edge]
        var settings = DuplicateSettings()
        XCTAssertEqual(group(images, traits: traits, settings: settings).map { $0 == nil }, [true, false, true],
                       "the sharpest face and the one of largest yaw are kept")
        settings.keepPoseExtremes = false
        XCTAssertEqual(group(images, traits: traits, settings: settings).map { $0 == nil }, [true, false, false])
    }
}
