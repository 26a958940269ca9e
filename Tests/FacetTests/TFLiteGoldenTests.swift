import Foundation
import Media
import Models
import Tensor
import XCTest

/// BlazeFace and FaceMesh against LiteRT's golden outputs on astronaut.png (../shared/golden/tflite),
/// within the tolerances of MODELS.md: network outputs 1e-3 absolute, decoded boxes 1e-4.
final class TFLiteGoldenTests: XCTestCase {
    static let golden = TestPaths.faces.deletingLastPathComponent().appendingPathComponent("golden/tflite")

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: golden.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func json() throws -> [String: Any] {
        let data = try Data(contentsOf: golden.appendingPathComponent("tflite_golden.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    func testShortRangeNetworkMatchesLiteRT() throws {
        let detector = try BlazeFace(range: .short)
        let out = try detector.rawOutputs(input: try Self.floats("short_input.f32"))
        XCTAssertLessThan(Self.maxAbs(out.regressors, try Self.floats("short_regressors_1x896x16.f32")), 1e-3)
        XCTAssertLessThan(Self.maxAbs(out.classificators, try Self.floats("short_classificators_1x896x1.f32")), 1e-3)
        let anchors = try Self.floats("short_anchors_896x2.f32")
        XCTAssertEqual(detector.anchors.count, 896)
        XCTAssertLessThan(Self.maxAbs(detector.anchors.flatMap { [Float($0.x), Float($0.y)] }, anchors), 1e-6)
    }

    func testFullRangeNetworkMatchesLiteRT() throws {
        let detector = try BlazeFace(range: .full)
        let out = try detector.rawOutputs(input: try Self.floats("full_input.f32"))
        XCTAssertLessThan(Self.maxAbs(out.regressors, try Self.floats("full_regressors_1x2304x16.f32")), 1e-3)
        XCTAssertLessThan(Self.maxAbs(out.classificators, try Self.floats("full_classificators_1x2304x1.f32")), 1e-3)
        XCTAssertLessThan(Self.maxAbs(detector.anchors.flatMap { [Float($0.x), Float($0.y)] }, try Self.floats("full_anchors_2304x2.f32")), 1e-6)
    }

    func testFaceMeshNetworkMatchesLiteRT() throws {
        let mesh = try FaceMesh()
        let out = try mesh.rawOutputs(input: try Self.floats("landmark_input.f32"))
        XCTAssertLessThan(Self.maxAbs(out.landmarks, try Self.floats("landmark_conv2d_20_1x1x1x1404.f32")), 1e-3)
        XCTAssertEqual(out.flag, try Self.floats("landmark_conv2d_30_1x1x1x1.f32")[0], accuracy: 1e-3)
    }

    /// The image-free check: x[i] = sin(0.001 i)·0.9 for every model; sums and first values as LiteRT gave.
    func testSyntheticInputsMatchLiteRT() throws {
        let results = ((try Self.json()["synthetic_input"] as? [String: Any])?["results"] as? [String: Any]) ?? [:]
        func synthetic(_ n: Int) -> [Float] { (0..<n).map { Float(sin(Double($0) * 0.001) * 0.9) } }
        func check(_ values: [Float], _ golden: Any?, _ label: String) {
            guard let g = golden as? [String: Any], let first8 = g["first8"] as? [Double], let sum = g["sum"] as? Double else {
                return XCTFail("\(label): golden entry missing")
            }
            XCTAssertLessThan(Self.maxAbs(Array(values.prefix(8)), first8.map(Float.init)), 1e-3, label)
            XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, sum, accuracy: max(abs(sum) * 1e-5, 0.05), label)
        }
        let short = try BlazeFace(range: .short).rawOutputs(input: synthetic(128 * 128 * 3))
        let shortGolden = results["face_detection_short_range.tflite"] as? [String: Any]
        check(short.regressors, shortGolden?["regressors"], "short regressors")
        check(short.classificators, shortGolden?["classificators"], "short classificators")
        let full = try BlazeFace(range: .full).rawOutputs(input: synthetic(192 * 192 * 3))
        let fullGolden = results["face_detection_full_range.tflite"] as? [String: Any]
        check(full.regressors, fullGolden?["reshaped_regressor_face_4"], "full regressors")
        check(full.classificators, fullGolden?["reshaped_classifier_face_4"], "full classificators")
        let mesh = try FaceMesh().rawOutputs(input: synthetic(192 * 192 * 3))
        check(mesh.landmarks, (results["face_landmark.tflite"] as? [String: Any])?["conv2d_20"], "mesh landmarks")
    }

    /// The same golden checks on every kernel path this CPU has (portable, AVX2, AVX-512; the default is the best).
    func testEveryKernelLevelMatchesLiteRT() throws {
        let saved = FastKernels.level
        defer { FastKernels.level = saved }
        for level in KernelLevel.allCases where level <= FastKernels.supported {
            FastKernels.level = level
            XCTAssertEqual(FastKernels.level, level)
            try testShortRangeNetworkMatchesLiteRT()
            try testFullRangeNetworkMatchesLiteRT()
            try testFaceMeshNetworkMatchesLiteRT()
            try testSyntheticInputsMatchLiteRT()
            try testDetectionAndMeshOnAstronaut()
        }
    }

    /// Through the public pipeline: image in, boxes, keypoints and 468 points out.
    func testDetectionAndMeshOnAstronaut() throws {
        let image = try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))
        let golden = try Self.json()
        for (range, key) in [(BlazeFace.Range.short, "short_range"), (.full, "full_range")] {
            let faces = try BlazeFace(range: range).detect(image)
            XCTAssertEqual(faces.count, 1, "\(range)")
            guard let face = faces.first, let expected = ((golden[key] as? [String: Any])?["nms_detections"] as? [[String: Any]])?.first else { continue }
            let w = Double(image.width)
            XCTAssertEqual(face.score, expected["score"] as? Double ?? 0, accuracy: 1e-4, "\(range) score")
            XCTAssertEqual(face.x / w, expected["xmin"] as? Double ?? 0, accuracy: 1e-4, "\(range) xmin")
            XCTAssertEqual(face.y / w, expected["ymin"] as? Double ?? 0, accuracy: 1e-4, "\(range) ymin")
            XCTAssertEqual(face.width / w, expected["width"] as? Double ?? 0, accuracy: 1e-4, "\(range) width")
            XCTAssertEqual(face.height / w, expected["height"] as? Double ?? 0, accuracy: 1e-4, "\(range) height")
            let keypoints = expected["keypoints"] as? [[Double]] ?? []
            for (k, point) in keypoints.enumerated() {
                XCTAssertEqual(face.keypoints[k].x / w, point[0], accuracy: 1e-4, "\(range) keypoint \(k)")
                XCTAssertEqual(face.keypoints[k].y / w, point[1], accuracy: 1e-4, "\(range) keypoint \(k)")
            }
        }
        let short = try BlazeFace(range: .short).detect(image)
        guard let face = short.first else { return }
        let roi = FaceMesh.roi(for: face)
        let goldenROI = (golden["face_landmark"] as? [String: Any])?["roi_normalized"] as? [String: Double] ?? [:]
        XCTAssertEqual(roi.centerX / 512, goldenROI["x_center"] ?? 0, accuracy: 1e-4)
        XCTAssertEqual(roi.centerY / 512, goldenROI["y_center"] ?? 0, accuracy: 1e-4)
        XCTAssertEqual(roi.width / 512, goldenROI["width"] ?? 0, accuracy: 1e-4)
        XCTAssertEqual(roi.rotation, goldenROI["rotation"] ?? 0, accuracy: 1e-4)
        let result = try FaceMesh().landmarks(in: image, roi: roi)
        XCTAssertGreaterThan(result.presence, 0.5)
        let text = try String(contentsOf: Self.golden.appendingPathComponent("landmark_468_image_px.txt"), encoding: .utf8)
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").compactMap { Double($0) } }
        XCTAssertEqual(rows.count, 468)
        var worst = 0.0
        for (i, row) in rows.enumerated() where row.count == 3 {
            worst = max(worst, abs(result.points[i].x - row[0]), abs(result.points[i].y - row[1]), abs(result.points[i].z - row[2]))
        }
        XCTAssertLessThan(worst, 0.02, "468 points: worst difference \(worst) px")
    }

    func testMissingModelNamesSetup() throws {
        let empty = try makeTemporaryDirectory()
        XCTAssertThrowsError(try BlazeFace(range: .short, store: ModelStore(directory: empty))) { error in
            guard let e = error as? ModelError, case .missing = e else { return XCTFail("expected ModelError.missing, got \(error)") }
            XCTAssertTrue(e.description.contains("make setup"), e.description)
            XCTAssertEqual(e.exitStatus, .noInput)
        }
    }

    /// Truncated and bit-flipped copies of each model: a clear error or a working model, never a crash.
    func testDamagedModelFilesNeverCrash() throws {
        let store = ModelStore()
        var rng = SplitMix64(seed: 99)
        for file in [ModelFile.blazeFaceShort, .blazeFaceFull, .faceMesh] {
            let bytes = [UInt8](try Data(contentsOf: try store.url(for: file)))
            let dir = try makeTemporaryDirectory()
            var cases: [(String, [UInt8])] = [("empty", []), ("header only", Array(bytes.prefix(16))),
                                              ("first 1000 bytes", Array(bytes.prefix(1000))), ("half", Array(bytes.prefix(bytes.count / 2)))]
            for i in 0..<12 {
                var flipped = bytes
                // Flip bits in the structural part (tables and vtables sit near the start and end).
                let region = i % 2 == 0 ? 0..<min(4096, bytes.count) : max(0, bytes.count - 65536)..<bytes.count
                for _ in 0..<4 { flipped[Int.random(in: region, using: &rng)] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng)) }
                cases.append(("bit flip \(i)", flipped))
            }
            for (label, data) in cases {
                let url = dir.appendingPathComponent("\(label).tflite")
                try Data(data).write(to: url)
                do {
                    let model = try TFLiteModel(contentsOf: url)
                    let interpreter = try TFLiteInterpreter(model: model)
                    interpreter.run()   // must not crash even if the numbers are now meaningless
                } catch let error as ModelError {
                    XCTAssertTrue(error.description.contains(url.path), "\(file) \(label): \(error)")
                } catch {
                    XCTFail("\(file) \(label): unexpected error \(error)")
                }
            }
        }
    }

    /// A model whose input tensor declares a dimension of 0 (BlazeFace's 1×128×128×3 input patched to
    /// 1×0×128×3): the interpreter refuses it with a typed error naming the file, before any kernel runs.
    func testZeroSizedTensorIsRefused() throws {
        var bytes = [UInt8](try Data(contentsOf: try ModelStore().url(for: .blazeFaceShort)))
        let pattern: [Int32] = [4, 1, 128, 128, 3]   // the shape vector: length, then the dimensions
        let needle = pattern.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        let at = try XCTUnwrap((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle },
                               "the input shape vector was not found")
        bytes.replaceSubrange((at + 8)..<(at + 12), with: [0, 0, 0, 0])
        let url = try makeTemporaryDirectory().appendingPathComponent("zero-sized.tflite")
        try Data(bytes).write(to: url)
        // Refused when the file is read (a dimension of 0 is an impossible shape) or, at the latest, when the
        // interpreter is built (an operator tensor with no elements): never a crash.
        XCTAssertThrowsError(try TFLiteInterpreter(model: try TFLiteModel(contentsOf: url))) { error in
            guard let e = error as? ModelError, case .malformed = e else { return XCTFail("expected ModelError.malformed, got \(error)") }
            XCTAssertTrue(e.description.contains(url.path), e.description)
            XCTAssertTrue(e.description.contains("zero-sized") || e.description.contains("impossible shape"), e.description)
            XCTAssertEqual(e.exitStatus, .dataError)
        }
    }

    /// A real model with an operator Facet lacks (the sparse BlazeFace needs DENSIFY): the error names it.
    func testUnsupportedOperatorIsNamed() throws {
        let url = ModelStore().directory.appendingPathComponent("face_detection_full_range_sparse.tflite")
        guard FileManager.default.fileExists(atPath: url.path) else { return XCTFail("\(url.path) missing: run make setup") }
        XCTAssertThrowsError(try TFLiteModel(contentsOf: url)) { error in
            guard let e = error as? ModelError, case .unsupportedOperator(let path, let name) = e else { return XCTFail("got \(error)") }
            XCTAssertEqual(path, url.path)
            XCTAssertEqual(name, "DENSIFY")
            XCTAssertEqual(e.exitStatus, .dataError)
        }
    }

    /// A model file damaged in place (same size, one byte changed) is caught by its SHA-256 on load.
    func testCorruptModelOfTheRightSizeIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        let source = try ModelStore().url(for: .blazeFaceShort)
        var bytes = [UInt8](try Data(contentsOf: source))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: dir.appendingPathComponent(ModelFile.blazeFaceShort.fileName))
        XCTAssertThrowsError(try BlazeFace(range: .short, store: ModelStore(directory: dir))) { error in
            guard let e = error as? ModelError, case .checksumMismatch = e else { return XCTFail("got \(error)") }
            XCTAssertTrue(e.description.contains("make setup"), e.description)
        }
        // The intact file verifies, and its stamp makes the next load skip hashing.
        try Data(contentsOf: source).write(to: dir.appendingPathComponent(ModelFile.blazeFaceShort.fileName))
        XCTAssertNoThrow(try ModelStore(directory: dir).url(for: .blazeFaceShort))
        let stamp = try String(contentsOf: dir.appendingPathComponent(".verified"), encoding: .utf8)
        XCTAssertTrue(stamp.contains(ModelFile.blazeFaceShort.sha256))
    }
}
