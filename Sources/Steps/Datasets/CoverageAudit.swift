import FacetCore
import Foundation
import Manifest

/// `audit.json`: how well a dataset (or any set of faces) covers poses and expressions, optionally against
/// the faces of a target video. JSON Schema: `Manifests/audit.schema.json`.
public struct AuditDocument: ManifestDocument, Equatable, Sendable {
    public static let schemaName = "facet.audit"
    public static let currentVersion = ManifestVersion(1, 0)

    public var schema: String
    public var version: ManifestVersion
    public var tool: ToolInfo
    public var createdAt: String
    /// The audited faces (a dataset or a faces manifest) and the target's.
    public var dataset: Side
    public var target: Side?
    /// Pose grid: bin edges in degrees (`yawEdges.count − 1` columns, `pitchEdges.count − 1` rows; the outermost
    /// bins also hold the values beyond them).
    public var yawEdges: [Double]
    public var pitchEdges: [Double]
    /// Face counts per pose cell, `[pitch row][yaw column]`, row 0 at the lowest pitch.
    public var poseHeatmap: [[Int]]
    public var targetPoseHeatmap: [[Int]]?
    /// Histograms of mouth openness, eye openness, smile width, brow raise, log10 sharpness and brightness.
    public var histograms: [Histogram]
    /// Faces per expression class (see `CoverageBins`).
    public var expressionClasses: [ClassCount]
    /// Percentiles (5, 25, 50, 75, 95) of sharpness and brightness.
    public var sharpness: Percentiles
    public var brightness: Percentiles
    public var targetSharpness: Percentiles?
    public var targetBrightness: Percentiles?
    /// Pose cells and expression classes the target uses (at least `minTargetFaces` faces and `minTargetShare`
    /// of them) that the dataset holds fewer than `thinBelow` faces of, most used by the target first.
    public var thin: [ThinBin]
    public var thinBelow: Int
    public var minTargetFaces: Int
    public var minTargetShare: Double
    /// The dataset folder checked against its manifest (datasets only).
    public var integrity: DatasetIntegrity?
    /// Faces the build left out, by reason (from `dedupe-report.json` beside a dataset manifest, when there).
    public var dropped: [String: Int]?
    /// The files this audit wrote, relative to `audit.json`.
    public var files: [String]

    public struct Side: Codable, Equatable, Sendable {
        /// The manifests read (absolute paths), `facet.dataset` or `facet.faces`.
        public var manifests: [String]
        public var kind: String
        public var identity: String?
        public var faces: Int
        public var tracks: Int
        /// [min, max] yaw and pitch, degrees (empty when there is no face).
        public var yawRange: [Double]
        public var pitchRange: [Double]
    }

    public struct Histogram: Codable, Equatable, Sendable {
        public var name: String
        /// Bin edges; values outside go to the end bins.
        public var edges: [Double]
        public var dataset: [Int]
        public var target: [Int]?
    }

    public struct ClassCount: Codable, Equatable, Sendable {
        public var name: String
        public var dataset: Int
        public var target: Int?
    }

    public struct Percentiles: Codable, Equatable, Sendable {
        public var p5: Double, p25: Double, p50: Double, p75: Double, p95: Double
    }

    public struct ThinBin: Codable, Equatable, Sendable {
        /// `pose` or `expression`.
        public var kind: String
        public var bin: String
        public var targetFaces: Int
        public var targetShare: Double
        public var datasetFaces: Int
        public var datasetShare: Double
        /// True when the dataset has no face in the bin at all.
        public var uncovered: Bool
    }
}

/// What an audit looks at and where it writes.
public struct AuditOptions: Sendable {
    /// A dataset manifest or a faces manifest.
    public var subject: URL
    /// Faces (or dataset) manifests of the target video.
    public var against: [URL]
    /// Folder for audit.json, the PNG plots and audit.html (default: `audit/` beside a dataset manifest,
    /// `audit-<name>/` beside a faces manifest).
    public var output: URL?
    public var bins: CoverageBins
    public var thinBelow: Int
    public var minTargetFaces: Int
    public var minTargetShare: Double
    /// Check a dataset folder against its manifest first, and refuse an edited one (exit 65).
    public var verify: Bool
    public var threads: Int

