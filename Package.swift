// swift-tools-version:6.0
// Facet: a face-swap toolchain. Small executables over shared libraries; see README.md.
import PackageDescription

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")

let package = Package(
    name: "Facet",
    products: [
        .executable(name: "fetch-frames", targets: ["fetch-frames"]),
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
        // Errors with exit codes, atomic file writes, SHA-256: no dependencies.
        .target(name: "FacetCore"),
        // FFmpeg wrappers: video reading and writing, image decoding and encoding.
        .target(name: "Media", dependencies: ["CFFmpeg", "FacetCore"]),
        // Versioned JSON manifests (Codable).
        .target(name: "Manifest", dependencies: ["FacetCore"]),
        // The SQLite catalog: records and migrations.
        .target(name: "Catalog", dependencies: ["FacetCore", grdb]),
        // Shared CLI options, progress reporting and exit handling.
        .target(name: "ToolSupport", dependencies: ["FacetCore", argumentParser]),
        // The work behind `fetch-frames`.
        .target(name: "FrameExtraction", dependencies: ["FacetCore", "Media", "Manifest", "Catalog"]),
        .executableTarget(name: "fetch-frames", dependencies: ["FrameExtraction", "ToolSupport", "FacetCore", argumentParser]),
        .testTarget(
            name: "FacetTests",
            dependencies: ["FacetCore", "Media", "Manifest", "Catalog", "FrameExtraction", "ToolSupport", "fetch-frames", grdb],
            resources: []
        ),
    ]
)
