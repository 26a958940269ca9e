import ArgumentParser
import FacetCore
import Faces
import Foundation
import Media
import NN
import Tensor
import Watermark

/// Benchmark tool for the provenance watermark (benchmarks/watermark/run.sh). Until `swap` exists it marks
/// the decoded frames of a clip directly, the way swap marks its output, and writes H.264 with Media's
/// VideoWriter; `detect` runs the same check `score provenance` does and prints one JSON line per file.
@main
struct WatermarkBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watermark-bench", abstract: "Mark clips with Facet's watermark and check files for it.",
        subcommands: [Mark.self, Detect.self, DifferenceImage.self, Diagnose.self, EmbedSpeed.self, Stills.self])
}

struct Mark: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Watermark every frame of a video; print timing and quality as JSON.")
    @Argument(help: "Input video.") var input: String
    @Argument(help: "Output MP4 (H.264).") var output: String
    @Option(help: "Payload: 8 hex digits.") var payload: String = "5eed1e55"
    @Option(help: "x264 CRF of the written file.") var crf: Int = 18
    @Option(help: "Measure SSIM on every Nth frame (PSNR on all).") var ssimEvery: Int = 10
    @Option(help: "Embedding strength (1: the default).") var strength: Float = 1
    @Option(help: "Bit layout (default: the current one).") var scheme: String = WatermarkScheme.current.rawValue
    @Option(help: "Experiment: per frame, the largest strength from --strength up to --max-strength (steps of 0.05) whose SSIM against the unmarked frame is at least this (true SSIM per candidate: slow).") var ssimTarget: Double?
    @Option(help: "Experiment: the largest strength --ssim-target may pick.") var maxStrength: Float = 1.6
    @Option(help: "The SSIM budget's target (default: the embedder's).") var budgetTarget: Double?
    @Option(help: "The SSIM budget's window stride in pixels (default: the embedder's).") var budgetStride: Int?
    @Flag(help: "Mark at a fixed strength, without the SSIM budget.") var noBudget = false
    @Option(help: "Mask: blocks darker than this mean luma stay unmarked.") var darkLuma: Float?
    @Option(help: "Mask: floor in luma levels.") var floor: Float?
    @Option(help: "Mask: cap in luma levels.") var cap: Float?
    @Option(help: "Mask: luminance factor.") var luminanceFactor: Float?
    @Option(help: "Mask: texture factor.") var textureFactor: Float?

    struct Report: Codable {
        var input: String, output: String, payload: String, frames: Int, width: Int, height: Int
        var embedMillisecondsPerFrame: Double
        var psnrMean: Double, psnrMin: Double, ssimMean: Double, ssimMin: Double
        var strengthMean: Double?
    }

    func run() throws {
        guard let value = WatermarkPayload(hexPrefix: payload) else { throw ValidationError("--payload must be 8 hex digits") }
        let reader = try VideoReader(url: URL(fileURLWithPath: input))
        let w = reader.info.displayWidth / 2 * 2, h = reader.info.displayHeight / 2 * 2
        let rate = reader.info.frameRate > 0 ? reader.info.frameRate : 30
        let writer = try VideoWriter(url: URL(fileURLWithPath: output), options: VideoWriterOptions(
            width: w, height: h, frameRateNumerator: Int((rate * 1000).rounded()), frameRateDenominator: 1000, crf: crf,
            metadata: ["comment": "synthetic: Facet watermark benchmark", "facet_synthetic": "1"]))
        guard let layout = WatermarkScheme(rawValue: scheme) else { throw ValidationError("unknown --scheme \(scheme)") }
        var mask = WatermarkEmbedder.Mask()
        if let darkLuma { mask.darkLuma = darkLuma }
        if let floor { mask.minimumAmplitude = floor }
        if let cap { mask.maximumAmplitude = cap }
        if let luminanceFactor { mask.luminanceFactor = luminanceFactor }
        if let textureFactor { mask.textureFactor = textureFactor }
        var budget: SSIMBudget? = noBudget || ssimTarget != nil ? nil : SSIMBudget()
        if let budgetTarget { budget?.target = budgetTarget }
        if let budgetStride { budget?.windowStride = budgetStride }
        let embedder = WatermarkEmbedder(payload: value, scheme: layout, strength: strength, mask: mask, budget: budget)
        let converter = FrameConverter()
        var frames = 0, embedSeconds = 0.0, psnrs: [Double] = [], ssims: [Double] = []
        // --ssim-target: embedders at strength, strength + 0.05, ... up to --max-strength.
        let ladder = ssimTarget == nil ? [] : stride(from: strength, through: maxStrength + 1e-4, by: 0.05).map {
            WatermarkEmbedder(payload: value, scheme: layout, strength: $0, mask: mask, budget: nil)
        }
        var chosenStrengths: [Double] = []
        while let frame = try reader.nextFrame() {
            let original = try converter.rgb(frame, width: w, height: h)
            var marked = original
            let t0 = Date()
            embedder.embed(into: &marked)
            if frames > 0 { embedSeconds += Date().timeIntervalSince(t0) }  // the first frame builds the pattern
            if let ssimTarget, ladder.count > 1 {
                // Binary search for the strongest rung whose SSIM still meets the target (rung 0 always allowed).
                var low = 0, high = ladder.count - 1, best = marked
                while low < high {
                    let mid = (low + high + 1) / 2
                    var candidate = original
                    ladder[mid].embed(into: &candidate)
                    if try ssim(original, candidate) >= ssimTarget { low = mid; best = candidate } else { high = mid - 1 }
                }
                marked = best
                chosenStrengths.append(Double(ladder[low].strength))
            } else {
                chosenStrengths.append(Double(embedder.strength * embedder.lastBoost))
            }
            psnrs.append(psnr(original, marked))
            if frames % max(1, ssimEvery) == 0 { ssims.append(try ssim(original, marked)) }
            try writer.write(marked, seconds: frame.seconds)
            frames += 1
        }
        try writer.finish()
        let finite = psnrs.map { $0.isFinite ? $0 : 99 }
        let report = Report(input: input, output: output, payload: value.description, frames: frames, width: w, height: h,
                            embedMillisecondsPerFrame: 1000 * embedSeconds / Double(max(1, frames - 1)),
                            psnrMean: finite.reduce(0, +) / Double(max(1, finite.count)), psnrMin: finite.min() ?? 0,
                            ssimMean: ssims.reduce(0, +) / Double(max(1, ssims.count)), ssimMin: ssims.min() ?? 0,
                            strengthMean: chosenStrengths.isEmpty ? nil : chosenStrengths.reduce(0, +) / Double(chosenStrengths.count))
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}