    public init(subject: URL, against: [URL] = [], output: URL? = nil, bins: CoverageBins = CoverageBins(), thinBelow: Int = 10,
                minTargetFaces: Int = 3, minTargetShare: Double = 0.01, verify: Bool = true, threads: Int = 0) {
        self.subject = subject; self.against = against; self.output = output; self.bins = bins; self.thinBelow = thinBelow
        self.minTargetFaces = minTargetFaces; self.minTargetShare = minTargetShare; self.verify = verify; self.threads = threads
    }

    /// The output folder.
    public var outputFolder: URL {
        if let output { return output }
        let folder = subject.deletingLastPathComponent()
        if subject.lastPathComponent == "dataset.json" { return folder.appendingPathComponent("audit") }
        return folder.appendingPathComponent("audit-" + subject.deletingPathExtension().lastPathComponent)
    }
}

/// Reads the faces of a dataset or faces manifest as `FaceTraits`.
public enum FaceSetReader {
    public struct FaceSet: Sendable {
        public var kind: String
        public var identity: String?
        public var traits: [FaceTraits]
        public var tracks: Int
        public var dataset: DatasetManifest?
    }

    /// The faces of the manifest at `url`, whichever of `facet.dataset` and `facet.faces` it is.
    public static func read(_ url: URL) throws -> FaceSet {
        switch try FaceSetManifest.read(url) {
        case .dataset(let manifest):
            return FaceSet(kind: "dataset", identity: manifest.identity, traits: manifest.items.map { FaceTraits($0) },
                           tracks: Set(manifest.items.map { [Int64($0.source), $0.track] }).count, dataset: manifest)
        case .faces(let manifest):
            return FaceSet(kind: "faces", identity: nil, traits: manifest.items.map { FaceTraits($0) },
                           tracks: Set(manifest.items.map(\.track)).count, dataset: nil)
        }
    }

    /// Only the traits.
    public static func traits(of url: URL) throws -> [FaceTraits] { try read(url).traits }
}

/// Computes the audit document (no files).
public enum CoverageAuditor {
    /// The fixed histogram layouts: name, lower edge, bin width, bin count, and the measure.
    static let histogramLayouts: [(name: String, low: Double, width: Double, bins: Int, value: @Sendable (FaceTraits) -> Double)] = [
        ("mouth openness", 0, 0.05, 12, { $0.mouthOpenness }),
        ("eye openness", 0, 0.05, 10, { $0.eyeOpenness }),
        ("smile width", 0.5, 0.05, 16, { $0.smileWidth }),
        ("brow raise", 0.25, 0.025, 16, { $0.browRaise }),
        ("log10 sharpness", 0, 0.25, 16, { log10(max(1, $0.sharpness)) }),
        ("brightness", 0, 16, 16, { $0.brightness }),
    ]

