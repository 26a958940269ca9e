import FacetCore
import Foundation
import Media
import XCTest

/// `BackgroundVideoWriter`: the same file as the writer alone, errors handed back, nothing left when dropped.
final class BackgroundVideoWriterTests: XCTestCase {
    private func frames(_ n: Int) -> [RGBImage] { (0..<n).map { VideoWriterTests.syntheticFrame($0) } }

    private func options(_ codec: VideoCodecChoice, audio: URL? = nil) -> VideoWriterOptions {
        VideoWriterOptions(width: 320, height: 240, audioSource: audio, metadata: ["comment": "test"], codec: codec)
    }

    /// The same frames through the writer alone and through the background thread (depth 1 and 3) give the
    /// same bytes: lossless FFV1 with the sound of d18 copied in (x264's own threads make its bytes vary from run
    /// to run even with the writer alone, so H.264 is checked by its frames' times and pictures).
    func testTheFileIsTheWritersOwnByteForByte() throws {
        let audio = TestPaths.video("d18.mp4")
        try requireSharedMedia(audio)
        let dir = try makeTemporaryDirectory()
        let images = frames(40)
        for codec in [VideoCodecChoice.ffv1, .h264] {
            let ext = codec == .ffv1 ? "mkv" : "mp4"
            let direct = dir.appendingPathComponent("direct.\(ext)")
            let writer = try VideoWriter(url: direct, options: options(codec, audio: audio))
            for (i, image) in images.enumerated() { try writer.write(image, pts: Int64(i)) }
            try writer.finish()
            for depth in [1, 3] {
                let url = dir.appendingPathComponent("background-\(depth).\(ext)")
                let background = BackgroundVideoWriter(try VideoWriter(url: url, options: options(codec, audio: audio)), depth: depth)
                for (i, image) in images.enumerated() { try background.write(image, pts: Int64(i)) }
                XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "nothing at the destination before finish()")
                try background.finish()
                try background.finish()  // a second finish does nothing
                if codec == .ffv1 {
                    XCTAssertEqual(try Data(contentsOf: url), try Data(contentsOf: direct), "depth \(depth)")
                    continue
                }
                let (want, got) = (try decode(direct), try decode(url))
                XCTAssertEqual(got.times, want.times, "depth \(depth)")
                XCTAssertEqual(got.pictures.count, images.count)
                for (a, b) in zip(got.pictures, images) { XCTAssertLessThan(meanAbsoluteDifference(a, b), 2.5, "depth \(depth)") }
                XCTAssertTrue(try VideoReader(url: url).info.hasAudio)
            }
        }
    }

    private func decode(_ url: URL) throws -> (times: [Double], pictures: [RGBImage]) {
        let reader = try VideoReader(url: url)
        let converter = FrameConverter()
        var times: [Double] = [], pictures: [RGBImage] = []
        while let frame = try reader.nextFrame() { times.append(frame.seconds); pictures.append(try converter.rgb(frame)) }
        return (times, pictures)
    }

    private func meanAbsoluteDifference(_ a: RGBImage, _ b: RGBImage) -> Double {
        guard a.width == b.width, a.height == b.height else { return .infinity }
        var total = 0
        for i in a.pixels.indices { total += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
        return Double(total) / Double(max(1, a.pixels.count))
    }

    /// A frame of the wrong size fails on the writing thread; the error comes back from a later `write` or from
    /// `finish`, and no file (finished or temporary) is left.
    func testAWriteErrorComesBackAndLeavesNoFile() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("broken.mp4")
        let background = BackgroundVideoWriter(try VideoWriter(url: url, options: options(.h264)), depth: 2)
        try background.write(frames(1)[0], pts: 0)
        try background.write(RGBImage(width: 16, height: 16), pts: 1)
        var thrown: Error?
        do {
            for i in 2..<50 { try background.write(VideoWriterTests.syntheticFrame(i), pts: Int64(i)) }
            try background.finish()
        } catch { thrown = error }
        let message = "\(thrown.map { String(describing: $0) } ?? "no error")"
        XCTAssertTrue(message.contains("16x16"), message)
        XCTAssertThrowsError(try background.finish(), "finish after a failure still reports it") { _ in }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// Dropped without `finish()` (a job interrupted by an error elsewhere): the thread stops and the temporary
    /// file is removed, as for a `VideoWriter` dropped alone.
    func testDroppingItLeavesNothing() throws {
        let dir = try makeTemporaryDirectory()
        do {
            let background = BackgroundVideoWriter(try VideoWriter(url: dir.appendingPathComponent("dropped.mp4"), options: options(.h264)))
            for (i, image) in frames(10).enumerated() { try background.write(image, pts: Int64(i)) }
        }
        // The thread lets go of the writer once it sees the object gone; give it a moment.
        let deadline = Date().addingTimeInterval(10)
        while (try FileManager.default.contentsOfDirectory(atPath: dir.path)).count > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testDepthKeepsLargeFramesUnderTheBudget() {
        XCTAssertEqual(BackgroundVideoWriter.depth(width: 640, height: 360), 4)
        XCTAssertEqual(BackgroundVideoWriter.depth(width: 3840, height: 2160), 2, "25 MB frames: 2 under 64 MB")
        XCTAssertEqual(BackgroundVideoWriter.depth(width: 10000, height: 10000), 1)
    }
}
