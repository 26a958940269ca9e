// swift-tools-version:6.0
// SHA-256 benchmark: Facet's hand-written SHA-256 (the one FacetCore used until the switch, kept here as the
// baseline) against swift-crypto's `SHA256` (BoringSSL, with the CPU's SHA instructions where present).
// Its own package so the main build does not carry the baseline; run.sh builds it in a scratch path.
import PackageDescription

let package = Package(
    name: "SHA256Bench",
    dependencies: [.package(url: "https://github.com/apple/swift-crypto", from: "3.12.3")],
    targets: [
        .executableTarget(name: "sha256-bench", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                          path: "Sources/sha256-bench"),
    ]
)
