import ArgumentParser
import Datasets
import Foundation

/// Benchmark tool for `dedupe`'s decisions on synthetic faces (benchmarks/dedupe/run.sh): quality filters,
/// near-duplicate grouping and coverage selection over N faces whose signatures are made up instead of read
/// from crops, so 100,000 faces need no 100,000 image files. Prints one JSON object with the seconds of each
/// stage; peak memory is measured from outside (`/usr/bin/time -v`).
///
/// The faces imitate video: N / `--run` "moments", each seen in `--run` consecutive frames that differ by
/// noise (descriptor noise, a degree of pose, a little expression), which dedupe should group; moments differ
/// in pose (yaw ~ N(0°, s), pitch ~ N(−5°, 0.4 s), s = `--pose-spread`, 25° by default), expression and appearance. Every appearance shares a common
/// "mean face" component, so hashes crowd together as real aligned faces do (a random pair differs in about 16
/// to 22 of 63 bits, like two frames of different moments of one video).
@main
struct DedupeBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dedupe-bench",
                                                    abstract: "Time dedupe's filters, grouping and selection on synthetic faces.")

    @Option(help: "Number of faces.")
    var faces: Int = 100_000
    @Option(name: .customLong("run"), help: "Frames per moment (near-duplicates of each other).")
    var framesPerMoment: Int = 8
    @Option(help: "Standard deviation of the moments' yaw in degrees (pitch: 0.4 times it); 5 imitates one talking head.")
    var poseSpread: Double = 25
    @Option(help: "Dataset cap for the selection.")
    var maxFaces: Int = 2000
    @Option(help: "Seed of the synthetic faces.")
    var seed: UInt64 = 1

    struct Report: Codable {
        var faces: Int
        var moments: Int
        var poseSpread: Double
        var generateSeconds: Double
        var filterSeconds: Double
        var groupSeconds: Double
        var selectSeconds: Double
        /// Filters + grouping + selection.
        var dedupeAndSelectSeconds: Double
        var passedFilters: Int
        var distinct: Int
        var selected: Int
        var medianRandomPairHashDistance: Int
    }

    func run() throws {
        guard faces >= 1, framesPerMoment >= 1, maxFaces >= 1 else { throw ValidationError("--faces, --run and --max-faces must be 1 or more") }
        var rng = Generator(seed: seed)
        let started = Date()
        let length = FaceSignature.descriptorLength
        let meanFace = (0..<length).map { k in Float(rng.normal()) * 2 / Float(1 + k / 8) }
        var traits: [FaceTraits] = []
        var table = SignatureTable()
        table.reserve(faces)
        traits.reserveCapacity(faces)
        var tracks: [Int64] = []
        var ties: [UInt64] = []
        let moments = (faces + framesPerMoment - 1) / framesPerMoment
        for moment in 0..<moments {
            let base = (0..<length).map { k in meanFace[k] + Float(rng.normal()) / Float(1 + k / 8) }
            let yaw = max(-85, min(85, rng.normal() * poseSpread)), pitch = max(-55, min(55, -5 + rng.normal() * poseSpread * 0.4))
            let mouth = max(0, rng.normal() * 0.12 + 0.1), smile = 0.8 + abs(rng.normal()) * 0.08
            let sharpness = 20 + abs(rng.normal()) * 80
            for _ in 0..<min(framesPerMoment, faces - moment * framesPerMoment) {
                let coefficients = base.map { $0 + Float(rng.normal()) * 0.04 }
                table.append(FaceSignature(coefficients: coefficients))
                traits.append(FaceTraits(yaw: yaw + rng.normal() * 0.7, pitch: pitch + rng.normal() * 0.7, roll: rng.normal(),
                                         mouthOpenness: max(0, mouth + rng.normal() * 0.01), leftEyeOpenness: 0.3 + rng.normal() * 0.01,
                                         rightEyeOpenness: 0.3 + rng.normal() * 0.01, smileWidth: smile + rng.normal() * 0.01, browRaise: 0.42,
                                         sharpness: sharpness * (1 + rng.normal() * 0.1), brightness: 120, faceSize: 150 + abs(rng.normal()) * 60,
                                         presence: 0.99))
                tracks.append(Int64(moment / 50))
                ties.append(rng.next())
            }
        }
        let generated = Date()

        // The same three steps as DatasetBuilder, on the synthetic faces.
        let quality = QualitySettings()
        let medianSharpness = median(traits.map(\.sharpness))
        let passed = traits.indices.filter { quality.check(traits[$0], medianSharpness: medianSharpness) == nil }
        var passedTable = SignatureTable()
        passedTable.reserve(passed.count)
        for i in passed {
            passedTable.hashes.append(table.hashes[i])
            passedTable.mirrorHashes.append(table.mirrorHashes[i])
            passedTable.descriptors.append(contentsOf: table.descriptors[(i * length)..<((i + 1) * length)])
        }
        let filtered = Date()
        let matches = NearDuplicateGrouper.group(traits: passed.map { traits[$0] }, signatures: passedTable, tieBreaks: passed.map { ties[$0] },
                                                 settings: DuplicateSettings())
        let distinct = passed.indices.filter { matches[$0] == nil }.map { passed[$0] }
        let grouped = Date()
        let selection = CoverageSelector.select(traits: distinct.map { traits[$0] }, tracks: distinct.map { tracks[$0] },
                                                tieBreaks: distinct.map { ties[$0] }, count: maxFaces, bins: CoverageBins(), reference: nil,
                                                referenceWeight: 0.5)
        let selected = Date()

        var distances: [Int] = []
        for _ in 0..<1000 {
            let a = Int(rng.next() % UInt64(faces)), b = Int(rng.next() % UInt64(faces))
            distances.append(FaceSignature.hammingDistance(table.hashes[a], table.hashes[b]))
        }
        distances.sort()
        let report = Report(faces: faces, moments: moments, poseSpread: poseSpread, generateSeconds: generated.timeIntervalSince(started),
                            filterSeconds: filtered.timeIntervalSince(generated), groupSeconds: grouped.timeIntervalSince(filtered),
                            selectSeconds: selected.timeIntervalSince(grouped), dedupeAndSelectSeconds: selected.timeIntervalSince(generated),
                            passedFilters: passed.count, distinct: distinct.count, selected: selection.selected.filter { $0 }.count,
                            medianRandomPairHashDistance: distances[distances.count / 2])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}

/// SplitMix64 with Box–Muller normals: seeded, so every run makes the same faces.
struct Generator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal sample.
    mutating func normal() -> Double {
        let u = max(Double(next() >> 11) / Double(1 << 53), 1e-300), v = Double(next() >> 11) / Double(1 << 53)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
