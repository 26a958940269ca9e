// swift-tools-version:6.0
// Facet: a face-swap toolchain. Small executables over shared libraries; see README.md ("Source layout").
//
// Tiers, each importing only from the tiers above it in this list (scripts/check-imports.py enforces it, and that
// every target declares exactly the modules it imports):
//   Sources/Shims/         C shims, each imported by exactly one foundation module
//   Sources/Foundations/   what several steps share: media, tensors, NN, models, faces, recognition, catalog, manifests
//   Sources/Steps/         one library per tool, doing that tool's work; a step never imports another step
//   Sources/Tools/         thin `@main` executables: parse options, call one step library, write outputs
//   Sources/BenchmarkTools/ executables that time the libraries beside their peers (benchmarks/*/run.sh)
import PackageDescription

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")

#if arch(x86_64)
let haswell: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let haswell: [SwiftSetting] = []
#endif

func shim(_ name: String, pkgConfig: String, apt: [String]) -> Target {
    .systemLibrary(name: name, path: "Sources/Shims/\(name)", pkgConfig: pkgConfig, providers: [.apt(apt)])
}
func foundation(_ name: String, _ dependencies: [Target.Dependency], settings: [SwiftSetting] = []) -> Target {
    .target(name: name, dependencies: dependencies, path: "Sources/Foundations/\(name)", swiftSettings: settings)
}
func step(_ name: String, _ dependencies: [Target.Dependency], settings: [SwiftSetting] = []) -> Target {
    .target(name: name, dependencies: dependencies, path: "Sources/Steps/\(name)", swiftSettings: settings)
}
func tool(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: dependencies + [argumentParser], path: "Sources/Tools/\(name)")
}
func benchmarkTool(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: dependencies + [argumentParser], path: "Sources/BenchmarkTools/\(name)")
}

let tools = ["fetch-frames", "detect", "identify", "dedupe", "warp-augment", "train", "swap", "score"]
let benchmarkTools = ["model-bench", "train-bench", "dedupe-bench", "identify-bench", "watermark-bench"]

