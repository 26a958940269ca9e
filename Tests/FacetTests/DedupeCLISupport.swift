import Datasets
import Foundation
import Manifest
import XCTest

/// One finished `dedupe` run.
struct DedupeRun {
    let result: ProcessResult
    var status: Int32 { result.status }
    var stderr: String { result.stderr }

    /// The build's `--json` summary.
    func report(file: StaticString = #filePath, line: UInt = #line) throws -> DatasetReport {
        do { return try JSONDecoder().decode(DatasetReport.self, from: result.stdoutData) } catch {
            XCTFail("no build report on stdout; exit \(status); stderr:\n\(stderr)", file: file, line: line)
            throw error
        }
    }

    /// The audit's `--json` document.
    func audit(file: StaticString = #filePath, line: UInt = #line) throws -> AuditDocument {
        do { return try JSONDecoder().decode(AuditDocument.self, from: result.stdoutData) } catch {
            XCTFail("no audit on stdout; exit \(status); stderr:\n\(stderr)", file: file, line: line)
            throw error
        }
    }
}

/// Runs the built `dedupe` with `arguments` (a subcommand first, if any), then `--workspace <workspace> --json -q`.
func runDedupe(_ arguments: [String], workspace: URL, environment: [String: String]? = nil, timeout: TimeInterval = 300) throws -> DedupeRun {
    let binary = try TestPaths.executable("dedupe")
    let subcommands: Set<String> = ["build", "audit", "verify"]
    let head = arguments.first.map { subcommands.contains($0) ? [$0] : [] } ?? []
    let rest = Array(arguments.dropFirst(head.count))
    let result = try runProcess(binary, head + ["--workspace", workspace.path, "--json", "-q"] + rest, timeout: timeout, environment: environment)
    return DedupeRun(result: result)
}

/// Shared detect runs for the dedupe tests, made once per test process.
enum DedupeFixtures {
    /// `videos/d6.mp4` (480×480, 1008 frames, one woman talking and pulling faces), whole clip, default options.
    static let d6: Result<(URL, FacesManifest, URL), any Error> = Result {
        let workspace = try sharedTemporaryDirectory("dedupe-d6")
        let run = try runDetect([TestPaths.video("d6.mp4").path], workspace: workspace)
        guard run.status == 0 else { throw ProcessTimeout(command: "detect d6.mp4 exited \(run.status): \(run.stderr)", seconds: 0) }
        let (url, manifest) = try run.manifest()
        return (url, manifest, workspace)
    }
}

extension XCTestCase {
    /// A copy of a faces manifest in `folder` whose crops (and masks) are copied to `folder/crops/`, so a test
    /// can delete or damage them. `keep` chooses the items (all by default).
    func copyFacesManifest(_ manifest: FacesManifest, at url: URL, to folder: URL, keep: (FaceItem) -> Bool = { _ in true }) throws -> (URL, FacesManifest) {
        var copy = manifest
        copy.items = []
        let crops = folder.appendingPathComponent("crops")
        try FileManager.default.createDirectory(at: crops, withIntermediateDirectories: true)
        let destination = folder.appendingPathComponent("faces-copy.json")
        for item in manifest.items where keep(item) {
            var moved = item
            let source = ManifestIO.resolve(item.crop, relativeToManifest: url)
            let target = crops.appendingPathComponent(source.lastPathComponent)
            try FileManager.default.copyItem(at: source, to: target)
            moved.crop = ManifestIO.relativePath(of: target, fromManifest: destination)
            if let mask = item.mask {
                let maskSource = ManifestIO.resolve(mask, relativeToManifest: url)
                let maskTarget = crops.appendingPathComponent(maskSource.lastPathComponent)
                try FileManager.default.copyItem(at: maskSource, to: maskTarget)
                moved.mask = ManifestIO.relativePath(of: maskTarget, fromManifest: destination)
            }
            copy.items.append(moved)
        }
        try ManifestIO.write(copy, to: destination)
        return (destination, copy)
    }
}
