#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FacetCore
import Foundation
import Media
import XCTest

// Shared helpers for the Facet test suite: where things are, temporary folders, a seeded RNG, running
// processes, tmpfs mounts and synthetic images.

/// Locations of the repository, its fixtures, the shared face media and the built executables.
enum TestPaths {
    /// The repository root (this file is `<repo>/Tests/FacetTests/TestSupport.swift`).
    static let repo: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Committed fixtures.
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures")
    /// Shared face media, cloned beside the repository (`<repo>/../shared/faces`).
    static let faces = repo.deletingLastPathComponent().appendingPathComponent("shared/faces").standardizedFileURL

    static func fixture(_ relative: String) -> URL { fixtures.appendingPathComponent(relative) }
    static func video(_ name: String) -> URL { faces.appendingPathComponent("videos").appendingPathComponent(name) }
    static func image(_ name: String) -> URL { faces.appendingPathComponent("images").appendingPathComponent(name) }

    /// The folder holding the built `fetch-frames`: `$FACET_BIN_DIR`, else next to the test bundle, else
    /// `<repo>/.build/debug`.
    static func executable(_ name: String) throws -> URL {
        var folders: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["FACET_BIN_DIR"], !dir.isEmpty {
            folders.append(URL(fileURLWithPath: dir))
        }
        if let first = ProcessInfo.processInfo.arguments.first {
            folders.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        folders.append(repo.appendingPathComponent(".build/debug"))
        for folder in folders {
            let candidate = folder.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw missingPrerequisite("\(name) not found (looked in \(folders.map(\.path).joined(separator: ", "))); build it or set FACET_BIN_DIR")
    }
}

/// A prerequisite of a test that is missing (shared media, a built tool, a model, python3's jsonschema, a
/// mountable tmpfs): a skip on a developer's machine, but a failure in CI (`CI=true`), so no assertion
/// silently vanishes there. `make test` prints how many tests were skipped.
func missingPrerequisite(_ message: String) -> any Error {
    if ProcessInfo.processInfo.environment["CI"] == "true" { return MissingPrerequisite(message: message) }
    return XCTSkip(message)
}

/// What `missingPrerequisite` throws in CI: the test fails with the message.
struct MissingPrerequisite: Error, CustomStringConvertible {
    let message: String
    var description: String { "missing prerequisite (CI=true: a failure, not a skip): \(message)" }
}

/// A check that must never turn into a skip (a detector finding no face on a known face is a regression).
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension XCTestCase {
    /// A fresh folder under the system's temporary directory, removed when the test ends.
    func makeTemporaryDirectory(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("facet-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// The first half of shared video `name`'s bytes in a temporary folder: a truncated file, damaged at its end.
    func truncatedSharedVideo(_ name: String) throws -> URL {
        let source = TestPaths.video(name)
        try requireSharedMedia(source)
        let data = try Data(contentsOf: source)
        let url = try makeTemporaryDirectory().appendingPathComponent("truncated.mp4")
        try data.prefix(data.count / 2).write(to: url)
        return url
    }

    /// Skips unless the shared face media is present.
    func requireSharedMedia(_ urls: URL...) throws {
        for url in urls where !FileManager.default.fileExists(atPath: url.path) {
            throw missingPrerequisite("shared media missing: \(url.path) (clone shared/ beside the repository)")
        }
    }

    /// Mounts a tmpfs of `size` (e.g. "64k") on a new temporary folder and unmounts it when the test ends.
    /// Skips when not root or when mounting is impossible (e.g. an unprivileged container).
    func mountTmpfs(size: String) throws -> URL {
        guard getuid() == 0 else { throw missingPrerequisite("full-disk test needs root to mount a small tmpfs") }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("facet-tmpfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let mount = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", url.path])
        guard mount.status == 0 else {
            try? FileManager.default.removeItem(at: url)
            throw missingPrerequisite("cannot mount a tmpfs (\(mount.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); full-disk test skipped")
        }
        addTeardownBlock {
            _ = try? runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["umount", url.path])
            try? FileManager.default.removeItem(at: url)
        }
        return url
    }

    /// Names of the files in `folder` (recursively) that look like leftover temporary files.
    func temporaryFiles(in folder: URL) -> [String] {
        let all = (FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String]) ?? []
        return all.filter { $0.hasSuffix(".tmp") }
    }
}

/// The tests' seeded generator: FacetCore's SplitMix64, so property tests are reproducible.
typealias SplitMix64 = SeededRandom

extension SeededRandom {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// The outcome of a finished process.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stdoutData: Data
}

/// Runs an executable to completion, capturing stdout and stderr (through files, so a chatty process
/// cannot block on a full pipe). A process still running after `timeout` seconds is killed.
func runProcess(_ executable: URL, _ arguments: [String], timeout: TimeInterval = 120,
                environment: [String: String]? = nil) throws -> ProcessResult {
    let (process, outURL, errURL) = try startProcess(executable, arguments, environment: environment)
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = collect(process, outURL, errURL)
        throw ProcessTimeout(command: ([executable.path] + arguments).joined(separator: " "), seconds: timeout)
    }
    process.waitUntilExit()
    return collect(process, outURL, errURL)
}