let package = Package(
    name: "Facet",
    products: (tools + benchmarkTools).map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // SHA-256 with the CPU's SHA instructions (benchmarks/sha256).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // MARK: Shims (C libraries, each wrapped by one foundation module)
        shim("CFFmpeg", pkgConfig: "libavformat", apt: ["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"]),  // → Media
        shim("COpenBLAS", pkgConfig: "openblas", apt: ["libopenblas-dev"]),  // → Tensor
        // Float32 micro-kernels in C with AVX2 and AVX-512 variants chosen at run time (packed GEMM, depthwise). → Tensor
        .target(name: "CKernels", path: "Sources/Shims/CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // MARK: Foundations
        // Errors with exit codes, atomic file writes, SHA-256, seeded random numbers, time stamps, progress sinks.
        foundation("FacetCore", [crypto]),
        // FFmpeg wrappers: video reading and writing, image codecs, RGB images, input units, frame sampling, encode pipeline.
        foundation("Media", ["CFFmpeg", "FacetCore"], settings: haswell),
        // NHWC float32 tensors and kernels on OpenBLAS, each with a naive reference twin (AVX2/FMA on x86-64).
        foundation("Tensor", ["COpenBLAS", "CKernels"], settings: haswell),
        // Training core: layers with backward passes, losses, Adam, checkpoints, the DeepFakes autoencoder.
        foundation("NN", ["FacetCore", "Tensor", "Manifest"], settings: haswell),
        // Pretrained models run natively: TFLite (BlazeFace, FaceMesh), dlib (5-point predictor, ResNet), the model store.
        foundation("Models", ["FacetCore", "Media", "Tensor"], settings: haswell),
        // Versioned JSON manifests (Codable) shared by every tool.
        foundation("Manifest", ["FacetCore"]),
        // The SQLite catalog: records, migrations, source registration.
        foundation("Catalog", ["FacetCore", "Media", grdb]),
        // Face analysis and geometry: locate + mesh + 5 points, alignment, masks, pose, expression, tracks, contact sheets.
        foundation("Faces", ["FacetCore", "Media", "Models", "Manifest", "Tensor"], settings: haswell),
        // Face recognition: descriptors (cached in the catalog), the enrolled gallery, the identity decision rule.
        foundation("Recognition", ["FacetCore", "Media", "Models", "Manifest", "Catalog"]),
        // Training augmentation: random affine, flip, L*a*b* colour, DeepFakes' random warp, warp to landmarks (seeded);
        // one side's faces loaded for it (TrainingSide) and the augmentation options, shared by train and warp-augment.
        foundation("Augment", ["FacetCore", "Media", "Models", "Manifest", "Faces", argumentParser]),
        // The invisible provenance watermark: embedder (swap), blind detector and file check (score provenance).
        foundation("Watermark", ["FacetCore", "Media"], settings: haswell),
        // Shared CLI options, progress reporting and exit handling.
        foundation("ToolSupport", ["FacetCore", argumentParser]),

        // MARK: Steps (one library per tool)
        step("FrameExtraction", ["FacetCore", "Media", "Manifest", "Catalog"]),                        // fetch-frames
        step("FaceDetect", ["FacetCore", "Media", "Manifest", "Catalog", "Models", "Faces"]),           // detect
        step("Identity", ["FacetCore", "Media", "Manifest", "Catalog", "Models", "Faces", "Recognition"]),  // identify
        // dedupe; Haswell-level x86-64 so hash comparisons use POPCNT.
        step("Datasets", ["FacetCore", "Media", "Manifest", "Catalog"], settings: haswell),
        step("Training", ["FacetCore", "Media", "Manifest", "Catalog", "NN", "Tensor", "Augment"]),     // train
        step("AugmentPreview", ["FacetCore", "Media", "Augment"]),                                     // warp-augment
        step("Swap", ["FacetCore", "Media", "Manifest", "Catalog", "Models", "Faces", "Recognition", "NN", "Tensor", "Watermark"]),  // swap
        step("Scoring", ["FacetCore", "Media", "Manifest", "Catalog", "Models", "Faces", "Recognition", "NN", "Tensor"]),  // score

        // MARK: Tools
        tool("fetch-frames", ["FrameExtraction", "ToolSupport", "FacetCore", "Catalog", "Media"]),
        tool("detect", ["FaceDetect", "ToolSupport", "FacetCore", "Faces", "Manifest", "Media", "Models", "Catalog"]),
        tool("identify", ["Identity", "Recognition", "ToolSupport", "FacetCore", "Models", "Catalog"]),
        tool("dedupe", ["Datasets", "ToolSupport", "FacetCore", "Catalog"]),
        tool("warp-augment", ["AugmentPreview", "Augment", "ToolSupport", "FacetCore"]),
        tool("train", ["Training", "Augment", "NN", "Catalog", "ToolSupport", "FacetCore", "Manifest"]),
        tool("swap", ["Swap", "ToolSupport", "FacetCore", "Catalog", "Models"]),
        tool("score", ["Scoring", "Watermark", "ToolSupport", "FacetCore", "Catalog", "Models"]),

        // MARK: Benchmark tools
        benchmarkTool("model-bench", ["Models", "Media", "Tensor", "ToolSupport", "Faces"]),
        benchmarkTool("train-bench", ["NN", "Tensor", "Training", "ToolSupport", "FacetCore"]),
        benchmarkTool("dedupe-bench", ["Datasets"]),
        benchmarkTool("identify-bench", ["Faces", "Recognition", "Models", "Media", "FacetCore", "ToolSupport"]),
        benchmarkTool("watermark-bench", ["Watermark", "Media", "Faces", "FacetCore", "NN", "Tensor"]),

        // MARK: Fuzzing (scripts/fuzz.sh, `make fuzz`): libFuzzer targets for every parser; a replay tool otherwise.
        .executableTarget(name: "facet-fuzz", dependencies: ["FacetCore", "Media", "Manifest", "Models", "NN", "Scoring"], path: "Sources/Fuzz/facet-fuzz"),

        // MARK: Tests
        .testTarget(
            name: "FacetTests",
            dependencies: ["FacetCore", "Media", "Manifest", "Catalog", "FrameExtraction", "ToolSupport", "fetch-frames", "Tensor", "Models",
                           "Faces", "Recognition", "FaceDetect", "detect", "NN", "Identity", "identify", "Datasets", "dedupe", "Augment",
                           "Training", "Swap", "swap", "Watermark", "Scoring", "score", grdb]
        ),
    ]
)
