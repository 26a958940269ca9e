// swift-tools-version:6.0
// Facet: a face-swap toolchain. Small executables over shared libraries; see README.md.
import PackageDescription

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")

#if arch(x86_64)
let tensorSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let tensorSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "Facet",
    products: [
        .executable(name: "fetch-frames", targets: ["fetch-frames"]),
        .executable(name: "detect", targets: ["detect"]),
        .executable(name: "identify", targets: ["identify"]),
        .executable(name: "dedupe", targets: ["dedupe"]),
        .executable(name: "model-bench", targets: ["model-bench"]),
        .executable(name: "train-bench", targets: ["train-bench"]),
        .executable(name: "dedupe-bench", targets: ["dedupe-bench"]),
        .executable(name: "warp-augment", targets: ["warp-augment"]),
        .executable(name: "train", targets: ["train"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // C shim: imported by `Media` only.
        .systemLibrary(
            name: "CFFmpeg",
            path: "Sources/CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        // C shim: imported by `Tensor` only.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Errors with exit codes, atomic file writes, SHA-256: no dependencies.
        .target(name: "FacetCore"),
        // FFmpeg wrappers: video reading and writing, image decoding and encoding.
        .target(name: "Media", dependencies: ["CFFmpeg", "FacetCore"]),
        // NHWC float32 tensors and kernels on OpenBLAS, each with a naive reference twin.
        // Compiled for Haswell-level x86-64 (AVX2, FMA) so its SIMD kernels use 256-bit vectors.
        .target(name: "Tensor", dependencies: ["COpenBLAS"], swiftSettings: tensorSettings),
        // Pretrained models: TFLite loader and interpreter, BlazeFace, FaceMesh, the model store.
        .target(name: "Models", dependencies: ["FacetCore", "Media", "Tensor"]),
        // Training core: layers with backward passes, losses, Adam, Glorot init, safetensors checkpoints,
        // the DeepFakes autoencoder. Goes through `Tensor`'s BLAS (never OpenBLAS directly).
        .target(name: "NN", dependencies: ["FacetCore", "Tensor"], swiftSettings: tensorSettings),
        // Face geometry and measures: landmark subsets, alignment, warping, masks, pose, expression, tracks.
        .target(name: "Faces", dependencies: ["Media", "Models"]),
        // Versioned JSON manifests (Codable).
        .target(name: "Manifest", dependencies: ["FacetCore"]),
        // The SQLite catalog: records and migrations.
        .target(name: "Catalog", dependencies: ["FacetCore", grdb]),
        // Shared CLI options, progress reporting and exit handling.
        .target(name: "ToolSupport", dependencies: ["FacetCore", argumentParser]),
        // The work behind `fetch-frames`.
        .target(name: "FrameExtraction", dependencies: ["FacetCore", "Media", "Manifest", "Catalog"]),
        .executableTarget(name: "fetch-frames", dependencies: ["FrameExtraction", "ToolSupport", "FacetCore", argumentParser]),
        // The work behind `detect`: faces, landmarks, alignment, measures, tracks, crops, contact sheets.
        .target(name: "FaceDetect", dependencies: ["FacetCore", "Media", "Manifest", "Catalog", "Models", "Faces", "FrameExtraction"]),
        .executableTarget(name: "detect", dependencies: ["FaceDetect", "ToolSupport", "FacetCore", "Faces", "Manifest", "Media", "Models",
                                                         "Catalog", argumentParser]),
        // The work behind `identify`: face descriptors, enrolment, labelling, target filtering, clustering.
        .target(name: "Identity", dependencies: ["FacetCore", "Media", "Manifest", "Catalog", "Models", "FaceDetect", "FrameExtraction"]),
        .executableTarget(name: "identify", dependencies: ["Identity", "ToolSupport", "FacetCore", "Models", "Catalog", argumentParser]),
        // The work behind `dedupe`: quality filters, near-duplicate grouping, coverage selection, dataset folders,
        // the coverage audit (JSON, PNG plots, HTML).
        // Compiled for Haswell-level x86-64 like `Tensor`, so hash comparisons use the POPCNT instruction.
        .target(name: "Datasets", dependencies: ["FacetCore", "Media", "Manifest", "Catalog"], swiftSettings: tensorSettings),
        .executableTarget(name: "dedupe", dependencies: ["Datasets", "ToolSupport", "FacetCore", "Catalog", argumentParser]),
        // Benchmark tool: times dedupe's filters, grouping and selection on synthetic faces (benchmarks/dedupe/run.sh).
        .executableTarget(name: "dedupe-bench", dependencies: ["Datasets", argumentParser]),
        // Training augmentation: random affine, flip, L*a*b* colour, DeepFakes' random warp, warp to landmarks (seeded).
        .target(name: "Augment", dependencies: ["FacetCore", "Media", "Faces", "Models"]),
        // The work behind `train` (and `warp-augment`'s data): datasets in memory, models, the training loop,
        // checkpoints, previews, loss logs, the exported model.
        .target(name: "Training", dependencies: ["FacetCore", "Media", "Manifest", "Catalog", "Faces", "NN", "Tensor", "Augment"]),
        .executableTarget(name: "warp-augment", dependencies: ["Augment", "Training", "ToolSupport", "FacetCore", "Media", "Manifest",
                                                               argumentParser]),
        .executableTarget(name: "train", dependencies: ["Training", "Augment", "NN", "Catalog", "ToolSupport", "FacetCore", "Manifest",
                                                        argumentParser]),
        // Benchmark tool: times the native model runtime beside the peers (benchmarks/models/run.sh).
        .executableTarget(name: "model-bench", dependencies: ["Models", "Media", "Tensor", "ToolSupport", argumentParser]),
        // Benchmark tool: times DeepFakes autoencoder training and inference beside Keras (benchmarks/train/run.sh).
        .executableTarget(name: "train-bench", dependencies: ["NN", "Tensor", "Training", "ToolSupport", argumentParser]),
        .testTarget(
            name: "FacetTests",
            dependencies: ["FacetCore", "Media", "Manifest", "Catalog", "FrameExtraction", "ToolSupport", "fetch-frames", "Tensor", "Models",
                           "Faces", "FaceDetect", "detect", "NN", "Identity", "identify", "Datasets", "dedupe", "Augment", "Training", grdb],
            resources: []
        ),
    ]
)
