import FacetCore
import Foundation
import Media
import XCTest

/// Decodes one frame with the `ffmpeg` tool (autorotated, as a player shows it) as an independent reference.
func ffmpegReferenceFrame(_ url: URL, width: Int, height: Int, seconds: Double = 0) throws -> RGBImage? {
    let tool = URL(fileURLWithPath: "/usr/bin/env")
    guard (try? runProcess(tool, ["ffmpeg", "-version"]))?.status == 0 else { return nil }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("facet-ref-\(UUID().uuidString).rgb")
    defer { try? FileManager.default.removeItem(at: out) }
    var arguments = ["ffmpeg", "-v", "error", "-nostdin"]
    if seconds > 0 { arguments += ["-ss", String(seconds)] }
    arguments += ["-i", url.path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", out.path]
    let result = try runProcess(tool, arguments)
    guard result.status == 0 else { XCTFail("ffmpeg failed: \(result.stderr)"); return nil }
    let data = try Data(contentsOf: out)
    guard data.count == width * height * 3 else { XCTFail("ffmpeg gave \(data.count) bytes, expected \(width)x\(height)"); return nil }
    return RGBImage(width: width, height: height, pixels: [UInt8](data))
}

final class VideoReaderTests: XCTestCase {
    private func assertMediaError(_ expression: @autoclosure () throws -> Any, _ expected: (MediaError) -> Bool,
                                  status: ExitStatus, naming path: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let media = error as? MediaError else { return XCTFail("not a MediaError: \(error)", file: file, line: line) }
            XCTAssertTrue(expected(media), "unexpected case: \(media)", file: file, line: line)
            XCTAssertEqual(media.exitStatus, status, file: file, line: line)
            XCTAssertTrue(media.description.contains(path), "\(media.description) should name \(path)", file: file, line: line)
        }
    }

    func testInfoOfD18() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        let reader = try VideoReader(url: url)
        let info = reader.info
        XCTAssertEqual(info.codec, "h264")
        XCTAssertEqual(info.codedWidth, 480)
        XCTAssertEqual(info.codedHeight, 480)
        XCTAssertEqual(info.displayWidth, 480)
        XCTAssertEqual(info.displayHeight, 480)
        XCTAssertEqual(info.frameRate, 30, accuracy: 1e-9)
        XCTAssertEqual(info.frameCount, 216)
        XCTAssertTrue(info.hasAudio)
        XCTAssertEqual(info.audioCodec, "aac")
        XCTAssertEqual(info.rotation, 0)
        XCTAssertEqual(try XCTUnwrap(info.durationSeconds), 7.2, accuracy: 0.05)
        XCTAssertTrue(info.container.contains("mp4"), info.container)
        XCTAssertEqual(info.pixelFormat, "yuv420p")
        XCTAssertGreaterThan(info.timeBaseDenominator, 0)
    }

    func testIteratesEveryFrameInOrderWithoutDamage() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        let reader = try VideoReader(url: url)
        var seconds: [Double] = []
        var pts: [Int64] = []
        while let frame = try reader.nextFrame() {
            seconds.append(frame.seconds)
            pts.append(frame.pts)
            XCTAssertFalse(frame.isCorrupt)
            XCTAssertEqual(frame.width, 480)
            XCTAssertEqual(frame.height, 480)
            XCTAssertEqual(frame.rotation, 0)
        }
        XCTAssertEqual(seconds.count, 216)
        XCTAssertEqual(reader.framesDecoded, 216)
        XCTAssertEqual(reader.damage, [])
        XCTAssertEqual(try XCTUnwrap(seconds.first), 0, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(seconds.last), 215.0 / 30, accuracy: 1.0 / 60)
        for i in 1..<seconds.count {
            XCTAssertGreaterThan(seconds[i], seconds[i - 1], "frame \(i)")
            XCTAssertGreaterThan(pts[i], pts[i - 1], "frame \(i)")
        }
        // The end stays the end.
        XCTAssertNil(try reader.nextFrame())
    }

    func testSeekLandsWithinOneFrame() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        for target in [3.0, 0.5, 6.9] {
            let reader = try VideoReader(url: url)
            try reader.seek(toSeconds: target)
            let frame = try XCTUnwrap(try reader.nextFrame(), "no frame after seeking to \(target)")
            XCTAssertEqual(frame.seconds, target, accuracy: 1.0 / 30 + 1e-6, "seek to \(target)")
            XCTAssertGreaterThanOrEqual(frame.seconds, target - 0.5 / 30 - 1e-6)
            var count = 1
            var last = frame.seconds
            while let next = try reader.nextFrame() {
                XCTAssertGreaterThan(next.seconds, last)
                last = next.seconds
                count += 1
            }
            XCTAssertEqual(count, 216 - Int((target * 30).rounded()), accuracy: 1, "frames after \(target) s")
        }
    }

    func testRotatedVideoIsTurnedUpright() throws {
        let url = TestPaths.fixture("rotated_90.mp4")
        let reader = try VideoReader(url: url)
        XCTAssertTrue([90, 270].contains(reader.info.rotation), "rotation \(reader.info.rotation)")
        XCTAssertEqual(reader.info.codedWidth, 640)
        XCTAssertEqual(reader.info.codedHeight, 360)
        XCTAssertEqual(reader.info.displayWidth, 360)
        XCTAssertEqual(reader.info.displayHeight, 640)
        let frame = try XCTUnwrap(try reader.nextFrame())
        XCTAssertEqual(frame.width, 360)
        XCTAssertEqual(frame.height, 640)
        XCTAssertEqual(frame.codedWidth, 640)
        let converter = FrameConverter()
        let image = try converter.rgb(frame)
        XCTAssertEqual(image.width, 360)
        XCTAssertEqual(image.height, 640)
        // Turned the same way as ffmpeg's autorotate (a wrong direction gives an unrelated picture).
        if let reference = try ffmpegReferenceFrame(url, width: 360, height: 640) {
            XCTAssertGreaterThan(psnr(image, reference), 30, "rotation direction differs from ffmpeg's")
            XCTAssertLessThan(psnr(image.rotated(clockwise: 180), reference), 25)
        }
        let small = try converter.rgb(frame, width: 97, height: 55)
        XCTAssertEqual(small.width, 97)
        XCTAssertEqual(small.height, 55)
        var frames = 1
        while try reader.nextFrame() != nil { frames += 1 }
        XCTAssertEqual(frames, 36, accuracy: 2)
    }

    func testConverterAtArbitrarySizes() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        let reader = try VideoReader(url: url)
        let frame = try XCTUnwrap(try reader.nextFrame())
        let converter = FrameConverter()
        let full = try converter.rgb(frame)
        XCTAssertEqual(full.width, 480)
        XCTAssertEqual(full.pixels.count, 480 * 480 * 3)
        for (w, h) in [(97, 55), (1, 1), (33, 480), (640, 2), (32, 32), (97, 55)] {
            let image = try converter.rgb(frame, width: w, height: h)
            XCTAssertEqual(image.width, w)
            XCTAssertEqual(image.height, h)
            XCTAssertEqual(image.pixels.count, w * h * 3)
        }
        // Same frame, same size: same pixels (the cached scaler is reused correctly).
        XCTAssertEqual(try converter.rgb(frame), full)
        XCTAssertThrowsError(try converter.rgb(frame, width: 0, height: 10))
        if let reference = try ffmpegReferenceFrame(url, width: 480, height: 480) {
            XCTAssertGreaterThan(psnr(full, reference), 30, "RGB conversion differs from ffmpeg's")
        }
    }

    // MARK: Bad input

    func testMissingFile() throws {
        let path = "/nonexistent-\(UUID().uuidString)/clip.mp4"
        assertMediaError(try VideoReader(url: URL(fileURLWithPath: path)), { if case .missing = $0 { return true }; return false },
                         status: .noInput, naming: path)
    }

    func testEmptyFile() throws {
        let url = try makeTemporaryDirectory().appendingPathComponent("empty.mp4")
        try Data().write(to: url)
        assertMediaError(try VideoReader(url: url), { $0 == .emptyFile(path: url.path) }, status: .dataError, naming: url.path)
    }

    func testTextFileNamedMP4() throws {
        let url = try makeTemporaryDirectory().appendingPathComponent("notes.mp4")
        try Data("These are my notes, not a video.\n".utf8).write(to: url)
        assertMediaError(try VideoReader(url: url), { if case .unreadable = $0 { return true }; return false },
                         status: .dataError, naming: url.path)
    }

    func testFolderIsNotAVideo() throws {
        let dir = try makeTemporaryDirectory()
        assertMediaError(try VideoReader(url: dir), { if case .unreadable = $0 { return true }; return false },
                         status: .dataError, naming: dir.path)
    }

    func testAudioOnlyFileHasNoVideoStream() throws {
        let url = TestPaths.fixture("audio_only.m4a")
        assertMediaError(try VideoReader(url: url), { if case .noVideoStream = $0 { return true }; return false },
                         status: .dataError, naming: url.path)
        XCTAssertThrowsError(try VideoReader(url: url)) { error in
            XCTAssertTrue("\(error)".contains("audio"), "\(error)")
        }
    }

    func testFrameLargerThanMaxPixels() throws {
        let url = TestPaths.video("d18.mp4")
        try requireSharedMedia(url)
        assertMediaError(try VideoReader(url: url, options: VideoReaderOptions(maxPixels: 1000)),
                         { $0 == .frameTooLarge(path: url.path, width: 480, height: 480, maxPixels: 1000) },
                         status: .dataError, naming: url.path)
        XCTAssertNoThrow(try VideoReader(url: url, options: VideoReaderOptions(maxPixels: 480 * 480)))
    }

    func testTruncatedVideoYieldsWhatCanBeDecoded() throws {
        let url = try truncatedSharedVideo("d20.mp4")
        let reader = try VideoReader(url: url)
        var frames = 0
        var last = -Double.infinity
        while let frame = try reader.nextFrame() {
            XCTAssertGreaterThan(frame.seconds, last)
            last = frame.seconds
            frames += 1
        }
        XCTAssertGreaterThan(frames, 0)
        XCTAssertLessThan(frames, 175)
        XCTAssertFalse(reader.damage.isEmpty, "a truncated video must report damage")
        XCTAssertEqual(reader.framesDecoded, frames)
    }

    /// An AVI whose header counts frames it holds only as empty "dropped frame" chunks (what capture tools write for
    /// skipped times) is read without a damage note; the same file cut short still gets one.
    func testAVIDroppedFramePlaceholdersAreNotDamage() throws {
        let d18 = TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4")
        let dir = try makeTemporaryDirectory()
        let gaps = dir.appendingPathComponent("gaps.avi")
        let made = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                  ["-v", "error", "-i", d18.path, "-t", "2", "-vf", "select='not(between(n,10,29))',scale=160:160",
                                   "-fps_mode", "passthrough", "-c:v", "mpeg4", "-an", gaps.path], timeout: 120)
        XCTAssertEqual(made.status, 0, made.stderr)
        let reader = try VideoReader(url: gaps)
        XCTAssertEqual(reader.info.frameCount, 60, "the header counts the placeholders")
        var times: [Double] = []
        while let frame = try reader.nextFrame() { times.append(frame.seconds) }
        XCTAssertEqual(times.count, 40)
        XCTAssertEqual(reader.damage, [], "placeholders are not damage")
        XCTAssertGreaterThan(times.last ?? 0, 1.9, "the frames span the whole length")

        let bytes = try Data(contentsOf: gaps)
        let cut = dir.appendingPathComponent("cut.avi")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        let truncated = try VideoReader(url: cut)
        var count = 0
        while try truncated.nextFrame() != nil { count += 1 }
        XCTAssertLessThan(count, 30)
        XCTAssertTrue(truncated.damage.contains { $0.contains("could be decoded") }, "\(truncated.damage)")
    }

    /// A clip trimmed without re-encoding (`ffmpeg -ss ... -c copy`, what editors and phones do) keeps the frames
    /// from the keyframe before the cut, hidden by an edit list: the header counts them, nothing shows them, and
    /// that is not damage. The frames shown are ffprobe's.
    func testTrimmedClipWithAnEditListIsNotDamage() throws {
        let d18 = TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4")
        let trimmed = try makeTemporaryDirectory().appendingPathComponent("trimmed.mp4")
        let made = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"), ["-v", "error", "-ss", "1.3", "-i", d18.path, "-t", "2", "-c", "copy", trimmed.path],
                                  timeout: 120)
        XCTAssertEqual(made.status, 0, made.stderr)
        let probe = try runProcess(URL(fileURLWithPath: "/usr/bin/ffprobe"), ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                                                              "stream=nb_frames,nb_read_frames", "-of", "csv=p=0", trimmed.path])
        let counts = probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Int($0) }
        XCTAssertEqual(counts.count, 2, probe.stdout)
        let reader = try VideoReader(url: trimmed)
        var frames = 0
        while try reader.nextFrame() != nil { frames += 1 }
        XCTAssertEqual(frames, counts.last, "the frames ffprobe shows")
        XCTAssertGreaterThan(counts.first ?? 0, frames + 2, "the header also counts the hidden frames (else this test shows nothing)")
        XCTAssertEqual(reader.damage, [])
    }

    /// Interlaced video (fields woven into frames) is recognised from the stream, and every tool that reads video
    /// gets the same advice to deinterlace; progressive video gets none.
    func testInterlacedVideoIsRecognised() throws {
        let d18 = TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4")
        let woven = try makeTemporaryDirectory().appendingPathComponent("woven.mp4")
        let made = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                  ["-v", "error", "-i", d18.path, "-t", "1", "-vf", "tinterlace=interleave_top,fieldorder=tff", "-flags", "+ilme+ildct",
                                   "-c:v", "libx264", "-an", woven.path], timeout: 120)
        XCTAssertEqual(made.status, 0, made.stderr)
        let interlaced = try VideoReader(url: woven).info
        XCTAssertEqual(interlaced.interlaced, true)
        XCTAssertTrue(interlaced.interlacingWarning?.contains("deinterlace") ?? false)
        let progressive = try VideoReader(url: d18).info
        XCTAssertNotEqual(progressive.interlaced, true)
        XCTAssertNil(progressive.interlacingWarning)
    }

    func testPlaylistNamedMP4IsRefused() throws {
        let target = TestPaths.video("d18.mp4")
        try requireSharedMedia(target)
        let dir = try makeTemporaryDirectory()
        let playlist = dir.appendingPathComponent("playlist.mp4")
        let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:8\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:7.2,\n\(target.path)\n#EXT-X-ENDLIST\n"
        try Data(text.utf8).write(to: playlist)
        assertMediaError(try VideoReader(url: playlist), {
            switch $0 {
            case .forbiddenFormat, .unreadable: return true
            default: return false
            }
        }, status: .dataError, naming: playlist.path)
        // The same with a concat list.
        let concat = dir.appendingPathComponent("concat.mp4")
        try Data("ffconcat version 1.0\nfile '\(target.path)'\n".utf8).write(to: concat)
        assertMediaError(try VideoReader(url: concat), {
            switch $0 {
            case .forbiddenFormat, .unreadable: return true
            default: return false
            }
        }, status: .dataError, naming: concat.path)
    }
}
