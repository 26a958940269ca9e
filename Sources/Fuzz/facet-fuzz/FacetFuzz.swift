#if canImport(Glibc)
import Glibc
#endif
import FacetCore
import Foundation
import Manifest
import Media
import Models
import NN
import Scoring

// libFuzzer targets for every parser Facet runs on downloaded files (issue 18). One executable, the target
// chosen by $FACET_FUZZ_TARGET: tflite, dlib, safetensors, manifests, image, video.
//
// Built with `-DFUZZING -sanitize=fuzzer,address` (scripts/fuzz.sh, `make fuzz`) it is a libFuzzer binary.
// Built normally it replays files: `facet-fuzz TARGET FILE...` runs each file through TARGET and prints what
// happened, so a crash input can be rerun under a debugger. Every parser must answer any bytes with a value
// or a typed error; a trap, an ASan report, a hang or running out of memory is a bug.

/// The parsers, by name.
enum FuzzTarget: String, CaseIterable {
    case tflite, dlib, safetensors, manifests, image, video

    /// Feeds `data` to the parser. Errors are the expected answer to bad bytes and are ignored.
    func run(_ data: Data) {
        switch self {
        case .image:
            _ = try? ImageDecoder.decode(data, path: "fuzz-input", maxPixels: 4096 * 4096)
        case .manifests:
            let url = FuzzScratch.write(data, name: "manifest.json")
            _ = try? ManifestIO.read(FramesManifest.self, from: url)
            _ = try? ManifestIO.read(FacesManifest.self, from: url)
            _ = try? ManifestIO.read(DatasetManifest.self, from: url)
            _ = try? ManifestIO.read(LabelsManifest.self, from: url)
            _ = try? ManifestIO.read(ClustersManifest.self, from: url)
            _ = try? ManifestIO.read(ModelManifest.self, from: url)
            _ = try? ManifestIO.read(SwapManifest.self, from: url)
            _ = try? ManifestIO.read(ScoreDocument.self, from: url)
        case .safetensors:
            if let contents = try? SafeTensors.decode(data, path: "fuzz-input") { _ = contents.tensors.count }
            let url = FuzzScratch.write(data, name: "weights.safetensors")
            if let reader = try? SafeTensors.Reader(url) {
                for entry in reader.header.entries.prefix(8) { _ = try? reader.tensor(entry) }
            }
        case .tflite:
            let url = FuzzScratch.write(data, name: "model.tflite")
            if let model = try? TFLiteModel(contentsOf: url), let interpreter = try? TFLiteInterpreter(model: model) {
                interpreter.run()
            }
        case .dlib:
            let url = FuzzScratch.write(data, name: "model.dat")
            _ = try? ShapePredictor(contentsOf: url)
            _ = try? FaceRecognitionNet(contentsOf: url, maxBatchSize: 1)
        case .video:
            let url = FuzzScratch.write(data, name: "clip.mp4")
            guard let reader = try? VideoReader(url: url, options: VideoReaderOptions(maxPixels: 1920 * 1080, threads: 1)) else { return }
            let converter = FrameConverter()
            var frames = 0
            while frames < 64, let frame = try? reader.nextFrame() {
                _ = try? converter.rgb(frame, width: 64, height: 64)
                frames += 1
            }
        }
    }
}

/// One scratch file per process for parsers that read from a path (in /dev/shm when there is one).
enum FuzzScratch {
    static let folder: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("facet-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func write(_ data: Data, name: String) -> URL {
        let url = folder.appendingPathComponent(name)
        try? data.write(to: url)
        return url
    }
}

nonisolated(unsafe) var selectedTarget: FuzzTarget?

func target() -> FuzzTarget {
    if let selectedTarget { return selectedTarget }
    let name = ProcessInfo.processInfo.environment["FACET_FUZZ_TARGET"] ?? ""
    guard let chosen = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("facet-fuzz: set FACET_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(64)
    }
    selectedTarget = chosen
    return chosen
}

@_cdecl("LLVMFuzzerTestOneInput")
public func facetFuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let data = bytes.map { Data(bytes: $0, count: size) } ?? Data()
    target().run(data)
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// SwiftPM links executables with `main` = `<module>_main`; under libFuzzer that entry runs its driver.
@_cdecl("facet_fuzz_main")
func facetFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    _ = target()
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { facetFuzzOne($0, $1) }
}
#else
@main
struct FacetFuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let chosen = FuzzTarget(rawValue: name), arguments.count >= 2 else {
            print("usage: facet-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...  (replays inputs; see scripts/fuzz.sh)")
            exit(64)
        }
        selectedTarget = chosen
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { print("\(path): unreadable"); continue }
            chosen.run(data)
            print("\(path): ok (\(data.count) bytes)")
        }
    }
}
#endif
