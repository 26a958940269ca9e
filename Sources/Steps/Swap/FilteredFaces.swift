import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Models

/// A faces manifest already filtered to one person (`identify label --target NAME`) as swap input: its faces
/// are swapped as listed (no re-labelling), every other face of the video is left alone.
enum FilteredFaces {
    /// A faces manifest read once: the video its faces come from, and its faces grouped by frame (keyed by the
    /// stream's own time stamps until `align` places them).
    struct Loaded {
        var video: URL
        var frames: [AnalysedFrame]
    }

    /// Reads the manifest (once per swap: a long video's manifest runs to hundreds of megabytes) and checks it.
    /// Refuses a manifest framed differently from the model.
    static func load(_ url: URL, framing: ModelFraming) throws -> Loaded {
        let manifest = try ManifestIO.read(FacesManifest.self, from: url)
        guard manifest.cropSize == framing.cropSize, manifest.centering == framing.centering.rawValue else {
            throw SwapError.framingMismatch(path: url.path, reason: "its faces are \(manifest.cropSize) px crops with '\(manifest.centering)' " +
                "centering, the model was trained on \(framing.cropSize) px '\(framing.centering.rawValue)' crops; " +
                "run detect with --size \(framing.cropSize) --centering \(framing.centering.rawValue), or give the video itself")
        }
        let video = try sourceVideo(of: manifest, at: url)
        var byPTS: [Int64: [AnalysedFace]] = [:]
        for item in manifest.items {
            guard item.landmarks68.count == 136, item.points5.count == 10 else {
                throw SwapError.badFacesManifest(path: url.path, reason: "face \(item.id) has \(item.landmarks68.count / 2) landmarks, expected 68")
            }
            let points = (0..<68).map { SIMD2(Double(item.landmarks68[2 * $0]), Double(item.landmarks68[2 * $0 + 1])) }
            let five = (0..<5).map { SIMD2(Double(item.points5[2 * $0]), Double(item.points5[2 * $0 + 1])) }
            let detection = FaceDetection(x: item.box.x, y: item.box.y, width: item.box.width, height: item.box.height, score: item.score, keypoints: [])
            var face = AnalysedFace(detection: detection, landmarks68: points, points5: five, track: Int(clamping: item.track),
                                    faceSize: item.faceSize, descriptor: nil)
            face.identity = manifest.tool.parameters["target"].flatMap { if case .string(let s) = $0 { return s } else { return nil } }
            face.swap = true
            face.reason = "target"
            byPTS[item.pts, default: []].append(face)
        }
        return Loaded(video: video,
                      frames: byPTS.keys.sorted().map { AnalysedFrame(index: -1, pts: $0, seconds: 0, damaged: false, faces: byPTS[$0] ?? []) })
    }

    private static func sourceVideo(of manifest: FacesManifest, at url: URL) throws -> URL {
        let videos = Set(manifest.items.map(\.input))
        guard videos.count == 1, let input = videos.first, manifest.inputs.indices.contains(input), manifest.inputs[input].kind == "video" else {
            throw SwapError.badFacesManifest(path: url.path, reason: "swap takes a faces manifest of exactly one video (\(videos.count) inputs with faces); " +
                "give the video itself, or filter one video's faces with identify label --target")
        }
        guard manifest.items.allSatisfy({ $0.frame == nil }) else {
            throw SwapError.badFacesManifest(path: url.path, reason: "its faces come from extracted frame files; run detect on the video itself for swap")
        }
        return ManifestIO.resolve(manifest.inputs[input].path, relativeToManifest: url)
    }

    /// Every frame of `video` in decode order, with the given faces placed on the frames whose stream time
    /// stamps they carry.
    static func align(_ given: [AnalysedFrame], video: URL, maxPixels: Int) throws -> [AnalysedFrame] {
        let byPTS = Dictionary(given.map { ($0.pts, $0.faces) }, uniquingKeysWith: { a, _ in a })
        let reader = try VideoReader(url: video, options: VideoReaderOptions.reproducible(maxPixels: maxPixels))
        var frames: [AnalysedFrame] = []
        while let frame = try reader.nextFrame() {
            frames.append(AnalysedFrame(index: frames.count, pts: frame.pts, seconds: frame.seconds, damaged: frame.isCorrupt,
                                        faces: byPTS[frame.pts] ?? []))
        }
        return frames
    }
}

/// The `--preview` contact sheet: one row per sample frame, input | output side by side, 360 px per image.
enum SwapPreview {
    static func write(_ pairs: [(RGBImage, RGBImage)], to url: URL) throws {
        guard let first = pairs.first?.0, first.width > 0, first.height > 0 else { return }
        let w = 360, h = max(2, Int((Double(first.height) * 360 / Double(first.width)).rounded())), gap = 4
        var sheet = RGBImage(width: 2 * w + 3 * gap, height: pairs.count * (h + gap) + gap, fill: (24, 24, 24))
        for (row, pair) in pairs.enumerated() {
            for (column, image) in [pair.0, pair.1].enumerated() {
                let small = FaceWarp.resized(image, width: w, height: h)
                let x0 = gap + column * (w + gap), y0 = gap + row * (h + gap)
                for y in 0..<h {
                    let src = y * w * 3, dst = ((y0 + y) * sheet.width + x0) * 3
                    sheet.pixels.replaceSubrange(dst..<(dst + w * 3), with: small.pixels[src..<(src + w * 3)])
                }
            }
        }
        try AtomicFile.write(try ImageEncoder(format: .png).encode(sheet), to: url)
    }
}
