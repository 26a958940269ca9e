import ArgumentParser
import Faces
import FacetCore
import Foundation
import Media
import Models
import Recognition
import ToolSupport

/// `identify-bench`: dlib descriptors of every face of every image under some folders, as `identify enroll`
/// computes them (BlazeFace full range with 2 tiles, dlib's 5 points, the 150 px chip cut from the whole
/// image, the ResNet), written once as JSON lines so `benchmarks/identify/open_set.py` can replay decision
/// rules over them without running the network again. Benchmark tool, not a pipeline step.
@main
struct IdentifyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identify-bench",
        abstract: "Write the dlib descriptor of every face of every image under the given folders (JSON lines).")

    static func main() {
        OpenBLASCoreChoice.applyRecordedChoice()
        Self.main(nil)
    }

    @Option(help: "Model folder (default: $FACET_MODELS, else ~/.cache/facet/models).")
    var models: String?

    @Option(help: "The JSON-lines file to write: one line per image {path, width, height, faces: [{box, size, descriptor}]}.")
    var output: String

    @Flag(help: "Also write `mirror`, the descriptor of the chip mirrored left to right.")
    var mirror = false

    @Option(help: "Also write `jitters`: the descriptors of this many jittered chips of each face (FaceChipJitter.series).")
    var jitter = 0

    @Option(help: "Seed of the jitters (every face gets the same series).")
    var seed: UInt64 = 1

    @Argument(help: "Folders of images (searched recursively) or images.")
    var inputs: [String]

    func run() throws {
        let store = ModelStore(directory: models.map { URL(fileURLWithPath: $0) })
        var files: [URL] = []
        for input in inputs {
            let url = URL(fileURLWithPath: input)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { throw ValidationError("\(input): no such file") }
            if !isDir.boolValue { files.append(url); continue }
            let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil)
            while let next = walker?.nextObject() as? URL {
                if ["jpg", "jpeg", "png"].contains(next.pathExtension.lowercased()) { files.append(next) }
            }
        }
        files.sort { $0.path < $1.path }
        let analyzer = try FaceAnalyzer(range: .full, settings: FaceAnalyzer.Settings(), store: store)
        let net = try FaceRecognitionNet(store: store, maxBatchSize: 16)
        var out = Data()
        let started = Date()
        for (n, file) in files.enumerated() {
            let image = try ImageDecoder.decode(fileAt: file)
            let faces = analyzer.locate(image, tiles: 2)
            let chips = try faces.map { try FaceEmbedder.chip(fromImage: image, points5: $0.points5) }
            let vectors = chips.isEmpty ? [] : try net.embed(chips: chips)
            let mirrored = chips.isEmpty || !mirror ? [] : try net.embed(chips: chips.map { $0.mirrored() })
            let series = FaceChipJitter.series(count: jitter, seed: seed)
            let jittered: [[[Float]]] = try faces.map { face in
                guard jitter > 0 else { return [] }
                let details = try FaceEmbedder.chipDetails(points5: face.points5)
                return try net.embed(chips: FaceEmbedder.jitteredChips(fromImage: image, details: details, jitters: series))
            }
            let rows: [[String: Any]] = zip(faces, vectors).enumerated().map { k, pair in
                let (face, vector) = pair
                let d = face.detection
                var row: [String: Any] = ["box": [d.x, d.y, d.width, d.height], "size": (d.width * d.height).squareRoot(), "descriptor": vector.map { Double($0) }]
                if mirrored.indices.contains(k) { row["mirror"] = mirrored[k].map { Double($0) } }
                if jittered.indices.contains(k), !jittered[k].isEmpty { row["jitters"] = jittered[k].map { $0.map { Double($0) } }; row["jitterMirrored"] = series.map(\.mirror) }
                return row
            }
            let line: [String: Any] = ["path": file.path, "width": image.width, "height": image.height, "faces": rows]
            out += try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            out += Data("\n".utf8)
            if (n + 1) % 100 == 0 {
                FileHandle.standardError.write(Data("identify-bench: \(n + 1)/\(files.count) images, \(Int(Date().timeIntervalSince(started))) s\n".utf8))
            }
        }
        try AtomicFile.write(out, to: URL(fileURLWithPath: output))
    }
}
