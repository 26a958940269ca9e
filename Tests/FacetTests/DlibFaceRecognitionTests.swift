import Foundation
import Media
import Models
import XCTest

/// dlib's face-recognition ResNet against dlib 19.24's own descriptor and per-layer outputs.
final class DlibFaceRecognitionTests: XCTestCase {
    private func dlibChip() throws -> RGBImage {
        try DlibFixtures.requireGolden()
        return RGBImage(width: 150, height: 150, pixels: [UInt8](try Data(contentsOf: DlibFixtures.golden("chip_5pt.rgb"))))
    }

    private func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    func testEmbeddingMatchesDlib() throws {
        let net = try DlibFixtures.faceRecognitionNet()
        XCTAssertEqual(net.inputMeans.x, 122.782, accuracy: 1e-4)
        XCTAssertEqual(net.inputMeans.y, 117.001, accuracy: 1e-4)
        XCTAssertEqual(net.inputMeans.z, 104.298, accuracy: 1e-4)
        XCTAssertEqual(net.distanceThreshold, 0.6, accuracy: 1e-6)
        let embedding = try net.embed(chip: try dlibChip())
        let dlib = try DlibFixtures.floats(DlibFixtures.golden("embedding_5pt.f32"))
        XCTAssertEqual(embedding.count, 128)
        XCTAssertEqual(dlib.count, 128)
        XCTAssertLessThan(maxAbsDifference(embedding, dlib), 1e-4)
        XCTAssertEqual(FaceRecognitionNet.distance(embedding, [Float](repeating: 0, count: 128)), 1.45729, accuracy: 1e-4)
    }

    /// The 68-point chip golden pair needs only the ResNet: dlib's chip in, dlib's descriptor out.
    func testEmbeddingOf68PointChipMatchesDlib() throws {
        let net = try DlibFixtures.faceRecognitionNet()
        let bytes = [UInt8](try Data(contentsOf: DlibFixtures.golden("chip_68pt.rgb")))
        XCTAssertEqual(bytes.count, 150 * 150 * 3)
        let embedding = try net.embed(chip: RGBImage(width: 150, height: 150, pixels: bytes))
        let dlib = try DlibFixtures.floats(DlibFixtures.golden("embedding_68pt.f32"))
        XCTAssertLessThan(maxAbsDifference(embedding, dlib), 1e-4)
        // MODELS.md: the 5- and 68-point chips of one face are 0.1575 apart.
        let five = try DlibFixtures.floats(DlibFixtures.golden("embedding_5pt.f32"))
        XCTAssertEqual(FaceRecognitionNet.distance(embedding, five), 0.1575, accuracy: 1e-3)
    }

    func testBatchOf16MatchesSingle() throws {
        let net = try DlibFixtures.faceRecognitionNet()
        let chip = try dlibChip()
        let single = try net.embed(chip: chip)
        let batch = try net.embed(chips: [RGBImage](repeating: chip, count: 16))
        XCTAssertEqual(batch.count, 16)
        for (i, e) in batch.enumerated() {
            XCTAssertLessThan(maxAbsDifference(e, single), 1e-5, "chip \(i) of the batch")
            // Row blocks of the batched product may take different OpenBLAS edge paths, so identical chips
            // agree to float rounding, not bit for bit.
            XCTAssertLessThan(maxAbsDifference(e, batch[0]), 1e-6, "identical chips in one batch give the same descriptor")
        }
        // More than one batch, mixed with another face: each keeps its own descriptor.
        let other = chip.mirrored()
        let mixed = try net.embed(chips: [chip, other] + [RGBImage](repeating: chip, count: 17))
        XCTAssertEqual(mixed.count, 19)
        XCTAssertLessThan(maxAbsDifference(mixed[18], single), 1e-5)
        let otherSingle = try net.embed(chip: other)
        XCTAssertLessThan(maxAbsDifference(mixed[1], otherSingle), 1e-5)
        // The mirrored face is still the same person.
        XCTAssertLessThan(FaceRecognitionNet.distance(single, otherSingle), 0.6)
        XCTAssertEqual(try net.embed(chips: []), [])
    }

    func testLayerOutputsMatchDlib() throws {
        let net = try DlibFixtures.faceRecognitionNet()
        let outputs = try net.layerOutputs(chip: try dlibChip())
        let manifest = try String(contentsOf: DlibFixtures.golden("resnet_layers/MANIFEST_annotated.tsv"), encoding: .utf8)
        var compared = 0
        for line in manifest.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 6, fields[5].hasSuffix(".f32") else { continue }
            let index = fields[0] == "input" ? 131 : Int(fields[0]) ?? -1
            guard let mine = outputs[index] else { continue }
            let shape = fields[2].split(separator: "x").compactMap { Int($0) }
            XCTAssertEqual(mine.shape, shape, "layer<\(index)> \(fields[1]) shape")
            let dlib = try DlibFixtures.floats(DlibFixtures.golden(fields[5]))
            XCTAssertEqual(dlib.count, mine.values.count)
            XCTAssertLessThan(maxAbsDifference(mine.values, dlib), 2e-4, "layer<\(index)> \(fields[1])")
            compared += 1
        }
        // Input, stem, max pool, 28 convolution outputs, 14 residual sums, 4 avg pools, the head.
        XCTAssertGreaterThanOrEqual(compared, 45)
    }

    func testEndToEndFromImage() throws {
        let image = try DlibFixtures.astronaut()
        let landmarks = try DlibFixtures.shapePredictor().predict(image: image, box: DlibFixtures.astronautBox)
        let chip = try FaceChip.extract(from: image, landmarks5: landmarks.points)
        let embedding = try DlibFixtures.faceRecognitionNet().embed(chip: chip)
        let dlib = try DlibFixtures.floats(DlibFixtures.golden("embedding_5pt.f32"))
        XCTAssertLessThan(maxAbsDifference(embedding, dlib), 1e-4)
        // dlib's descriptor of the 68-point-aligned chip of the same face is close (0.1575).
        let dlib68 = try DlibFixtures.floats(DlibFixtures.golden("embedding_68pt.f32"))
        XCTAssertEqual(FaceRecognitionNet.distance(embedding, dlib68), 0.1575, accuracy: 1e-3)
    }

    func testDistanceAndBadInput() throws {
        XCTAssertEqual(FaceRecognitionNet.distance([0, 0], [3, 4]), 5)
        XCTAssertEqual(FaceRecognitionNet.distance([1, 2, 3], [1, 2, 3]), 0)
        let net = try DlibFixtures.faceRecognitionNet()
        XCTAssertThrowsError(try net.embed(chips: [RGBImage(width: 150, height: 150), RGBImage(width: 149, height: 150)])) { error in
            guard case ModelError.badInput(let reason) = error else { return XCTFail("expected badInput, got \(error)") }
            XCTAssertTrue(reason.contains("149x150"), reason)
        }
    }
}
