import ArgumentParser
import Faces
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

    @Option(help: "Time only this model: short, full or mesh (default: all three).")
    var only: String?

    @Flag(help: "Print where each model spends its time, by operator kind and shape.")
    var profile = false

    @Flag(help: "Measure CPU time of the process instead of wall time (steady on a busy machine; use with FACET_THREADS=1).")
    var cpuTime = false

    @Option(help: "A 150x150 face chip image for timing the face-recognition ResNet (batch 1 and 16).")
    var chip: String?

    @Option(help: "An image with one face: time each face-analysis stage on it (networks alone, and with their crops and decoding).")
    var stages: String?

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
        print("kernel level: \(FastKernels.level) (cpu: \(FastKernels.supported))")
        if let stages {
            try Self.timeStages(image: try ImageDecoder.decode(fileAt: URL(fileURLWithPath: stages)), store: store, runs: runs, cpuTime: cpuTime)
            return
        }
        if profile {
            for (name, rows) in [("short range", try BlazeFace(range: .short, store: store).profile(cpuTime: cpuTime)),
                                 ("full range", try BlazeFace(range: .full, store: store).profile(cpuTime: cpuTime)),
                                 ("face mesh", try FaceMesh(store: store).profile(cpuTime: cpuTime))] {
                print("== \(name): \(String(format: "%.3f", rows.reduce(0) { $0 + $1.milliseconds })) ms")
                // Totals by operator family, then every operator shape.
                var families: [String: (Double, Int)] = [:]
                for row in rows {
                    let family = String(row.kind.split(separator: " ").first ?? "")
                    let key = row.kind.contains(" 1x1 ") ? family + " 1x1" : (family.hasPrefix("conv2d") ? family + " kxk" : family)
                    families[key, default: (0, 0)].0 += row.milliseconds
                    families[key, default: (0, 0)].1 += row.count
                }
                for (key, value) in families.sorted(by: { $0.value.0 > $1.value.0 }) {
                    print(String(format: "  family %7.3f ms  %3d x  %@", value.0, value.1, key))
                }
                for row in rows { print(String(format: "%7.3f ms  %3d x  %@", row.milliseconds, row.count, row.kind)) }
            }
            return
        }
        for range in [BlazeFace.Range.short, .full] where only == nil || only == (range == .short ? "short" : "full") {
            let detector = try BlazeFace(range: range, store: store)
            let n = range == .short ? 128 : 192
            let input = Self.randomInput(n * n * 3)
            let ms = try Self.time(runs: runs, cpuTime: cpuTime) { _ = try detector.rawOutputs(input: input) }
            print("face_detection_\(range == .short ? "short" : "full")_range: \(String(format: "%.2f", ms)) ms per inference")
        }
        guard only == nil || only == "mesh" else { return }
        let mesh = try FaceMesh(store: store)
        let input = Self.randomInput(192 * 192 * 3)
        let ms = try Self.time(runs: runs, cpuTime: cpuTime) { _ = try mesh.rawOutputs(input: input) }
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

    /// Milliseconds of each stage `detect` runs per face (full-range detection, two FaceMesh passes, alignment),
    /// the networks alone beside the whole stage, so the time spent around the networks shows.
    static func timeStages(image: RGBImage, store: ModelStore, runs: Int, cpuTime: Bool) throws {
        let detector = try BlazeFace(range: .full, store: store)
        let mesh = try FaceMesh(store: store)
        let analyzer = try FaceAnalyzer(range: .full, settings: FaceAnalyzer.Settings(minScore: 0.6), store: store)
        guard let face = analyzer.locate(image, tiles: 1).first, let detection = detector.detect(image).first else {
            print("no face found in the image"); return
        }
        let finisher = FaceFinisher(size: 256, centering: .face, writeMasks: false)
        guard let alignment = FaceAlignment(mesh: face.mesh, size: 256, centering: .face) else { print("no alignment"); return }
        let roi = FaceMesh.roi(for: detection)
        let detectorInput = [Float](repeating: 0, count: 192 * 192 * 3), meshInput = [Float](repeating: 0, count: 192 * 192 * 3)
        let crop = alignment.crop(image: image), hull = FaceMask(landmarks: face.mesh.map { SIMD2($0.x, $0.y) }, alignment: alignment)
        let rows: [(String, () throws -> Void)] = [
            ("full-range network", { _ = try detector.rawOutputs(input: detectorInput) }),
            ("detect (letterbox + network + decode + NMS)", { _ = detector.detect(image, minScore: 0.6) }),
            ("FaceMesh network", { _ = try mesh.rawOutputs(input: meshInput) }),
            ("FaceMesh pass (crop + network + projection)", { _ = mesh.landmarks(in: image, roi: roi) }),
            ("locate (detect + 2 mesh passes + 5 points)", { _ = analyzer.locate(image, tiles: 1) }),
            ("align: crop 256", { _ = alignment.crop(image: image) }),
            ("align: hull mask", { _ = FaceMask(landmarks: face.mesh.map { SIMD2($0.x, $0.y) }, alignment: alignment) }),
            ("align: quality in the hull", { _ = try ImageQuality(image: crop, mask: hull.values) }),
            ("align: whole finish (crop, mask, quality, pose, expression)", { _ = finisher.finish(face, in: image) }),
        ]
        for (name, body) in rows {
            let ms = try time(runs: max(runs / 4, 10), cpuTime: cpuTime, body)
            print("stage \(name): \(String(format: "%.3f", ms)) ms")
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

    /// Mean milliseconds per call over `runs` calls, after 20 warm-up calls: wall time, or the process's CPU time.
    static func time(runs: Int, cpuTime: Bool = false, _ body: () throws -> Void) throws -> Double {
        func now() -> UInt64 {
            guard cpuTime else { return DispatchTime.now().uptimeNanoseconds }
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
        }
        for _ in 0..<20 { try body() }
        let start = now()
        for _ in 0..<runs { try body() }
        return Double(now() &- start) / 1e6 / Double(max(runs, 1))
    }
}