/// Detector settings a benchmark run may override (each defaults to `WatermarkDetector.Settings()`'s).
struct DetectorTuning: ParsableArguments {
    @Option(help: "Whitening radius in cells.") var whiteningRadius: Double?
    @Option(help: "Normalisation radius in cells (0: global clip).") var normalizationRadius: Double?
    @Option(help: "Evidence weighting radius in cells (0: off).") var weightRadius: Double?
    @Option(help: "Evidence weighting power.") var weightPower: Double?
    @Option(help: "List Viterbi size.") var listSize: Int?
    @Option(help: "Deep search's list size (1: no deep search).") var deepListSize: Int?
    @Option(help: "Spectral whitening exponent of the folded tile (0: off).") var spectral: Double?
    @Option(help: "Spectral smoothing half-width in frequency bins.") var spectralSmoothing: Int?
    @Option(help: "Equaliser regularisation.") var equalizerEpsilon: Double?

    func apply(to settings: inout WatermarkDetector.Settings) {
        if let whiteningRadius { settings.whiteningRadiusCells = whiteningRadius }
        if let normalizationRadius { settings.normalizationRadiusCells = normalizationRadius }
        if let weightRadius { settings.evidenceWeightRadiusCells = weightRadius }
        if let weightPower { settings.evidenceWeightPower = weightPower }
        if let listSize { settings.listSize = listSize }
        if let deepListSize { settings.deepListSize = deepListSize }
        if let spectral { settings.spectralWhitening = spectral }
        if let spectralSmoothing { settings.spectralSmoothing = spectralSmoothing }
        if let equalizerEpsilon { settings.equalizerEpsilon = equalizerEpsilon }
    }
}

