import FacetCore
import Foundation
import NN
import Tensor
import XCTest

/// safetensors checkpoints: round trip with optimizer state, atomic writes, readable header, and clear
/// errors for missing, truncated and mismatched files.
final class NNCheckpointTests: XCTestCase {
    private func smallTrainer(widthDivisor: Int = 16, seed: UInt64 = 1) throws -> DeepFakesTrainer {
        let model = try DeepFakesAutoencoder(configuration: .init(inputSize: 16, widthDivisor: widthDivisor, seed: seed))
        return DeepFakesTrainer(model: model, optimizer: .init(learningRate: 1e-3, beta1: 0.5, beta2: 0.999))
    }

    private func batch(_ seed: UInt64) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return rng.tensor([2, 16, 16, 3], 0, 1)
    }

    /// Train 2 iterations, save, load into a fresh model, train 1 more on both: identical to the bit.
    func testRoundTripResumesTrainingExactly() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("run/model.safetensors")
        let (a, b) = (batch(1), batch(2))
        let original = try smallTrainer()
        for _ in 0..<2 { try original.iterate(inputA: a, targetA: a, inputB: b, targetB: b) }
        try original.saveCheckpoint(to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["model.safetensors"],
                       "no temporary file left behind")

        let resumed = try smallTrainer(seed: 1234)   // different initial weights, all overwritten
        try resumed.loadCheckpoint(from: url)
        XCTAssertEqual(resumed.iteration, 2)
        XCTAssertEqual(resumed.optimizerA.iterations, 2)
        XCTAssertEqual(resumed.optimizerB.configuration, original.optimizerB.configuration)
        for (p, q) in zip(resumed.model.allParameters, original.model.allParameters) { XCTAssertEqual(p.value, q.value, p.name) }
        let la = try original.iterate(inputA: a, targetA: a, inputB: b, targetB: b)
        let lb = try resumed.iterate(inputA: a, targetA: a, inputB: b, targetB: b)
        XCTAssertEqual(la.a, lb.a); XCTAssertEqual(la.b, lb.b)
        for (p, q) in zip(resumed.model.allParameters, original.model.allParameters) { XCTAssertEqual(p.value, q.value, p.name) }
    }

    /// A full disk: the save fails with a disk-full error and the previous checkpoint survives untouched.
    func testFullDiskLeavesThePreviousCheckpointIntact() throws {
        let dir = try mountTmpfs(size: "64k")
        let url = dir.appendingPathComponent("model.safetensors")
        try Data("previous".utf8).write(to: url)
        XCTAssertThrowsError(try smallTrainer().saveCheckpoint(to: url)) { error in
            XCTAssertEqual(error as? FileError, .diskFull(path: url.path))
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("previous".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"])
    }

    /// The header is plain safetensors JSON: names, F32, shapes, offsets, and the metadata map.
    func testHeaderIsStandardSafetensorsWithArchitectureMetadata() throws {
        let url = try makeTemporaryDirectory().appendingPathComponent("m.safetensors")
        let trainer = try smallTrainer()
        try trainer.saveCheckpoint(to: url)
        let data = try Data(contentsOf: url)
        let length = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        XCTAssertEqual((8 + length) % 8, 0)
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        let conv = try XCTUnwrap(header["encoder.conv1.kernel"] as? [String: Any])
        XCTAssertEqual(conv["dtype"] as? String, "F32")
        XCTAssertEqual(conv["shape"] as? [Int], [5, 5, 3, 8])
        XCTAssertNotNil(header["optimizer.B.v.decoderB.output.bias"])
        let metadata = try XCTUnwrap(header["__metadata__"] as? [String: String])
        XCTAssertEqual(metadata["architecture"], "deepfakes-autoencoder")
        XCTAssertEqual(metadata["format"], "facet-nn-checkpoint/1")
        XCTAssertEqual(metadata["iteration"], "0")
        let configuration = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(metadata["configuration"]).utf8)) as? [String: Any])
        XCTAssertEqual(configuration["widthDivisor"] as? Int, 16)
        XCTAssertEqual(configuration["inputSize"] as? Int, 16)
        let contents = try SafeTensors.decode(data, path: url.path)
        XCTAssertEqual(try SafeTensors.decode(try SafeTensors.encode(contents), path: "again"), contents)
    }

    func testMissingAndTruncatedFilesAreReportedClearly() throws {
        let dir = try makeTemporaryDirectory()
        let trainer = try smallTrainer()
        XCTAssertThrowsError(try trainer.loadCheckpoint(from: dir.appendingPathComponent("nope.safetensors"))) { error in
            XCTAssertEqual((error as? FacetError)?.exitStatus, .noInput)
        }
        let url = dir.appendingPathComponent("m.safetensors")
        try trainer.saveCheckpoint(to: url)
        let data = try Data(contentsOf: url)
        for (cut, words) in [(data.count - 100, "outside"), (30, "header"), (5, "shorter")] {
            let truncated = dir.appendingPathComponent("cut\(cut).safetensors")
            try data.prefix(cut).write(to: truncated)
            XCTAssertThrowsError(try trainer.loadCheckpoint(from: truncated)) { error in
                guard case NNError.checkpointUnreadable(let path, let reason) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(path, truncated.path)
                XCTAssertTrue(reason.contains(words), reason)
                XCTAssertEqual((error as? FacetError)?.exitStatus, .dataError)
            }
        }
        // A header claiming an absurd shape is refused, not trusted.
        let header = Data(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#.utf8)
        var absurd = Data(count: 8)
        absurd[0] = UInt8(header.count)
        absurd.append(header)
        XCTAssertThrowsError(try SafeTensors.decode(absurd, path: "absurd")) { error in
            XCTAssertTrue("\(error)".contains("invalid shape"), "\(error)")
        }
        var garbage = Data(count: 8)
        garbage[0] = 4
        garbage.append(contentsOf: Array("nope".utf8))
        try garbage.write(to: dir.appendingPathComponent("g.safetensors"))
        XCTAssertThrowsError(try trainer.loadCheckpoint(from: dir.appendingPathComponent("g.safetensors")))
    }

    /// A checkpoint of another width: every mismatch is listed, and the model is left untouched.
    func testWrongShapesAreListedAndNothingIsLoaded() throws {
        let url = try makeTemporaryDirectory().appendingPathComponent("w8.safetensors")
        try smallTrainer(widthDivisor: 8).saveCheckpoint(to: url)
        let trainer = try smallTrainer(widthDivisor: 16)
        let before = trainer.model.allParameters.map(\.value)
        XCTAssertThrowsError(try trainer.loadCheckpoint(from: url)) { error in
            guard case NNError.checkpointMismatch(_, let problems) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(problems.contains { $0.hasPrefix("configuration") }, "\(problems)")
            XCTAssertTrue(problems.contains("encoder.conv1.kernel: shape [5, 5, 3, 16] in the file, the model has [5, 5, 3, 8]"), "\(problems)")
            XCTAssertTrue(problems.contains { $0.hasPrefix("optimizer.A.m.encoder.dense1.kernel: shape") }, "\(problems)")
            XCTAssertTrue("\(error)".contains(url.path))
            XCTAssertTrue("\(error)".contains("and \(problems.count - 6) more"), "\(error)")
        }
        XCTAssertEqual(trainer.model.allParameters.map(\.value), before)

        // Missing and unexpected names, from a hand-made file with the right metadata.
        let good = try SafeTensors.read(url)
        var renamed = good
        renamed.tensors[0].name = "encoder.conv1.weight"
        let url16 = url.deletingLastPathComponent().appendingPathComponent("renamed.safetensors")
        try SafeTensors.write(renamed, to: url16)
        XCTAssertThrowsError(try smallTrainer(widthDivisor: 8).loadCheckpoint(from: url16)) { error in
            guard case NNError.checkpointMismatch(_, let problems) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(problems.contains("missing tensor encoder.conv1.kernel [5, 5, 3, 16]"), "\(problems)")
            XCTAssertTrue(problems.contains("unexpected tensor encoder.conv1.weight"), "\(problems)")
        }
    }
}
