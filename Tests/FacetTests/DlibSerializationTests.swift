import Foundation
import Media
import Models
import XCTest

/// Where the dlib golden files and models are, and the models loaded once for the whole test run.
enum DlibFixtures {
    /// `<repo>/../shared`.
    static let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared").standardizedFileURL
    static func golden(_ name: String) -> URL { shared.appendingPathComponent("golden/dlib").appendingPathComponent(name) }
    static let astronautURL = shared.appendingPathComponent("faces/images/astronaut.png")
    /// The dlib HOG detection (upsample 1) the golden landmarks were computed for.
    static let astronautBox = (left: 175, top: 76, right: 265, bottom: 166)

    /// The model file, or a skip when `make setup` has not installed it.
    static func modelURL(_ file: ModelFile) throws -> URL {
        do { return try ModelStore().url(for: file) } catch let error as ModelError {
            throw missingPrerequisite("\(error.description)")
        }
    }

    static func requireGolden() throws {
        guard FileManager.default.fileExists(atPath: golden("landmarks5.txt").path) else {
            throw missingPrerequisite("shared golden files missing: \(shared.path) (clone shared/ beside the repository)")
        }
    }

    static func astronaut() throws -> RGBImage {
        try requireGolden()
        return try ImageDecoder.decode(fileAt: astronautURL)
    }

    private static let predictor = Result { try ShapePredictor(contentsOf: try modelURL(.shapePredictor5)) }
    private static let network = Result { try FaceRecognitionNet(contentsOf: try modelURL(.faceRecognitionResNet)) }
    static func shapePredictor() throws -> ShapePredictor { try predictor.get() }
    static func faceRecognitionNet() throws -> FaceRecognitionNet { try network.get() }

    /// Rows of numbers from a golden text file (`#` lines skipped).
    static func numbers(_ name: String) throws -> [[Double]] {
        try String(contentsOf: golden(name), encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { $0.split(separator: " ").compactMap { Double($0) } }
    }

    static func floats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
    }
}

/// dlib's serialization primitives on hand-made bytes, and damaged model files.
final class DlibSerializationTests: XCTestCase {
    private func reader(_ bytes: [UInt8]) -> DlibReader { DlibReader(bytes: bytes, path: "test.dat") }

