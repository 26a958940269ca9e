import FacetCore
import Foundation
import Media
import XCTest

/// `PrefetchingReader` (decoding on a thread of its own) gives exactly what decoding on the caller's thread gives.
final class PrefetchingReaderTests: XCTestCase {
    /// Every frame of a reader, decoded and converted on the calling thread.
    private func direct(_ url: URL) throws -> (frames: [(pts: Int64, seconds: Double, corrupt: Bool, image: RGBImage?)], damage: [String]) {
        let reader = try VideoReader(url: url, options: .reproducible())
        let converter = FrameConverter()
        var frames: [(Int64, Double, Bool, RGBImage?)] = []
        while let frame = try reader.nextFrame() { frames.append((frame.pts, frame.seconds, frame.isCorrupt, try? converter.rgb(frame))) }
        return (frames, reader.damage)
    }

    func testSameFramesPicturesAndOrderAsTheReaderItself() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        let expected = try direct(url)
        // Only every third frame's picture is asked for; the others are decoded and passed over.
        let prefetching = PrefetchingReader(try VideoReader(url: url, options: .reproducible()), depth: 3) { index, _ in index % 3 == 0 }
        var count = 0
        while let frame = try prefetching.next() {
            XCTAssertEqual(frame.index, count)
            let want = expected.frames[count]
            XCTAssertEqual(frame.pts, want.pts)
            XCTAssertEqual(frame.seconds, want.seconds)
            XCTAssertEqual(frame.isCorrupt, want.corrupt)
            if count % 3 == 0 {
                XCTAssertEqual(frame.image, want.image, "frame \(count)")
            } else {
                XCTAssertNil(frame.image, "frame \(count) was not asked for")
            }
            count += 1
        }
        XCTAssertEqual(count, expected.frames.count)
        XCTAssertEqual(count, 216)
        XCTAssertEqual(prefetching.damage, [])
        XCTAssertNil(try prefetching.next(), "the end stays the end")
    }

    func testTruncatedVideoGivesTheSameFramesAndDamage() throws {
        let url = try truncatedSharedVideo("d20.mp4")
        let expected = try direct(url)
        let prefetching = PrefetchingReader(try VideoReader(url: url, options: .reproducible()))
        var frames: [DecodedFrame] = []
        while let frame = try prefetching.next() { frames.append(frame) }
        XCTAssertEqual(frames.map(\.pts), expected.frames.map(\.pts))
        XCTAssertEqual(frames.map(\.image), expected.frames.map(\.image))
        XCTAssertFalse(prefetching.damage.isEmpty, "a truncated video must report damage")
        XCTAssertEqual(prefetching.damage, expected.damage)
    }

    /// Large frames are decoded fewer at a time: the frames waiting stay under the memory budget, and at least 2.
    func testDepthShrinksForLargeFrames() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        let reader = try VideoReader(url: url)   // 480x480: 691,200 bytes of RGB a frame
        XCTAssertEqual(PrefetchingReader.depth(for: reader, wanted: 8), 8)
        XCTAssertEqual(PrefetchingReader.depth(for: reader, wanted: 8, budgetBytes: 3 * 691_200), 3)
        XCTAssertEqual(PrefetchingReader.depth(for: reader, wanted: 8, budgetBytes: 1000), 2)
    }

    /// A caller that stops early (a shard's last segment, an error) releases the reader; the decoding thread,
    /// blocked on a full buffer, ends instead of hanging or decoding on.
    func testStoppingEarlyEndsTheDecodingThread() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        for _ in 0..<20 {
            let prefetching = PrefetchingReader(try VideoReader(url: url, options: .reproducible()), depth: 2)
            _ = try prefetching.next()
        }
        // Still decodes normally afterwards (no thread or handle left stuck).
        let again = PrefetchingReader(try VideoReader(url: url, options: .reproducible()))
        var count = 0
        while try again.next() != nil { count += 1 }
        XCTAssertEqual(count, 216)
    }
}
