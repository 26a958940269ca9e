import FacetCore
import Foundation
import Watermark
import XCTest

/// What a source's format asks of `swap`. Its sound is copied untouched, so the output's container must carry it: a
/// camera's MOV with PCM sound (which MP4 cannot hold) is written as Matroska when swap names the output, as MOV when
/// asked, and an `--output` named .mp4 is refused before any work, naming the container that can. Interlaced video is
/// swapped with a warning to deinterlace first.
final class SwapContainerCLITests: XCTestCase {
    func testPCMSoundIsCarriedUntouchedInAContainerThatHoldsIt() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let camera = out.appendingPathComponent("camera.mov")
        let cut = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                 ["-v", "error", "-i", fx.stage.path, "-t", "2", "-c:v", "copy", "-c:a", "pcm_s16le", camera.path], timeout: 120)
        XCTAssertEqual(cut.status, 0, cut.stderr)
        let common = ["--model", fx.model.path, "--target", "Lin-Manuel Miranda"]

        // Asked for MP4: refused at once, one line naming the file, the stream and the way out; nothing written.
        let mp4 = out.appendingPathComponent("camera-swapped.mp4")
        let refused = try swap(common + ["--output", mp4.path, camera.path], workspace: fx.workspace)
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("camera-swapped.mp4") && refused.stderr.contains("pcm_s16le") && refused.stderr.contains(".mkv"),
                      refused.stderr)
        XCTAssertEqual(refused.stderr.split(separator: "\n").filter { !$0.isEmpty }.count, 1, refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: mp4.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent(".camera-swapped.mp4.facet-parts").path))

        // Named by swap: Matroska. Asked for MOV: MOV. Both carry the sound packet for packet, and are labelled.
        let folder = out.appendingPathComponent("named", isDirectory: true)
        let named = try swap(common + ["--output", folder.path + "/", camera.path], workspace: fx.workspace)
        XCTAssertEqual(named.status, 0, named.stderr)
        let mkv = try XCTUnwrap(try XCTUnwrap(try named.requireReport().outputs.first).output)
        XCTAssertEqual(URL(fileURLWithPath: mkv).lastPathComponent, "camera-swapped.mkv")
        let mov = out.appendingPathComponent("camera-swapped.mov")
        let asked = try swap(common + ["--output", mov.path, camera.path], workspace: fx.workspace)
        XCTAssertEqual(asked.status, 0, asked.stderr)
        let sound = try audioPacketDigests(camera)
        XCTAssertFalse(sound.isEmpty)
        for output in [URL(fileURLWithPath: mkv), mov] {
            let name = output.lastPathComponent
            XCTAssertEqual(try audioPacketDigests(output), sound, "\(name): the PCM packets are copied byte for byte")
            XCTAssertEqual(try decodedFrames(output).count, try decodedFrames(camera).count, name)
            let found = try ProvenanceCheck.check(url: output)
            XCTAssertTrue(found.detected, name)
            XCTAssertEqual(found.containerLabel, "face-swap", name)
        }

        // FLAC, which MP4 lists but FFmpeg 5.1 refuses as experimental when writing: Matroska too.
        let flac = out.appendingPathComponent("music.mkv")
        let made = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                  ["-v", "error", "-i", fx.stage.path, "-t", "1", "-c:v", "copy", "-c:a", "flac", flac.path], timeout: 120)
        XCTAssertEqual(made.status, 0, made.stderr)
        let flacRun = try swap(common + ["--output", folder.path + "/", flac.path], workspace: fx.workspace)
        XCTAssertEqual(flacRun.status, 0, flacRun.stderr)
        let flacOutput = try XCTUnwrap(try XCTUnwrap(try flacRun.requireReport().outputs.first).output)
        XCTAssertEqual(URL(fileURLWithPath: flacOutput).lastPathComponent, "music-swapped.mkv")
        XCTAssertEqual(try audioPacketDigests(URL(fileURLWithPath: flacOutput)), try audioPacketDigests(flac))
    }

    /// An interlaced video swaps, and the output's warnings (and detect's stderr) say to deinterlace first.
    func testInterlacedVideoIsSwappedWithAWarning() throws {
        let fx = try swapFixtures()
        let out = try makeTemporaryDirectory()
        let woven = out.appendingPathComponent("woven.mp4")
        let made = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                  ["-v", "error", "-i", fx.stage.path, "-t", "2", "-vf", "tinterlace=interleave_top,fieldorder=tff", "-flags",
                                   "+ilme+ildct", "-c:v", "libx264", "-c:a", "copy", woven.path], timeout: 120)
        XCTAssertEqual(made.status, 0, made.stderr)
        let run = try swap(["--model", fx.model.path, "--target", "Lin-Manuel Miranda", woven.path], workspace: fx.workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let entry = try XCTUnwrap(try run.requireReport().outputs.first)
        XCTAssertTrue(entry.warnings.contains { $0.contains("woven.mp4: the video is interlaced") && $0.contains("bwdif") }, "\(entry.warnings)")
        let detect = try runProcess(try TestPaths.executable("detect"), ["--workspace", out.appendingPathComponent("ws").path, woven.path],
                                    timeout: 300)
        XCTAssertEqual(detect.status, 0, detect.stderr)
        XCTAssertTrue(detect.stderr.contains("woven.mp4: the video is interlaced"), detect.stderr)
    }
}
