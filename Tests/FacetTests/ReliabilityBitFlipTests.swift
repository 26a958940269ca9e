#if canImport(Glibc)
import Glibc
#endif
import FacetCore
import Foundation
import Media
import XCTest

/// Seeded damage on real clips (issue 18, "bit-flip test"): 200 variants of a short clip in MP4 and in
/// MPEG-TS (which starts at a positive time stamp), each with bytes flipped, zeroed or cut off. The reader
/// never traps, answers with a typed error naming the file or with the frames it could decode, and names
/// the damage when frames are missing. All 400 variants run in-process (the reader is what the tools call);
/// a few go through the built `fetch-frames`, `detect`, `swap` and `score` (no signal, exit 0 or 65, damage reported),
/// which keeps the test to well under a minute. scripts/fuzz.sh (`make fuzz`) mutates further.
final class ReliabilityBitFlipTests: XCTestCase {
    enum Damage: CustomStringConvertible {
        case flip(count: Int), zero(at: Int, length: Int), cut(at: Int)
        var description: String {
            switch self {
            case .flip(let n): return "\(n) bits flipped"
            case .zero(let at, let n): return "\(n) bytes zeroed at \(at)"
            case .cut(let at): return "cut at byte \(at)"
            }
        }
    }

    /// Variant `index` of `clean` (seeded by the index): bits flipped past the first 64 bytes, a run zeroed, or
    /// the file cut short.
    static func variant(_ clean: [UInt8], index: Int) -> ([UInt8], Damage) {
        var rng = SeededRandom(seed: 0x18_0000 + UInt64(index))
        var bytes = clean
        switch index % 4 {
        case 0, 1:
            let count = Int.random(in: 1...40, using: &rng)
            for _ in 0..<count { bytes[Int.random(in: 64..<bytes.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng) }
            return (bytes, .flip(count: count))
        case 2:
            let at = Int.random(in: 64..<bytes.count, using: &rng), length = Int.random(in: 1...2000, using: &rng)
            for i in at..<min(at + length, bytes.count) { bytes[i] = 0 }
            return (bytes, .zero(at: at, length: length))
        default:
            let at = Int.random(in: 1..<bytes.count, using: &rng)
            return (Array(bytes.prefix(at)), .cut(at: at))
        }
    }

    /// Decodes every frame of the file (converted to 32×32 RGB, as the tools convert them).
    static func decodeAll(_ url: URL) throws -> (frames: Int, damage: [String], hasFrameCount: Bool) {
        let reader = try VideoReader(url: url, options: VideoReaderOptions(maxPixels: 1920 * 1080, threads: 1))
        let converter = FrameConverter()
        var frames = 0
        while let frame = try reader.nextFrame() {
            _ = try converter.rgb(frame, width: 32, height: 32)
            frames += 1
        }
        return (frames, reader.damage, reader.info.frameCount != nil)
    }

    /// Two seconds of d18.mp4 at 160×160: as MP4 (index at the front) and as MPEG-TS (start time 1.4 s).
    func cleanClips() throws -> [URL] {
        let d18 = TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4")
        let dir = try makeTemporaryDirectory()
        let mp4 = dir.appendingPathComponent("clip.mp4"), ts = dir.appendingPathComponent("clip.ts")
        let env = URL(fileURLWithPath: "/usr/bin/env")
        let a = try runProcess(env, ["ffmpeg", "-v", "error", "-y", "-i", d18.path, "-t", "2", "-vf", "scale=160:160", "-an", "-c:v", "libx264",
                                     "-preset", "ultrafast", "-g", "15", "-movflags", "+faststart", mp4.path])
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try runProcess(env, ["ffmpeg", "-v", "error", "-y", "-i", mp4.path, "-c", "copy", "-f", "mpegts", ts.path])
        XCTAssertEqual(b.status, 0, b.stderr)
        return [mp4, ts]
    }

    func testTwoHundredDamagedVariantsOfEachClipNeverCrash() throws {
        let dir = try makeTemporaryDirectory()
        for clean in try cleanClips() {
            let bytes = [UInt8](try Data(contentsOf: clean))
            let reference = try Self.decodeAll(clean)
            XCTAssertEqual(reference.frames, 60, clean.lastPathComponent)
            XCTAssertEqual(reference.damage, [], clean.lastPathComponent)
            var opened = 0, refused = 0, short = 0
            for index in 0..<200 {
                let (damaged, what) = Self.variant(bytes, index: index)
                let url = dir.appendingPathComponent("v\(index)-\(clean.lastPathComponent)")
                try Data(damaged).write(to: url)
                do {
                    let result = try Self.decodeAll(url)
                    opened += 1
                    XCTAssertLessThanOrEqual(result.frames, reference.frames + 2, "\(url.lastPathComponent): \(what)")
                    if result.frames < reference.frames {
                        short += 1
                        if result.hasFrameCount && reference.frames - result.frames > 2 {
                            XCTAssertFalse(result.damage.isEmpty, "\(url.lastPathComponent) (\(what)): \(result.frames) of \(reference.frames) frames, no damage named")
                        }
                    }
                } catch let error as MediaError {
                    refused += 1
                    XCTAssertTrue(error.description.contains(url.path), "\(what): \(error)")
                    XCTAssertTrue([.dataError, .noInput].contains(error.exitStatus), "\(what): \(error) exits \(error.exitStatus)")
                }
                try? FileManager.default.removeItem(at: url)
            }
            // Most damage leaves the file readable: the reader keeps what decodes.
            XCTAssertGreaterThan(opened, 100, "\(clean.lastPathComponent): \(opened) opened, \(refused) refused, \(short) short")
        }
    }

    /// A few variants through the built tools: never a signal, exit 0 (frames kept, damage named when
    /// frames are missing) or 65 (nothing decodable, the file named).
    func testToolsOnDamagedVariants() throws {
        let mp4 = try cleanClips()[0]
        let bytes = [UInt8](try Data(contentsOf: mp4))
        let dir = try makeTemporaryDirectory()
        for index in [0, 2, 3, 7, 11, 13] {
            let (damaged, what) = Self.variant(bytes, index: index)
            let url = dir.appendingPathComponent("variant-\(index).mp4")
            try Data(damaged).write(to: url)
            let run = try fetchFrames(["--every", "3", url.path], workspace: try makeTemporaryDirectory())
            XCTAssertTrue([0, 65].contains(run.status), "fetch-frames on \(what): exit \(run.status)\n\(run.stderr)")
            if run.status == 65 { XCTAssertTrue(run.stderr.contains(url.path), run.stderr) }
            if run.status == 0, let report = run.report, report.frames < 20 {
                XCTAssertFalse(report.damage.isEmpty, "fetch-frames on \(what): \(report.frames) of 20 frames and no damage named")
            }
            if index < 4 {
                let detected = try detect(["--every", "6", url.path], workspace: try makeTemporaryDirectory())
                XCTAssertTrue([0, 65].contains(detected.status), "detect on \(what): exit \(detected.status)\n\(detected.stderr)")
                if detected.status == 65 { XCTAssertTrue(detected.stderr.contains(url.path), detected.stderr) }
            }
        }
        try swapAndScoreOnDamagedVariants()
    }

    /// `swap` on damaged variants of a clip with the target in it, and `score` on a swap whose output video is
    /// damaged (the kill campaigns' workspace: `inputs/short.mp4`, 45 frames of Lin-Manuel Miranda and a
    /// bystander, a small model, `Swaps/out.mkv` with its manifest). Never a signal; exit 0 with the damage named
    /// when frames are missing, or 65 naming the file.
    func swapAndScoreOnDamagedVariants() throws {
        let fixtures = try KillFixtures.shared.get()
        let clean = [UInt8](try Data(contentsOf: fixtures.template.appendingPathComponent("inputs/short.mp4")))
        let cleanOutput = [UInt8](try Data(contentsOf: fixtures.template.appendingPathComponent("Swaps/out.mkv")))
        for index in [0, 2, 3, 5, 6, 7] {
            let ws = try KillCampaign.copy(fixtures.template, in: self)
            if index < 4 {
                let (damaged, what) = Self.variant(clean, index: index)
                let url = ws.appendingPathComponent("inputs/variant-\(index).mp4")
                try Data(damaged).write(to: url)
                let run = try swap(["--model", ws.appendingPathComponent("Models/m/model.json").path, "--codec", "ffv1",
                                    "--output", ws.appendingPathComponent("Swaps/variant.mkv").path, url.path], workspace: ws)
                XCTAssertTrue([0, 65].contains(run.status), "swap on \(what): exit \(run.status)\n\(run.stderr)")
                if run.status == 65 { XCTAssertTrue(run.stderr.contains(url.path), "swap on \(what): \(run.stderr)") }
                if run.status == 0, let output = try run.requireReport().outputs.first, output.frames < 45 {
                    XCTAssertTrue(output.damagedFrames > 0 || !output.warnings.isEmpty || run.stderr.contains(url.lastPathComponent),
                                  "swap on \(what): \(output.frames) of 45 frames and no damage named")
                }
            } else {
                // The swap's output damaged under its manifest: score decodes what is left.
                let (damaged, what) = Self.variant(cleanOutput, index: index)
                let output = ws.appendingPathComponent("Swaps/out.mkv")
                try Data(damaged).write(to: output)
                let run = try runProcess(try TestPaths.executable("score"), ["run", "--workspace", ws.path, "--json", "-q",
                                                                            ws.appendingPathComponent("Manifests/swap-out.json").path], timeout: 300)
                XCTAssertTrue([0, 65].contains(run.status), "score on an output with \(what): exit \(run.status)\n\(run.stderr)")
                if run.status == 65 { XCTAssertTrue(run.stderr.contains(output.path), "score on \(what): \(run.stderr)") }
                if run.status == 0 {
                    let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: run.stdoutData) as? [String: Any])
                    let document = try XCTUnwrap((summary["documents"] as? [[String: Any]])?.first)
                    let outputs = try XCTUnwrap(document["outputs"] as? [[String: Any]])
                    for entry in outputs where (entry["outputFrames"] as? Int ?? 0) < (entry["sourceFrames"] as? Int ?? 0) {
                        XCTAssertFalse((document["warnings"] as? [Any] ?? []).isEmpty,
                                       "score on an output with \(what): \(entry["outputFrames"] ?? "?") of \(entry["sourceFrames"] ?? "?") frames, no warning")
                    }
                }
            }
        }
    }
}