/// Standard SSIM (11-tap Gaussian window, σ 1.5, RGB averaged) from NN's DSSIM loss: SSIM = 1 − 2·DSSIM.
func ssim(_ a: RGBImage, _ b: RGBImage) throws -> Double {
    let shape = [1, a.height, a.width, 3]
    let x = Tensor(shape: shape, data: a.pixels.map { Float($0) / 255 })
    let y = Tensor(shape: shape, data: b.pixels.map { Float($0) / 255 })
    return 1 - 2 * Double(try Loss.standardDSSIM.evaluate(prediction: y, target: x).value)
}

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check files for the watermark; one JSON line per file (errors too).")
    @Argument(help: "Videos or images.") var files: [String]
    @Option(help: "Stop after this many frames per file.") var maxFrames: Int = 450
    @OptionGroup var tuning: DetectorTuning

    struct Line: Codable { var report: ProvenanceReport?; var error: String?; var exitStatus: Int32; var seconds: Double }

    func run() throws {
        var settings = WatermarkDetector.Settings()
        settings.maxFrames = maxFrames
        tuning.apply(to: &settings)
        for file in files {
            let t0 = Date()
            var line: Line
            do {
                let report = try ProvenanceCheck.check(url: URL(fileURLWithPath: file), settings: settings)
                line = Line(report: report, error: nil, exitStatus: report.exitStatus.rawValue, seconds: 0)
            } catch let error as FacetError {
                line = Line(report: nil, error: error.description, exitStatus: error.exitStatus.rawValue, seconds: 0)
            }
            line.seconds = Date().timeIntervalSince(t0)
            print(String(decoding: try JSONEncoder().encode(line), as: UTF8.self))
        }
    }
}

struct DifferenceImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "difference-image",
        abstract: "Write a PNG: a flat grey patch and a video frame, each marked, beside their differences amplified.")
    @Argument(help: "A video; its first frame is used.") var video: String
    @Argument(help: "Output PNG.") var output: String
    @Option(help: "Amplification of the difference.") var gain: Int = 32
    @Option(help: "Side of each panel in pixels (the picture is 2x2 panels).") var panel: Int = 180

    func run() throws {
        let reader = try VideoReader(url: URL(fileURLWithPath: video))
        guard let frame = try reader.nextFrame() else { throw ValidationError("\(video): no frames") }
        // Mark at 640x360 (a typical swap output), then show a panel-sized crop.
        let real = try FrameConverter().rgb(frame, width: 640, height: 360)
        let flat = RGBImage(width: 640, height: 360, fill: (128, 128, 128))
        let embedder = WatermarkEmbedder(payload: WatermarkPayload(0x5eed1e55))
        var out = RGBImage(width: 2 * panel, height: 2 * panel, fill: (0, 0, 0))
        for (row, source) in [flat, real].enumerated() {
            var marked = source
            embedder.embed(into: &marked)
            let x0 = (640 - panel) / 2, y0 = (360 - panel) / 2
            for y in 0..<panel {
                for x in 0..<panel {
                    let s = ((y0 + y) * 640 + x0 + x) * 3
                    let d = ((row * panel + y) * 2 * panel + x) * 3
                    for c in 0..<3 {
                        out.pixels[d + c] = marked.pixels[s + c]
                        let diff = Int(marked.pixels[s + c]) - Int(source.pixels[s + c])
                        out.pixels[d + panel * 3 + c] = UInt8(clamping: 128 + gain * diff)
                    }
                }
            }
        }
        let png = try ImageEncoder(format: .png).encode(out)
        try png.write(to: URL(fileURLWithPath: output))
    }
}

