import FacetCore
import Foundation
import Media
import Models
@testable import NN
import XCTest

/// Values crafted inputs can reach that used to trap (overflowing or non-finite arithmetic, zero-sized
/// buffers): each is now a typed error, a skipped frame, or an empty result (issue 18, "arithmetic traps").
final class ReliabilityArithmeticTests: XCTestCase {
    /// A stream's time stamps can put a frame at NaN or 1e300 s: its frame number is no Int. Skipped.
    func testFrameSelectorSkipsFramesWithImpossibleTimes() {
        for fps: Double? in [nil, 2] {
            var selector = FrameSelector(frameRate: 30, duration: nil, start: nil, end: nil, every: nil, fps: fps, maxFrames: nil,
                                         shardIndex: 1, shardCount: 1)
            for t in [1e300, Double.greatestFiniteMagnitude, 4e17] {
                XCTAssertEqual(selector.decide(seconds: t), .skip, "t = \(t), fps \(String(describing: fps))")
            }
            XCTAssertEqual(selector.decide(seconds: 1), .keep(frameNumber: 30))
        }
    }

    /// A seek far past any representable time stamp (a bogus duration lets `--start` get there) gives no
    /// frames instead of trapping in `Int64(seconds / timeBase)`; absurd decoder thread counts are clamped.
    func testVideoReaderSeekBeyondAnyTimeStampAndAbsurdThreadCounts() throws {
        let d18 = TestPaths.video("d18.mp4")
        try requireSharedMedia(d18)
        let reader = try VideoReader(url: d18, options: VideoReaderOptions(threads: Int.max))
        try reader.seek(toSeconds: 1e300)
        XCTAssertNil(try reader.nextFrame())
        let again = try VideoReader(url: d18, options: VideoReaderOptions(threads: Int.max))
        try again.seek(toSeconds: 1e15)
        XCTAssertNil(try again.nextFrame())
        let normal = try VideoReader(url: d18, options: VideoReaderOptions(threads: -7))
        try normal.seek(toSeconds: 2)
        let frame = try XCTUnwrap(try normal.nextFrame())
        XCTAssertEqual(frame.seconds, 2, accuracy: 0.05)
    }

    /// An image above the default pixel limit (callers that give none, such as identify and train) is
    /// refused by FFmpeg before it allocates the frame: exit 65, not 300 MB of pixels.
    func testImagesAboveTheDefaultPixelLimitAreRefused() throws {
        let dir = try makeTemporaryDirectory()
        let big = dir.appendingPathComponent("big.png")
        let make = try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                  ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=black:s=10240x10240", "-frames:v", "1", big.path])
        XCTAssertEqual(make.status, 0, make.stderr)
        XCTAssertThrowsError(try ImageDecoder.decode(fileAt: big)) { error in
            XCTAssertEqual((error as? FacetError)?.exitStatus, .dataError, "\(error)")
            XCTAssertTrue("\(error)".contains(big.path), "\(error)")
        }
        XCTAssertGreaterThan(10240 * 10240, ImageDecoder.defaultMaxPixels)
    }

    /// A checkpoint whose iteration is negative (it would reach `UInt64(iteration)` in the batch sampler)
    /// is refused as a mismatch, changing nothing.
    func testCheckpointWithANegativeIterationIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("model.safetensors")
        let model = try DeepFakesAutoencoder(configuration: .init(inputSize: 16, widthDivisor: 16, seed: 1))
        let trainer = DeepFakesTrainer(model: model, optimizer: .init(learningRate: 1e-3, beta1: 0.5, beta2: 0.999))
        try Checkpoint.save(to: url, architecture: DeepFakesAutoencoder.architecture, configurationJSON: trainer.configurationJSON,
                            iteration: -3, parameters: model.allParameters, optimizers: [trainer.optimizerA, trainer.optimizerB])
        XCTAssertThrowsError(try trainer.loadCheckpoint(from: url)) { error in
            guard case NNError.checkpointMismatch(_, let problems)? = error as? NNError else { return XCTFail("got \(error)") }
            XCTAssertTrue(problems.contains { $0.contains("-3") && $0.contains("negative") }, "\(problems)")
        }
        XCTAssertEqual(trainer.iteration, 0)
    }

    /// A damaged .tflite whose input tensor has a zero-sized dimension is refused when read (it reached
    /// force-unwrapped empty buffers in the interpreter); a batch of 0 is refused too.
    func testTFLiteModelWithAZeroSizedTensorIsRefused() throws {
        let source = try ModelStore().url(for: .blazeFaceShort)
        var bytes = [UInt8](try Data(contentsOf: source))
        // The input's shape vector [1, 128, 128, 3] (length 4, int32 little-endian).
        let pattern: [UInt8] = [4, 0, 0, 0, 1, 0, 0, 0, 128, 0, 0, 0, 128, 0, 0, 0, 3, 0, 0, 0]
        let at = try XCTUnwrap((0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) })
        XCTAssertNoThrow(try TFLiteInterpreter(model: try TFLiteModel(contentsOf: source)))
        bytes[at + 8] = 0
        let dir = try makeTemporaryDirectory()
        let damaged = dir.appendingPathComponent("damaged.tflite")
        try Data(bytes).write(to: damaged)
        XCTAssertThrowsError(try TFLiteInterpreter(model: try TFLiteModel(contentsOf: damaged)).run()) { error in
            guard case ModelError.malformed(let path, let reason)? = error as? ModelError else { return XCTFail("got \(error)") }
            XCTAssertEqual(path, damaged.path)
            XCTAssertTrue(reason.contains("shape"), reason)
        }
        XCTAssertThrowsError(try TFLiteInterpreter(model: try TFLiteModel(contentsOf: source), batch: 0))
    }
}