    public static func audit(dataset: [FaceTraits], datasetSide: AuditDocument.Side, target: [FaceTraits]?, targetSide: AuditDocument.Side?,
                             options: AuditOptions) -> AuditDocument {
        let bins = options.bins
        let yawEdges = (0...bins.yawBins).map { CoverageBins.yawRange.lowerBound + Double($0) * bins.poseBinDegrees }
        let pitchEdges = (0...bins.pitchBins).map { CoverageBins.pitchRange.lowerBound + Double($0) * bins.poseBinDegrees }
        func heatmap(_ faces: [FaceTraits]) -> [[Int]] {
            var grid = [[Int]](repeating: [Int](repeating: 0, count: bins.yawBins), count: bins.pitchBins)
            for face in faces {
                let cell = bins.poseCell(face)
                grid[cell / bins.yawBins][cell % bins.yawBins] += 1
            }
            return grid
        }
        func classes(_ faces: [FaceTraits]) -> [Int] {
            var counts = [Int](repeating: 0, count: CoverageBins.expressionClasses)
            for face in faces { counts[CoverageBins.expressionClass(face)] += 1 }
            return counts
        }
        let histograms = histogramLayouts.map { layout -> AuditDocument.Histogram in
            func count(_ faces: [FaceTraits]) -> [Int] {
                var counts = [Int](repeating: 0, count: layout.bins)
                for face in faces {
                    let v = layout.value(face)
                    let i = v.isFinite ? Int(((v - layout.low) / layout.width).rounded(.down)).clamped(0, layout.bins - 1) : 0
                    counts[i] += 1
                }
                return counts
            }
            return AuditDocument.Histogram(name: layout.name, edges: (0...layout.bins).map { layout.low + Double($0) * layout.width },
                                           dataset: count(dataset), target: target.map(count))
        }
        let datasetClasses = classes(dataset), targetClasses = target.map(classes)
        let classCounts = (0..<CoverageBins.expressionClasses).map {
            AuditDocument.ClassCount(name: CoverageBins.expressionLabel(of: $0), dataset: datasetClasses[$0], target: targetClasses?[$0])
        }
        let datasetGrid = heatmap(dataset)
        let targetGrid = target.map(heatmap)
        var thin: [AuditDocument.ThinBin] = []
        if let target, let targetGrid, let targetClasses, !target.isEmpty {
            func consider(kind: String, bin: String, targetFaces: Int, datasetFaces: Int) {
                let targetShare = Double(targetFaces) / Double(target.count)
                guard targetFaces >= options.minTargetFaces, targetShare >= options.minTargetShare, datasetFaces < options.thinBelow else { return }
                thin.append(AuditDocument.ThinBin(kind: kind, bin: bin, targetFaces: targetFaces, targetShare: targetShare, datasetFaces: datasetFaces,
                                                  datasetShare: dataset.isEmpty ? 0 : Double(datasetFaces) / Double(dataset.count),
                                                  uncovered: datasetFaces == 0))
            }
            for cell in 0..<bins.poseCells {
                let (row, column) = (cell / bins.yawBins, cell % bins.yawBins)
                consider(kind: "pose", bin: bins.poseLabel(of: cell), targetFaces: targetGrid[row][column], datasetFaces: datasetGrid[row][column])
            }
            for cls in 0..<CoverageBins.expressionClasses {
                consider(kind: "expression", bin: CoverageBins.expressionLabel(of: cls), targetFaces: targetClasses[cls], datasetFaces: datasetClasses[cls])
            }
            thin.sort { ($0.targetFaces, $1.kind, $1.bin) > ($1.targetFaces, $0.kind, $0.bin) }
        }
        return AuditDocument(
            schema: AuditDocument.schemaName, version: AuditDocument.currentVersion,
            tool: ToolInfo(name: "dedupe", parameters: ["command": "audit", "pose-bin": .number(bins.poseBinDegrees),
                                                        "thin-below": .number(Double(options.thinBelow)),
                                                        "min-target-faces": .number(Double(options.minTargetFaces)),
                                                        "min-target-share": .number(options.minTargetShare)]),
            createdAt: buildTimestamp(), dataset: datasetSide, target: targetSide, yawEdges: yawEdges, pitchEdges: pitchEdges,
            poseHeatmap: datasetGrid, targetPoseHeatmap: targetGrid, histograms: histograms, expressionClasses: classCounts,
            sharpness: percentiles(dataset.map(\.sharpness)), brightness: percentiles(dataset.map(\.brightness)),
            targetSharpness: target.map { percentiles($0.map(\.sharpness)) }, targetBrightness: target.map { percentiles($0.map(\.brightness)) },
            thin: thin, thinBelow: options.thinBelow, minTargetFaces: options.minTargetFaces, minTargetShare: options.minTargetShare,
            integrity: nil, dropped: nil, files: [])
    }

    /// Nearest-rank percentiles (0 for no values).
    static func percentiles(_ values: [Double]) -> AuditDocument.Percentiles {
        let sorted = values.sorted()
        func at(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[Int((p * Double(sorted.count - 1)).rounded()).clamped(0, sorted.count - 1)]
        }
        return AuditDocument.Percentiles(p5: at(0.05), p25: at(0.25), p50: at(0.5), p75: at(0.75), p95: at(0.95))
    }

    /// A side's summary.
    static func side(_ set: FaceSetReader.FaceSet, manifests: [URL]) -> AuditDocument.Side {
        AuditDocument.Side(manifests: manifests.map(\.path), kind: set.kind, identity: set.identity, faces: set.traits.count, tracks: set.tracks,
                           yawRange: range(set.traits.map(\.yaw)), pitchRange: range(set.traits.map(\.pitch)))
    }
}