    private func assertMalformed<T>(_ body: @autoclosure () throws -> T, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), message, file: file, line: line) { error in
            guard case ModelError.malformed(let path, _) = error else {
                return XCTFail("expected ModelError.malformed, got \(error)", file: file, line: line)
            }
            XCTAssertFalse(path.isEmpty, file: file, line: line)
        }
    }

    func testIntegers() throws {
        var r = reader([0x01, 0x00, 0x01, 0x05, 0x81, 0x05, 0x02, 0x34, 0x12, 0x84, 0x78, 0x56, 0x34, 0x12,
                        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        XCTAssertEqual(try r.readInt(), 0)
        XCTAssertEqual(try r.readInt(), 5)
        XCTAssertEqual(try r.readInt(), -5)
        XCTAssertEqual(try r.readInt(), 0x1234)
        XCTAssertEqual(try r.readInt(), -0x1234_5678)
        XCTAssertEqual(try r.readInt(), Int.max)
        XCTAssertTrue(r.isAtEnd)
        XCTAssertNoThrow(try r.expectEnd())

        var zeroLength = reader([0x00, 0x01]); assertMalformed(try zeroLength.readInt(), "0 bytes")
        var nine = reader([0x09] + [UInt8](repeating: 1, count: 9)); assertMalformed(try nine.readInt(), "9 bytes")
        var asciiBits = reader([0x31, 0x00]); assertMalformed(try asciiBits.readInt(), "0x70 bits set")
        var truncated = reader([0x02, 0x01]); assertMalformed(try truncated.readInt(), "truncated")
        var empty = reader([]); assertMalformed(try empty.readInt(), "empty")
        var tooBig = reader([0x08, 0, 0, 0, 0, 0, 0, 0, 0x80]); assertMalformed(try tooBig.readInt(), "above Int64.max")
        var trailing = reader([0x01, 0x00, 0x00]); _ = try trailing.readInt()
        assertMalformed(try trailing.expectEnd(), "trailing byte")
        XCTAssertThrowsError(try trailing.expectEnd()) { error in
            XCTAssertTrue("\(error)".contains("test.dat"), "the error names the file: \(error)")
        }
    }

    func testFloats() throws {
        // The example from MODELS.md: mantissa 0xa3d70a, exponent -28 = 0.04 (as float).
        var r = reader([0x03, 0x0a, 0xd7, 0xa3, 0x81, 0x1c])
        let v = try r.readFloat()
        XCTAssertEqual(v, Double(0xa3d70a) * pow(2, -28))
        XCTAssertEqual(Float(v), Float(0.04))
        var one = reader([0x01, 0x01, 0x01, 0x00]); XCTAssertEqual(try one.readFloat(), 1)
        var negative = reader([0x81, 0x05, 0x81, 0x01]); XCTAssertEqual(try negative.readFloat(), -2.5)
        var zero = reader([0x01, 0x00, 0x01, 0x00]); XCTAssertEqual(try zero.readFloat(), 0)
        var big = reader([0x01, 0x03, 0x01, 0x64]); XCTAssertEqual(try big.readFloat(), 3 * pow(2, 100))
        // Exponents 32000, 32001, 32002: +inf, -inf, NaN.
        var inf = reader([0x01, 0x00, 0x02, 0x00, 0x7d]); XCTAssertEqual(try inf.readFloat(), .infinity)
        var minusInf = reader([0x01, 0x00, 0x02, 0x01, 0x7d]); XCTAssertEqual(try minusInf.readFloat(), -.infinity)
        var nan = reader([0x01, 0x00, 0x02, 0x02, 0x7d]); XCTAssertTrue(try nan.readFloat().isNaN)
        var ascii = reader(Array("0.04 ".utf8)); assertMalformed(try ascii.readFloat(), "legacy ASCII float")
        var badExponent = reader([0x01, 0x01, 0x03, 0x00, 0x00, 0x01]); assertMalformed(try badExponent.readFloat(), "exponent beyond int16")
        var cut = reader([0x03, 0x0a, 0xd7, 0xa3]); assertMalformed(try cut.readFloat(), "no exponent")
    }

    func testBoolStringAndVector() throws {
        var r = reader([0x31, 0x30, 0x01, 0x03, 0x61, 0x62, 0x63, 0x01, 0x02, 0x01, 0x07, 0x81, 0x03])
        XCTAssertEqual(try r.readBool(), true)
        XCTAssertEqual(try r.readBool(), false)
        XCTAssertEqual(try r.readString(), "abc")
        XCTAssertEqual(try r.readVector(minimumBytes: 2) { try $0.readInt() }, [7, -3])
        XCTAssertTrue(r.isAtEnd)

        var badBool = reader([0x02]); assertMalformed(try badBool.readBool())
        var longString = reader([0x01, 0x05, 0x61]); assertMalformed(try longString.readString(), "string past the end")
        // A length of Int64.max must be refused at once, not allocated or looped over.
        var hugeVector = reader([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x00])
        assertMalformed(try hugeVector.readVector { try $0.readInt() }, "huge vector")
        var negativeVector = reader([0x81, 0x01]); assertMalformed(try negativeVector.readVector { try $0.readInt() })
        // Two ints need at least 4 bytes: a length of 3 cannot fit in 5.
        var tight = reader([0x01, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01])
        assertMalformed(try tight.readVector(minimumBytes: 2) { try $0.readInt() })
    }

    func testMatrixAndPoint() throws {
        // matrix<float> 2x1 (dims negated), elements 1.0 and 0.04; then a dlib::vector<float,2> (1, -2.5).
        var r = reader([0x81, 0x02, 0x81, 0x01, 0x01, 0x01, 0x01, 0x00, 0x03, 0x0a, 0xd7, 0xa3, 0x81, 0x1c,
                        0x01, 0x01, 0x01, 0x00, 0x81, 0x05, 0x81, 0x01])
        let m = try r.readFloatMatrix()
        XCTAssertEqual(m.rows, 2); XCTAssertEqual(m.cols, 1)
        XCTAssertEqual(m.values, [1, 0.04])
        XCTAssertEqual(try r.readPoint(), SIMD2<Float>(1, -2.5))
        XCTAssertTrue(r.isAtEnd)
        // 1000x1000 floats cannot fit in what is left.
        var huge = reader([0x82, 0xe8, 0x03, 0x82, 0xe8, 0x03, 0x01, 0x00, 0x01, 0x00])
        assertMalformed(try huge.readFloatMatrix())
    }

    func testTensorAndAlias() throws {
        var bytes: [UInt8] = [0x01, 0x02, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x01]
        for v: Float in [1, -2] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        bytes += [0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01, 0x01]
        var r = reader(bytes)
        let t = try r.readTensor()
        XCTAssertEqual(t.shape, [1, 2, 1, 1])
        XCTAssertEqual(t.values, [1, -2])
        XCTAssertEqual(try r.readAliasTensor(), [1, 2, 1, 1])
        XCTAssertTrue(r.isAtEnd)

        var version3 = reader([0x01, 0x03, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00]); assertMalformed(try version3.readTensor())
        var short = reader([0x01, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0, 0, 0x80]); assertMalformed(try short.readTensor())
        var hugeDims = reader([0x01, 0x02, 0x04, 0xff, 0xff, 0xff, 0x7f, 0x04, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x01, 0x01, 0x01])
        assertMalformed(try hugeDims.readTensor())
        var negative = reader([0x01, 0x02, 0x81, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]); assertMalformed(try negative.readTensor())
    }

    // MARK: damaged model files

    /// Loading `bytes` as `file` must throw a ModelError (never crash or hang).
    private func load(_ bytes: [UInt8], as file: ModelFile, in folder: URL) throws -> Error? {
        let url = folder.appendingPathComponent(file.fileName)
        try Data(bytes).write(to: url)
        do {
            switch file {
            case .shapePredictor5: _ = try ShapePredictor(contentsOf: url)
            default: _ = try FaceRecognitionNet(contentsOf: url)
            }
            return nil
        } catch {
            return error
        }
    }

    private func checkDamagedCopies(of file: ModelFile, structuralFlips: [(offset: Int, mask: UInt8)]) throws {
        let original = [UInt8](try Data(contentsOf: try DlibFixtures.modelURL(file)))
        let folder = try makeTemporaryDirectory()
        let truncations = [0, 1, 2, 1000, original.count / 2, original.count - 1]
        for length in truncations {
            let error = try load(Array(original[..<length]), as: file, in: folder)
            guard case ModelError.malformed(let path, let reason)? = error else {
                XCTFail("\(file.fileName) cut to \(length) bytes: expected ModelError.malformed, got \(String(describing: error))"); continue
            }
            XCTAssertTrue(path.hasSuffix(file.fileName), path)
            XCTAssertFalse(reason.isEmpty)
        }
        let error = try load(original + [0x01, 0x00], as: file, in: folder)
        guard case ModelError.malformed(_, let reason)? = error else { return XCTFail("trailing bytes accepted: \(String(describing: error))") }
        XCTAssertTrue(reason.contains("trailing"), reason)
        // Flips in the structure (control bytes, versions, counts, names) are caught by the parser.
        for flip in structuralFlips {
            var copy = original
            copy[flip.offset] ^= flip.mask
            let error = try load(copy, as: file, in: folder)
            XCTAssertTrue(error is ModelError, "\(file.fileName) with byte \(flip.offset) ^ \(flip.mask): \(String(describing: error))")
        }
        // Flips anywhere: the loader throws a ModelError or, when the flip only changed a stored number,
        // loads; it never crashes. (Those are caught by the pinned SHA-256 that `ModelStore.verify` checks.)
        var rng = SplitMix64(seed: 5)
        for _ in 0..<2 {
            var copy = original
            let offset = Int.random(in: 0..<copy.count, using: &rng)
            copy[offset] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            if let error = try load(copy, as: file, in: folder) {
                XCTAssertTrue(error is ModelError, "byte \(offset): \(error)")
            }
        }
    }

    func testDamagedShapePredictorThrows() throws {
        // 0: the version's control byte; 1: the version; 3: the initial shape's row count (-10 -> -11).
        try checkDamagedCopies(of: .shapePredictor5, structuralFlips: [(0, 0x40), (1, 0x02), (3, 0x01), (2, 0x04)])
    }

    func testDamagedResNetThrows() throws {
        // 0-1: the loss wrapper's version; 2: the loss name's length; 5: a letter of "loss_metric_2";
        // 40 and 101: wrapper versions.
        try checkDamagedCopies(of: .faceRecognitionResNet, structuralFlips: [(0, 0x40), (1, 0x02), (2, 0x01), (5, 0x20), (40, 0x04), (101, 0x02)])
    }

    func testMissingModelMentionsSetup() throws {
        let empty = try makeTemporaryDirectory()
        let store = ModelStore(directory: empty)
        for load in [{ _ = try ShapePredictor(store: store) }, { _ = try FaceRecognitionNet(store: store) },
                     { _ = try ShapePredictor(contentsOf: empty.appendingPathComponent("nothing.dat")) },
                     { _ = try FaceRecognitionNet(contentsOf: empty.appendingPathComponent("nothing.dat")) }] {
            XCTAssertThrowsError(try load()) { error in
                guard case ModelError.missing = error else { return XCTFail("expected ModelError.missing, got \(error)") }
                XCTAssertTrue("\(error)".contains("make setup"), "\(error)")
            }
        }
    }
}