struct ProcessTimeout: Error, CustomStringConvertible {
    let command: String
    let seconds: TimeInterval
    var description: String { "\(command) still running after \(seconds) s" }
}

/// Starts an executable with stdout and stderr going to temporary files; see `collect`.
func startProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> (Process, URL, URL) {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("facet-proc-\(UUID().uuidString)")
    let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    return (process, outURL, errURL)
}

/// Reads (and removes) the output files of a process started with `startProcess` after it exited.
func collect(_ process: Process, _ outURL: URL, _ errURL: URL) -> ProcessResult {
    let out = (try? Data(contentsOf: outURL)) ?? Data()
    let err = (try? Data(contentsOf: errURL)) ?? Data()
    try? FileManager.default.removeItem(at: outURL)
    try? FileManager.default.removeItem(at: errURL)
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                         stderr: String(decoding: err, as: UTF8.self), stdoutData: out)
}

/// The `sha256sum` tool's digests for files, by path (one process for all of them).
func sha256sum(_ files: [URL]) throws -> [String: String] {
    var result: [String: String] = [:]
    let chunkSize = 500
    for start in stride(from: 0, to: files.count, by: chunkSize) {
        let chunk = files[start..<min(start + chunkSize, files.count)]
        let run = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["sha256sum", "--"] + chunk.map(\.path))
        guard run.status == 0 else { throw ProcessTimeout(command: "sha256sum failed: \(run.stderr)", seconds: 0) }
        for line in run.stdout.split(separator: "\n") {
            // "<64 hex>  <path>"
            let hex = String(line.prefix(64))
            let path = String(line.dropFirst(66))
            result[path] = hex
        }
    }
    return result
}

// MARK: Synthetic images

enum Synthetic {
    /// A smooth colour gradient, shifted by `phase`, with an optional square at (`squareX`, `squareY`).
    static func gradient(width: Int, height: Int, phase: Int = 0, square: (x: Int, y: Int, size: Int)? = nil) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(truncatingIfNeeded: (x * 255 / max(width - 1, 1) + phase) & 0xFF)
                pixels[i + 1] = UInt8(truncatingIfNeeded: y * 255 / max(height - 1, 1))
                pixels[i + 2] = UInt8(truncatingIfNeeded: 128 + (x + y) * 64 / max(width + height, 1))
                if let square, x >= square.x, x < square.x + square.size, y >= square.y, y < square.y + square.size {
                    pixels[i] = 240; pixels[i + 1] = 30; pixels[i + 2] = 40
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// An image of seeded random pixels.
    static func noise(width: Int, height: Int, rng: inout SplitMix64) -> RGBImage {
        RGBImage(width: width, height: height, pixels: rng.bytes(width * height * 3))
    }
}
