import FaceDetect
import Foundation
import GRDB
import Manifest
import XCTest

/// One finished `detect` run.
struct DetectRun {
    let result: ProcessResult
    let report: DetectReport?

    var status: Int32 { result.status }
    var stderr: String { result.stderr }

    /// The faces manifest the run wrote.
    func manifest(file: StaticString = #filePath, line: UInt = #line) throws -> (URL, FacesManifest) {
        let report = try XCTUnwrap(report, "no JSON report; exit \(status); stderr:\n\(stderr)", file: file, line: line)
        let path = try XCTUnwrap(report.manifest, "no manifest written; stderr:\n\(stderr)", file: file, line: line)
        let url = URL(fileURLWithPath: path)
        return (url, try ManifestIO.read(FacesManifest.self, from: url))
    }
}

/// Runs the built `detect` with `--workspace <workspace> --json -q` before `arguments`.
func runDetect(_ arguments: [String], workspace: URL, timeout: TimeInterval = 600) throws -> DetectRun {
    let binary = try TestPaths.executable("detect")
    let result = try runProcess(binary, ["--workspace", workspace.path, "--json", "-q"] + arguments, timeout: timeout)
    return DetectRun(result: result, report: try? JSONDecoder().decode(DetectReport.self, from: result.stdoutData))
}

extension XCTestCase {
    /// Runs the built `detect` with `--workspace <workspace> --json -q` before `arguments`.
    func detect(_ arguments: [String], workspace: URL, timeout: TimeInterval = 600) throws -> DetectRun {
        try runDetect(arguments, workspace: workspace, timeout: timeout)
    }

    /// The manifest's items grouped by the file name of their frame (image inputs).
    func facesByFrameName(_ manifest: FacesManifest) -> [String: [FaceItem]] {
        Dictionary(grouping: manifest.items) { ($0.frame.map { ($0 as NSString).lastPathComponent }) ?? "" }
    }
}

/// The shared runs several tests look at, made once per test process (the release binary takes seconds,
/// a debug one minutes).
enum DetectFixtures {
    /// `videos/d3.mp4` (512×512, 354 frames, one woman turning her head), whole clip, default options.
    static let d3: Result<(URL, FacesManifest, URL), any Error> = Result {
        let workspace = try sharedTemporaryDirectory("detect-d3")
        let run = try runDetect([TestPaths.video("d3.mp4").path], workspace: workspace)
        guard run.status == 0 else { throw ProcessTimeout(command: "detect d3.mp4 exited \(run.status): \(run.stderr)", seconds: 0) }
        let (url, manifest) = try run.manifest()
        return (url, manifest, workspace)
    }
}

/// A fresh temporary folder shared by the tests of one test process, removed when the process exits (a swap
/// fixture holds about 160 MB: left behind, every `make test` would add a few hundred MB to the temporary folder).
func sharedTemporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("facet-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    SharedTemporaryFolders.all.add(url)
    return url
}

/// The folders `sharedTemporaryDirectory` made in this process; the first one registers their removal at exit.
final class SharedTemporaryFolders: @unchecked Sendable {
    static let all = SharedTemporaryFolders()
    private let lock = NSLock()
    private var urls: [URL] = []
    private var registered = false

    func add(_ url: URL) {
        lock.lock(); defer { lock.unlock() }
        urls.append(url)
        if !registered {
            registered = true
            atexit { SharedTemporaryFolders.all.removeAll() }
        }
    }

    func removeAll() {
        lock.lock(); defer { lock.unlock() }
        for url in urls { try? FileManager.default.removeItem(at: url) }
        urls = []
    }
}
