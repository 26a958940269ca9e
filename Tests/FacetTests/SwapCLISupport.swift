import FacetCore
import Foundation
import Manifest
import Media
import Swap
import XCTest

/// One finished `swap` run.
struct SwapCLIRun {
    let result: ProcessResult
    let report: SwapReport?
    var status: Int32 { result.status }
    var stderr: String { result.stderr }

    func requireReport(file: StaticString = #filePath, line: UInt = #line) throws -> SwapReport {
        try XCTUnwrap(report, "no JSON report on stdout; exit \(status); stderr:\n\(stderr)", file: file, line: line)
    }
}

/// A workspace with Lin-Manuel Miranda enrolled (from one image), his faces of two_people_stage.mp4 filtered by
/// `identify label --target`, and a quick `lite` model trained on them (side A) and on d18.mp4's faces (side B).
/// Quality does not matter here: what swap leaves alone, writes and records does.
enum SwapFixtures {
    struct Data {
        let workspace: URL
        let model: URL
        let stage: URL
        let mirandaFaces: URL
    }

    static let shared: Result<Data, any Error> = Result {
        let workspace = try sharedTemporaryDirectory("swap")
        let stage = TestPaths.repo.appendingPathComponent("Datasets/samples/two_people_stage.mp4")
        let d18 = TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4")
        func check(_ result: ProcessResult, _ what: String) throws {
            guard result.status == 0 else { throw ProcessTimeout(command: "\(what) exited \(result.status): \(result.stderr)", seconds: 0) }
        }
        try check(try runDetect(["--mask", stage.path], workspace: workspace).result, "detect stage")
        try check(try runDetect(["--mask", "--every", "3", d18.path], workspace: workspace).result, "detect d18")
        try check(try runIdentify("enroll", ["--name", "Lin-Manuel Miranda", "--consent", "public White House footage; tests only",
                                             TestPaths.repo.appendingPathComponent("Datasets/samples/lin-manuel-miranda.jpg").path],
                                  workspace: workspace), "enroll")
        let faces = workspace.appendingPathComponent("Manifests/faces-two_people_stage.json")
        try check(try runIdentify("label", ["--target", "Lin-Manuel Miranda", faces.path], workspace: workspace), "label")
        let miranda = workspace.appendingPathComponent("Manifests/faces-two_people_stage-Lin-Manuel_Miranda.json")
        let train = try runProcess(try TestPaths.executable("train"),
                                   ["--workspace", workspace.path, "-q", "--iterations", "4", "--batch-size", "4", "--preview-every", "4",
                                    "--output", workspace.appendingPathComponent("Models/m").path, miranda.path,
                                    workspace.appendingPathComponent("Manifests/faces-d18.json").path], timeout: 600)
        try check(train, "train")
        return Data(workspace: workspace, model: workspace.appendingPathComponent("Models/m/model.json"), stage: stage, mirandaFaces: miranda)
    }
}

extension XCTestCase {
    func swapFixtures() throws -> SwapFixtures.Data {
        _ = try TestPaths.executable("swap")
        return try SwapFixtures.shared.get()
    }

    /// Runs the built `swap` with `--workspace <workspace> --json -q` before `arguments`.
    func swap(_ arguments: [String], workspace: URL, timeout: TimeInterval = 900) throws -> SwapCLIRun {
        let result = try runProcess(try TestPaths.executable("swap"), ["--workspace", workspace.path, "--json", "-q"] + arguments, timeout: timeout)
        return SwapCLIRun(result: result, report: try? JSONDecoder().decode(SwapReport.self, from: result.stdoutData))
    }

    /// Every frame of a video as Facet decodes it (RGB24, displayed orientation), with its time in seconds.
    /// Every frame of `url` decoded as `swap` decodes it (reproducibly: no frame threading).
    func decodedFrames(_ url: URL) throws -> [(image: RGBImage, seconds: Double)] {
        let reader = try VideoReader(url: url, options: .reproducible())
        let converter = FrameConverter()
        var frames: [(RGBImage, Double)] = []
        while let frame = try reader.nextFrame() { frames.append((try converter.rgb(frame), frame.seconds)) }
        return frames
    }

    /// The MD5 of every packet of a media file's first audio stream, in order (`ffmpeg -f framemd5`, stream copy).
    func audioPacketDigests(_ url: URL) throws -> [String] {
        let result = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                    ["-v", "error", "-i", url.path, "-map", "0:a:0", "-c", "copy", "-f", "framemd5", "-"], timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: ",").last.map(String.init) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
