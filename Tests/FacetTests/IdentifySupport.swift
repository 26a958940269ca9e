import Foundation
import Identity
import Manifest
import XCTest

/// Runs the built `identify SUBCOMMAND --workspace <workspace> --json -q ARGUMENTS…`.
func runIdentify(_ subcommand: String, _ arguments: [String], workspace: URL, timeout: TimeInterval = 600) throws -> ProcessResult {
    let binary = try TestPaths.executable("identify")
    return try runProcess(binary, [subcommand, "--workspace", workspace.path, "--json", "-q"] + arguments, timeout: timeout)
}

/// The person an LFW file name shows: `George_W_Bush_0004.jpg` → `George_W_Bush`.
func lfwName(_ path: String) -> String {
    let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    guard let cut = stem.range(of: "_", options: .backwards) else { return stem }
    return String(stem[..<cut.lowerBound])
}

/// Shared runs of the identify tests, made once per test process.
enum IdentifyFixtures {
    /// `identities/` split as the acceptance test asks: images 1–3 of each person in `refs/`, images 4–10 in
    /// `rest/` (symbolic links), and `detect` run on `rest/`.
    struct LFW {
        let workspace: URL
        let refs: URL
        let people: [String]
        let facesURL: URL
        let faces: FacesManifest
    }

    static let lfw: Result<LFW, any Error> = Result {
        let workspace = try sharedTemporaryDirectory("identify-lfw")
        let refs = workspace.appendingPathComponent("refs"), rest = workspace.appendingPathComponent("rest")
        try FileManager.default.createDirectory(at: refs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: rest, withIntermediateDirectories: true)
        let root = TestPaths.faces.appendingPathComponent("identities")
        let people = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") }.sorted()
        for person in people {
            let files = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(person).path).sorted()
            for (i, file) in files.enumerated() {
                let target = root.appendingPathComponent(person).appendingPathComponent(file)
                try FileManager.default.createSymbolicLink(at: (i < 3 ? refs : rest).appendingPathComponent(file), withDestinationURL: target)
            }
        }
        let run = try runDetect([rest.path], workspace: workspace)
        guard run.status == 0 else { throw ProcessTimeout(command: "detect rest/ exited \(run.status): \(run.stderr)", seconds: 0) }
        let (url, manifest) = try run.manifest()
        return LFW(workspace: workspace, refs: refs, people: people, facesURL: url, faces: manifest)
    }

    /// `two_people_stage.mp4` detected, with Lin-Manuel Miranda and Alex Lacamoire enrolled from their images.
    static let stage: Result<(workspace: URL, facesURL: URL, faces: FacesManifest), any Error> = Result {
        let workspace = try sharedTemporaryDirectory("identify-stage")
        for (name, image) in [("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")] {
            let r = try runIdentify("enroll", ["--name", name, "--consent", "public stage footage, test only", TestPaths.image(image).path],
                                    workspace: workspace)
            guard r.status == 0 else { throw ProcessTimeout(command: "enroll \(name) exited \(r.status): \(r.stderr)", seconds: 0) }
        }
        let run = try runDetect([TestPaths.video("two_people_stage.mp4").path], workspace: workspace)
        guard run.status == 0 else { throw ProcessTimeout(command: "detect two_people_stage exited \(run.status): \(run.stderr)", seconds: 0) }
        let (url, manifest) = try run.manifest()
        return (workspace, url, manifest)
    }
}
