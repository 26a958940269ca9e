import Foundation
import Manifest
import Training
import XCTest

/// One finished `train` or `warp-augment` run.
struct TrainCLIRun {
    let result: ProcessResult
    var status: Int32 { result.status }
    var stderr: String { result.stderr }
    var report: TrainReport? { try? JSONDecoder().decode(TrainReport.self, from: result.stdoutData) }

    func requireReport(file: StaticString = #filePath, line: UInt = #line) throws -> TrainReport {
        try XCTUnwrap(report, "no JSON report; exit \(status); stderr:\n\(stderr)", file: file, line: line)
    }
}

/// Small real datasets for the train tests, made once per test process with the built `detect`: 10 faces of
/// d6.mp4 (a woman) and of d9.mp4 (a man), with masks, 256 px crops; and 3 faces of d9 at 128 px.
enum TrainFixtures {
    struct Data {
        let workspace: URL
        let facesA: URL
        let facesB: URL
        let facesB128: URL
    }

    static let shared: Result<Data, any Error> = Result {
        let workspace = try sharedTemporaryDirectory("train")
        func faces(_ video: String, _ extra: [String], output: String) throws -> URL {
            let run = try runDetect(["--mask", "--max-frames", "10", "--every", "7", "--output", workspace.appendingPathComponent(output).path]
                                    + extra + [TestPaths.video(video).path], workspace: workspace)
            guard run.status == 0 else { throw ProcessTimeout(command: "detect \(video) exited \(run.status): \(run.stderr)", seconds: 0) }
            return workspace.appendingPathComponent(output)
        }
        return Data(workspace: workspace, facesA: try faces("d6.mp4", [], output: "faces-a.json"),
                    facesB: try faces("d9.mp4", [], output: "faces-b.json"),
                    facesB128: try faces("d9.mp4", ["--size", "128", "--max-frames", "3"], output: "faces-b128.json"))
    }
}

extension XCTestCase {
    func trainFixtures() throws -> TrainFixtures.Data {
        try requireSharedMedia(TestPaths.video("d6.mp4"), TestPaths.video("d9.mp4"))
        return try TrainFixtures.shared.get()
    }

    /// Runs the built `train` with `--workspace <workspace> --json -q` before `arguments`.
    func train(_ arguments: [String], workspace: URL, timeout: TimeInterval = 300) throws -> TrainCLIRun {
        let binary = try TestPaths.executable("train")
        return TrainCLIRun(result: try runProcess(binary, ["--workspace", workspace.path, "--json", "-q"] + arguments, timeout: timeout))
    }

    /// A quick lite run's options: batch 2, a checkpoint and preview every 2 iterations, 3 preview faces.
    func quick(_ iterations: Int, output: URL, _ more: [String] = []) -> [String] {
        ["--iterations", String(iterations), "--batch-size", "2", "--checkpoint-every", "2", "--preview-every", "2", "--preview-faces", "3",
         "--log-every", "1", "--output", output.path] + more
    }

    func assertTrainRun(_ run: TrainCLIRun, exits status: Int32, mentioning mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, status, "stderr:\n\(run.stderr)", file: file, line: line)
        for text in mentions {
            XCTAssertTrue(run.stderr.contains(text), "stderr should mention '\(text)':\n\(run.stderr)", file: file, line: line)
        }
    }

    /// Edits a JSON file in place.
    func editJSON(_ url: URL, _ body: (inout [String: Any]) -> Void) throws {
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        body(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }
}
