import FacetCore
import Foundation
import Media
import XCTest

/// The top-level boxes of an MP4 file, in order (type and size).
func topLevelBoxes(of url: URL) throws -> [(type: String, size: UInt64)] {
    let data = try Data(contentsOf: url)
    var boxes: [(String, UInt64)] = []
    var offset = 0
    func be(_ at: Int, _ count: Int) -> UInt64 { data[at..<(at + count)].reduce(0) { $0 << 8 | UInt64($1) } }
    while offset + 8 <= data.count {
        var size = be(offset, 4)
        let type = String(decoding: data[(offset + 4)..<(offset + 8)], as: UTF8.self)
        if size == 1 {
            guard offset + 16 <= data.count else { break }
            size = be(offset + 8, 8)
        } else if size == 0 {
            size = UInt64(data.count - offset)
        }
        guard size >= 8 else { break }
        boxes.append((type, size))
        offset += Int(size)
    }
    return boxes
}

final class VideoWriterTests: XCTestCase {
    /// Frame `i` of the synthetic clip: a drifting gradient with a square moving across it.
    static func syntheticFrame(_ i: Int, width: Int = 320, height: Int = 240) -> RGBImage {
        Synthetic.gradient(width: width, height: height, phase: i, square: (x: 10 + i * 5, y: 40 + i * 2, size: 48))
    }

    func testRoundTripWithAudioAndMetadata() throws {
        let audio = TestPaths.video("d18.mp4")
        try requireSharedMedia(audio)
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("synthetic out.mp4")
        let metadata = ["comment": "synthetic: made by Facet", "facet_synthetic": "true"]
        let originals = (0..<45).map { Self.syntheticFrame($0) }
        let writer = try VideoWriter(url: url, options: VideoWriterOptions(width: 320, height: 240, audioSource: audio, metadata: metadata))
        XCTAssertEqual(writer.encoderName, VideoWriter.h264Available ? "libx264" : "mpeg4")
        for image in originals { try writer.write(image) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "nothing at the destination before finish()")
        try writer.finish()
        try writer.finish()   // a second finish is a no-op
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["synthetic out.mp4"], "no temporary file left")

        let reader = try VideoReader(url: url)
        XCTAssertEqual(reader.info.codedWidth, 320)
        XCTAssertEqual(reader.info.codedHeight, 240)
        XCTAssertEqual(reader.info.frameRate, 30, accuracy: 0.01)
        XCTAssertTrue(reader.info.hasAudio)
        XCTAssertEqual(reader.info.audioCodec, "aac")
        XCTAssertEqual(reader.info.rotation, 0)
        if VideoWriter.h264Available { XCTAssertEqual(reader.info.codec, "h264") }
        let converter = FrameConverter()
        var decoded: [RGBImage] = []
        var times: [Double] = []
        while let frame = try reader.nextFrame() {
            decoded.append(try converter.rgb(frame))
            times.append(frame.seconds)
        }
        XCTAssertEqual(decoded.count, 45, "every written frame comes back")
        XCTAssertEqual(reader.damage, [])
        for (i, t) in times.enumerated() { XCTAssertEqual(t, Double(i) / 30, accuracy: 1e-3, "frame \(i) time") }
        let scores = zip(decoded, originals).map { psnr($0, $1) }
        let mean = scores.reduce(0, +) / Double(max(scores.count, 1))
        XCTAssertGreaterThan(mean, 30, "mean PSNR \(mean)")
        XCTAssertGreaterThan(scores.min() ?? 0, 25, "worst frame PSNR")