/// Reads marked files at the known geometry and prints the margin: sync z and the coded bits' SNR (how far
/// from decoding a file is; used to choose the layout and the mask).
struct Diagnose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "For files marked with --payload and only re-encoded or uniformly resized: sync z and coded-bit SNR.")
    @Argument(help: "Videos.") var files: [String]
    @Option(help: "The payload they were marked with.") var payload: String = "5eed1e55"
    @Option(help: "Their bit layout (default: the current one).") var scheme: String = WatermarkScheme.current.rawValue
    @Option(help: "Stop after this many frames per file.") var maxFrames: Int = 60
    @OptionGroup var tuning: DetectorTuning
    @Option(help: "The unmarked original of the (single) file: split the soft bits into picture and mark.") var reference: String?
    @Flag(help: "Also print the coded bits' soft values times their signs (positive: read right), comma-separated.") var printSoft = false
    func run() throws {
        for file in files {
            var settings = WatermarkDetector.Settings(relativeCellSizes: 1...1, searchMirrored: false)
            settings.maxFrames = maxFrames
            tuning.apply(to: &settings)
            let detector = WatermarkDetector(settings: settings)
            let reader = try VideoReader(url: URL(fileURLWithPath: file))
            let converter = FrameConverter()
            while !detector.isFull, let frame = try reader.nextFrame() { detector.add(try converter.rgb(frame)) }
            guard let value = WatermarkPayload(hexPrefix: payload) else { throw ValidationError("--payload must be 8 hex digits") }
            guard let layout = WatermarkScheme(rawValue: scheme) else { throw ValidationError("unknown --scheme \(scheme)") }
            let d = detector.diagnose(payload: value, scheme: layout)
            print(URL(fileURLWithPath: file).lastPathComponent, String(format: "syncZ %.2f bitSNR %.2f", d.syncZ, d.codedBitSNR))
            if printSoft { print("  soft:", detector.signedSoftBits(payload: value, scheme: layout).map { String(format: "%.4f", $0) }.joined(separator: ",")) }
            if let reference {
                let host = WatermarkDetector(settings: settings)
                let hostReader = try VideoReader(url: URL(fileURLWithPath: reference))
                while !host.isFull, let frame = try hostReader.nextFrame() { host.add(try converter.rgb(frame)) }
                let marked = detector.signedSoftBits(payload: value, scheme: layout), picture = host.signedSoftBits(payload: value, scheme: layout)
                let response = zip(marked, picture).map { $0 - $1 }
                func stats(_ v: [Double]) -> String {
                    let m = v.reduce(0, +) / Double(v.count)
                    let sd = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
                    return String(format: "mean %.3f sd %.3f wrong %d", m, sd, v.filter { $0 <= 0 }.count)
                }
                print("  marked:", stats(marked)); print("  picture:", stats(picture)); print("  mark alone:", stats(response))
                var one = settings; one.maxFrames = 1
                let first = WatermarkDetector(settings: one)
                let firstReader = try VideoReader(url: URL(fileURLWithPath: reference))
                if let frame = try firstReader.nextFrame() { first.add(try converter.rgb(frame)) }
                let f = first.signedSoftBits(payload: value, scheme: layout)
                let mf = f.reduce(0, +) / Double(f.count), mp = picture.reduce(0, +) / Double(picture.count)
                var sab = 0.0, saa = 0.0, sbb = 0.0
                for (a, b) in zip(f, picture) { sab += (a - mf) * (b - mp); saa += (a - mf) * (a - mf); sbb += (b - mp) * (b - mp) }
                print("  picture, first frame:", stats(f), String(format: "correlation with the clip's %.3f", sab / (saa * sbb).squareRoot()))
            }
        }
    }
}

