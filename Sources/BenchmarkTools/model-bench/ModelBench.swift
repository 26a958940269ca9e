import ArgumentParser
import Foundation
import Media
import Models
import Tensor
import ToolSupport

/// `model-bench`: milliseconds per inference of Facet's native model runtime, printed in the same form as
/// the peers in ../shared/bench so `benchmarks/models/run.sh` can put them side by side.
@main
struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model-bench",
        abstract: "Time BlazeFace (short, full) and FaceMesh inference on the native runtime (benchmark tool, not a pipeline step).")

    /// Starts with the OpenBLAS kernel family setup measured as fastest.
    static func main() {
        OpenBLASCoreChoice.applyRecordedChoice()
        Self.main(nil)
    }

    @Option(help: "Model folder (default: $FACET_MODELS, else ~/.cache/facet/models).")
    var models: String?

    @Option(help: "Timed runs per model.")
    var runs: Int = 200

    @Flag(help: "Print where each model spends its time, by operator kind and shape.")
    var profile = false

    @Option(help: "A 150x150 face chip image for timing the face-recognition ResNet (batch 1 and 16).")
    var chip: String?

    /// Errors exit with the shared table (README "Exit codes"), as in the pipeline tools.
    func run() throws {
        try ToolRunner.run(tool: "model-bench") {
            try measure()
            return .ok
        }
    }

    func measure() throws {
        let store = ModelStore(directory: models.map { URL(fileURLWithPath: $0) })
        print("openblas kernels: \(BLAS.coreName)")
        if profile {
            for (name, rows) in [("short range", try BlazeFace(range: .short, store: store).profile()),
                                 ("full range", try BlazeFace(range: .full, store: store).profile()),
                                 ("face mesh", try FaceMesh(store: store).profile())] {
                print("== \(name): \(String(format: "%.2f", rows.reduce(0) { $0 + $1.milliseconds })) ms")
                for row in rows.prefix(12) { print(String(format: "%7.3f ms  %3d x  %@", row.milliseconds, row.count, row.kind)) }
            }
            return
        }
        for range in [BlazeFace.Range.short, .full] {
            let detector = try BlazeFace(range: range, store: store)
            let n = range == .short ? 128 : 192
            let input = Self.randomInput(n * n * 3)
            let ms = try Self.time(runs: runs) { _ = try detector.rawOutputs(input: input) }
            print("face_detection_\(range == .short ? "short" : "full")_range: \(String(format: "%.2f", ms)) ms per inference")
        }
        let mesh = try FaceMesh(store: store)
        let input = Self.randomInput(192 * 192 * 3)
        let ms = try Self.time(runs: runs) { _ = try mesh.rawOutputs(input: input) }
        print("face_landmark: \(String(format: "%.2f", ms)) ms per inference")
        if let chip {
            let net = try FaceRecognitionNet(store: store)
            let image = try ImageDecoder.decode(fileAt: URL(fileURLWithPath: chip))
            let single = try Self.time(runs: max(runs / 10, 10)) { _ = try net.embed(chip: image) }
            print("facet resnet: \(String(format: "%.2f", single)) ms per face (single)")
            let batch = Array(repeating: image, count: 16)
            let batched = try Self.time(runs: max(runs / 40, 5)) { _ = try net.embed(chips: batch) } / 16
            print("facet resnet: \(String(format: "%.2f", batched)) ms per face (batch 16)")
        }
    }

    /// Uniform [0, 1) values from a fixed seed (the peer uses random [0, 1) too).
    static func randomInput(_ count: Int) -> [Float] {
        var state: UInt64 = 0x9E37_79B9
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
    }

    /// Mean milliseconds per call over `runs` calls, after 20 warm-up calls.
    static func time(runs: Int, _ body: () throws -> Void) throws -> Double {
        for _ in 0..<20 { try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<runs { try body() }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(max(runs, 1))
    }
}