        // ffprobe's view: codec, pixel format and the metadata tags.
        let probe = try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                   ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,pix_fmt:format_tags", "-of", "json", url.path])
        if probe.status == 127 { throw missingPrerequisite("ffprobe is not installed") }
        XCTAssertEqual(probe.status, 0, probe.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: probe.stdoutData) as? [String: Any])
        let streams = try XCTUnwrap(json["streams"] as? [[String: Any]])
        let codecs = streams.compactMap { $0["codec_name"] as? String }
        XCTAssertTrue(codecs.contains(VideoWriter.h264Available ? "h264" : "mpeg4"), "\(codecs)")
        XCTAssertTrue(codecs.contains("aac"), "\(codecs)")
        XCTAssertTrue(streams.contains { $0["pix_fmt"] as? String == "yuv420p" }, "\(streams)")
        let tags = try XCTUnwrap((json["format"] as? [String: Any])?["tags"] as? [String: Any], "\(json)")
        XCTAssertEqual(tags["comment"] as? String, "synthetic: made by Facet")
        XCTAssertEqual(tags["facet_synthetic"] as? String, "true")

        // Fast start: the index (moov) comes before the media data (mdat).
        let types = try topLevelBoxes(of: url).map(\.type)
        let moov = try XCTUnwrap(types.firstIndex(of: "moov"), "\(types)")
        let mdat = try XCTUnwrap(types.firstIndex(of: "mdat"), "\(types)")
        XCTAssertLessThan(moov, mdat, "boxes: \(types)")
        XCTAssertEqual(types.first, "ftyp")
    }

    func testTimestampsAreRoundedAndIncreasing() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("times.mp4")
        let writer = try VideoWriter(url: url, options: VideoWriterOptions(width: 64, height: 48, frameRateNumerator: 25, preset: "ultrafast"))
        // Explicit times, one repeated and one going back: forced to increase. A gap stays a gap.
        for (i, t) in [0.0, 0.04, 0.04, 0.01, 0.4, 0.44].enumerated() {
            try writer.write(Self.syntheticFrame(i, width: 64, height: 48), seconds: t)
        }
        try writer.finish()
        let reader = try VideoReader(url: url)
        var times: [Double] = []
        while let frame = try reader.nextFrame() { times.append(frame.seconds) }
        XCTAssertEqual(times.count, 6)
        for (actual, expected) in zip(times, [0, 0.04, 0.08, 0.12, 0.4, 0.44]) { XCTAssertEqual(actual, expected, accuracy: 1e-3) }
        XCTAssertFalse(reader.info.hasAudio)
    }

    func testDroppedWriterLeavesNothing() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("unfinished.mp4")
        do {
            let writer = try VideoWriter(url: url, options: VideoWriterOptions(width: 320, height: 240, preset: "ultrafast"))
            for i in 0..<5 { try writer.write(Self.syntheticFrame(i)) }
            XCTAssertEqual(temporaryFiles(in: dir).count, 1, "the work in progress is a temporary file")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no file and no temporary file")
    }

    func testRefusesBadSizes() throws {
        let dir = try makeTemporaryDirectory()
        for (w, h) in [(320, 0), (-2, 4)] {
            XCTAssertThrowsError(try VideoWriter(url: dir.appendingPathComponent("bad.mp4"), options: VideoWriterOptions(width: w, height: h)),
                                 "\(w)x\(h)")
        }
        XCTAssertThrowsError(try VideoWriter(url: dir.appendingPathComponent("bad.mp4"),
                                             options: VideoWriterOptions(width: 32, height: 32, frameRateNumerator: 0)))
        let writer = try VideoWriter(url: dir.appendingPathComponent("ok.mp4"), options: VideoWriterOptions(width: 32, height: 32, preset: "ultrafast"))
        XCTAssertThrowsError(try writer.write(RGBImage(width: 30, height: 32))) { error in
            XCTAssertTrue("\(error)".contains("30x32"), "\(error)")
        }
        try writer.write(RGBImage(width: 32, height: 32, fill: (10, 200, 30)))
        try writer.finish()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["ok.mp4"])
    }

    /// H.264 in yuv420p needs even sides: an odd-sized video is encoded one pixel longer on each odd side, its last
    /// column and row repeated; FFV1 keeps the odd size exactly.
    func testOddSizesArePaddedToEvenForH264AndKeptForFFV1() throws {
        let dir = try makeTemporaryDirectory()
        var image = RGBImage(width: 321, height: 241)
        for y in 0..<241 { for x in 0..<321 {
            let p = (y * 321 + x) * 3
            image.pixels[p] = UInt8(x / 2); image.pixels[p + 1] = UInt8(y); image.pixels[p + 2] = UInt8((x + y) / 3)
        } }
        let h264 = dir.appendingPathComponent("odd.mp4")
        let writer = try VideoWriter(url: h264, options: VideoWriterOptions(width: 321, height: 241, crf: 0, preset: "ultrafast"))
        XCTAssertEqual([writer.encodedWidth, writer.encodedHeight], [322, 242])
        XCTAssertTrue(writer.isPadded)
        for _ in 0..<3 { try writer.write(image) }
        try writer.finish()
        let reader = try VideoReader(url: h264)
        let converter = FrameConverter()
        var decoded: [RGBImage] = []
        while let frame = try reader.nextFrame() { decoded.append(try converter.rgb(frame)) }
        XCTAssertEqual(decoded.count, 3)
        let first = try XCTUnwrap(decoded.first)
        XCTAssertEqual([first.width, first.height], [322, 242])
        func luma(_ img: RGBImage, _ x: Int, _ y: Int) -> Double {
            let p = (y * img.width + x) * 3
            return 0.299 * Double(img.pixels[p]) + 0.587 * Double(img.pixels[p + 1]) + 0.114 * Double(img.pixels[p + 2])
        }
        var worst = 0.0, edge = 0.0
        for y in 0..<241 { for x in 0..<321 { worst = max(worst, abs(luma(first, x, y) - luma(image, x, y))) } }
        for y in 0..<241 { edge = max(edge, abs(luma(first, 321, y) - luma(image, 320, y))) }
        for x in 0..<321 { edge = max(edge, abs(luma(first, x, 241) - luma(image, x, 240))) }
        XCTAssertLessThan(worst, 4, "the picture itself is kept (yuv420p rounding only)")
        XCTAssertLessThan(edge, 4, "the added column and row repeat the last ones")

        let ffv1 = dir.appendingPathComponent("odd.mkv")
        let lossless = try VideoWriter(url: ffv1, options: VideoWriterOptions(width: 321, height: 241, codec: .ffv1))
        XCTAssertFalse(lossless.isPadded)
        try lossless.write(image)
        try lossless.finish()
        let back = try VideoReader(url: ffv1)
        let frame = try XCTUnwrap(try back.nextFrame())
        XCTAssertEqual(try converter.rgb(frame), image)
    }

    /// Every audio stream of the source is copied, packet for packet, with its language tag (the writer used to keep
    /// only the first).
    func testEveryAudioStreamIsCopied() throws {
        let dir = try makeTemporaryDirectory()
        let stage = TestPaths.repo.appendingPathComponent("Datasets/samples/two_people_stage.mp4")
        let source = dir.appendingPathComponent("two-audio.mkv")
        let made = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                  ["-v", "error", "-i", stage.path, "-t", "2", "-map", "0:v", "-map", "0:a", "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a:0", "copy",
                                   "-c:a:1", "aac", "-b:a:1", "48k", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", source.path],
                                  timeout: 120)
        XCTAssertEqual(made.status, 0, made.stderr)
        let url = dir.appendingPathComponent("out.mp4")
        let writer = try VideoWriter(url: url, options: VideoWriterOptions(width: 64, height: 48, frameRateNumerator: 30, preset: "ultrafast",
                                                                           audioSource: source))
        for i in 0..<60 { try writer.write(RGBImage(width: 64, height: 48, fill: (UInt8(i * 4), 90, 160))) }
        try writer.finish()
        let probe = try runProcess(URL(fileURLWithPath: "/usr/bin/ffprobe"),
                                   ["-v", "error", "-show_entries", "stream=codec_type:stream_tags=language", "-of", "csv=p=0", url.path], timeout: 60)
        XCTAssertEqual(probe.stdout.split(separator: "\n").map(String.init), ["video,und", "audio,eng", "audio,fra"], probe.stdout)
        func packets(_ file: URL, _ stream: Int) throws -> [String] {
            let r = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                   ["-v", "error", "-i", file.path, "-map", "0:a:\(stream)", "-c", "copy", "-f", "framemd5", "-"], timeout: 60)
            return r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: ",").last.map(String.init) }
        }
        for stream in 0..<2 {
            let copied = try packets(url, stream), original = try packets(source, stream)
            XCTAssertGreaterThan(copied.count, 40, "audio stream \(stream)")
            // Sound before the first video frame (0.86 s in this clip) is left out, the rest copied byte for byte.
            let start = try XCTUnwrap(original.firstIndex(of: copied[0]), "audio stream \(stream)")
            XCTAssertEqual(copied, Array(original[start...].prefix(copied.count)), "audio stream \(stream): packets byte for byte")
        }
    }

    func testMissingAudioSourceIsReported() throws {
        let dir = try makeTemporaryDirectory()
        let missing = dir.appendingPathComponent("no-such-audio.mp4")
        XCTAssertThrowsError(try VideoWriter(url: dir.appendingPathComponent("out.mp4"),
                                             options: VideoWriterOptions(width: 32, height: 32, audioSource: missing))) { error in
            XCTAssertEqual(error as? MediaError, .missing(path: missing.path))
        }
        XCTAssertEqual(temporaryFiles(in: dir), [])
    }
}