/// Times `WatermarkEmbedder.embed` beside its scalar reference twin on the same decoded frames, alternating
/// rounds, and checks that both write the same bytes.
struct EmbedSpeed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed-speed", abstract: "Time the embedder (vectorised and scalar reference) on a clip's frames; print JSON.")
    @Argument(help: "A video.") var video: String
    @Option(help: "Frames to decode and mark.") var frames: Int = 120
    @Option(help: "Rounds over the frames, alternating the two implementations.") var rounds: Int = 5

    struct Report: Codable {
        var video: String, width: Int, height: Int, frames: Int, rounds: Int
        var embedMillisecondsPerFrame: Double, referenceMillisecondsPerFrame: Double, speedup: Double, identical: Bool
        /// `embed(into:boostFrom:)` as swap calls it (the boost measured on the frame as decoded).
        var embedBoostFromInputMillisecondsPerFrame: Double
    }

    func run() throws {
        let reader = try VideoReader(url: URL(fileURLWithPath: video))
        let converter = FrameConverter()
        var images: [RGBImage] = []
        while images.count < frames, let frame = try reader.nextFrame() { images.append(try converter.rgb(frame)) }
        guard let first = images.first else { throw ValidationError("\(video): no frames") }
        let embedder = WatermarkEmbedder(payload: WatermarkPayload(0x5eed1e55))
        var warm = first
        embedder.embed(into: &warm)  // builds the cached pattern
        var fast: [Double] = [], reference: [Double] = [], boostFrom: [Double] = []
        var identical = true
        for _ in 0..<max(1, rounds) {
            var a = images, b = images, c = images
            // Copy the pixels now (copy-on-write), not inside the timed loops: swap marks frames it owns.
            for i in a.indices {
                a[i].pixels.withUnsafeMutableBufferPointer { _ in }
                b[i].pixels.withUnsafeMutableBufferPointer { _ in }
                c[i].pixels.withUnsafeMutableBufferPointer { _ in }
            }
            var t0 = Date()
            for i in a.indices { embedder.embed(into: &a[i]) }
            fast.append(Date().timeIntervalSince(t0))
            t0 = Date()
            for i in c.indices { embedder.embed(into: &c[i], boostFrom: images[i]) }
            boostFrom.append(Date().timeIntervalSince(t0))
            if a != c { identical = false }
            t0 = Date()
            for i in b.indices { embedder.embedReference(into: &b[i]) }
            reference.append(Date().timeIntervalSince(t0))
            if a != b { identical = false }
        }
        // The best round of each (the least disturbed by other work on the machine).
        let n = Double(images.count)
        let f = 1000 * (fast.min() ?? 0) / n, r = 1000 * (reference.min() ?? 0) / n
        let report = Report(video: video, width: first.width, height: first.height, frames: images.count, rounds: rounds,
                            embedMillisecondsPerFrame: f, referenceMillisecondsPerFrame: r, speedup: f > 0 ? r / f : 0,
                            identical: identical, embedBoostFromInputMillisecondsPerFrame: 1000 * (boostFrom.min() ?? 0) / n)
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}

/// Stills: each image marked the nominal way (the video embedder on one frame) and the informed way
/// (`StillWatermark`, what `swap` writes for images), each checked as it is and after JPEG re-encodes and a
/// half-size downscale; one JSON line per image, then a summary line.
struct Stills: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Nominal vs informed marking of still images: detection and PSNR, as JSON lines.")
    @Argument(help: "Images (a folder: its images).") var inputs: [String]
    @Option(help: "The payload to mark.") var payload: String = "5eed1e55"
    func run() throws {
        guard let value = WatermarkPayload(hexPrefix: payload) else { throw ValidationError("--payload must be 8 hex digits") }
        var files: [URL] = []
        for unit in try InputUnit.expand(inputs.map { URL(fileURLWithPath: $0) }) {
            if case .images(_, let list) = unit { files += list }
        }
        let q75 = try ImageEncoder(format: .jpeg, quality: 75), q90 = try ImageEncoder(format: .jpeg, quality: 90)
        let attacks = ["none", "jpeg90", "jpeg75", "half"]
        var totals = [String: Int]()
        for file in files {
            let original = try ImageDecoder.decode(fileAt: file)
            var nominal = original, informed = original
            WatermarkEmbedder(payload: value).embed(into: &nominal)
            StillWatermark.embed(into: &informed, payload: value)
            var row: [String: Any] = ["file": file.lastPathComponent, "width": original.width, "height": original.height,
                                      "psnrNominal": psnr(original, nominal), "psnrInformed": psnr(original, informed)]
            for (way, image) in [("nominal", nominal), ("informed", informed)] {
                for attack in attacks {
                    let copy: RGBImage
                    switch attack {
                    case "jpeg90": copy = try ImageDecoder.decode(try q90.encode(image), path: "q90.jpg")
                    case "jpeg75": copy = try ImageDecoder.decode(try q75.encode(image), path: "q75.jpg")
                    case "half": copy = try ImageDecoder.decode(try q90.encode(FaceWarp.resized(image, width: max(16, image.width / 2), height: max(16, image.height / 2))), path: "half.jpg")
                    default: copy = image
                    }
                    let detector = WatermarkDetector()
                    detector.add(copy)
                    let result = detector.result()
                    let right = result.detected && result.payload == value
                    row["\(way)-\(attack)"] = right
                    totals["\(way)-\(attack)", default: 0] += right ? 1 : 0
                    if let read = result.payload, read != value { totals["wrong payload", default: 0] += 1 }
                }
            }
            let data = try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        var summary: [String: Any] = ["images": files.count]
        for (k, v) in totals { summary[k] = v }
        print(String(decoding: try JSONSerialization.data(withJSONObject: ["summary": summary], options: [.sortedKeys]), as: UTF8.self))
    }
}
