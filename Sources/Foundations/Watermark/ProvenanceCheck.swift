import FacetCore
import Foundation
import Media

/// What `ProvenanceCheck.check` found in one file (the JSON `score provenance --json` prints).
public struct ProvenanceReport: Codable, Sendable, Equatable {
    /// The file checked, as given.
    public var file: String
    /// `video` or `image`.
    public var kind: String
    /// Whether Facet's watermark is in the pixels (see `WatermarkDetection`).
    public var detected: Bool
    /// The 32-bit payload as 8 hex digits (the swap run's provenance hash prefix), when readable.
    public var payload: WatermarkPayload?
    /// Probability that an unmarked file scores this high (Bonferroni-corrected); small means confident.
    public var falsePositiveProbability: Double
    public var zScore: Double
    public var framesUsed: Int
    /// True when the mark was found in the mirrored picture (the file was flipped horizontally).
    public var flipped: Bool
    /// The bit layout the payload was read with (e.g. `facet-ss-luma-3`), when a payload was read.
    public var scheme: String?
    /// When a payload was read, the chance that it is a wrong message whose CRC happened to check
    /// (`WatermarkDetection.payloadErrorBound`).
    public var payloadErrorBound: Double?
    /// The container's synthetic-media label: its `facet_synthetic` tag, else its `comment` tag; nil if neither.
    public var containerLabel: String?
    /// All container metadata tags (videos only; nil when there are none).
    public var containerMetadata: [String: String]?
    /// The provenance sidecar `<file>.provenance.json` when it exists beside the file.
    public var sidecar: String?

    /// The exit code a checking tool ends with: 0 when the watermark was found, 3 (`notFound`) when not.
    public var exitStatus: ExitStatus { detected ? .ok : .notFound }
}

/// Checks a video or image for Facet's provenance: the watermark in its pixels (blind), the container's
/// label and the sidecar file. `score provenance` is a thin call to `check(url:)`.
public enum ProvenanceCheck {
    /// Video file extensions a folder is searched for (besides the images `ImageFormat` reads).
    public static let videoExtensions: Set<String> = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "m2ts", "flv",
                                                      "3gp", "ogv", "wmv", "asf"]

    /// The files to check for `paths`: a file as it is, a folder as its images and videos in name order (not its
    /// subfolders, hidden files or sidecars). A missing path, or a folder with no media, is an error naming it.
    public static func files(_ paths: [URL]) throws -> [URL] {
        var out: [URL] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else { throw MediaError.missing(path: path.path) }
            guard isDirectory.boolValue else { out.append(path); continue }
            let media = try InputUnit.folderEntries(path) { ImageFormat(fileExtension: $0) != nil || videoExtensions.contains($0) }
            guard !media.isEmpty else { throw FileError.unreadable(path: path.path, reason: "folder holds no images or videos") }
            out += media
        }
        return out
    }

    /// Video frames taller than this are scaled down by the decoder's converter (keeping their shape) before
    /// detection; the mark scales with the picture, so this only saves time. Stills are used at their size.
    public static let workingHeight = 540

    /// Decodes `url` (image: PNG, JPEG, WebP, BMP by signature; anything else as a video), runs the detector
    /// over its frames and reads its metadata and sidecar.
    /// Throws `MediaError`: `.missing` (exit 66), or 65 for an empty, damaged or non-media file.
    public static func check(url: URL, key: WatermarkKey = .facet,
                             settings: WatermarkDetector.Settings = WatermarkDetector.Settings()) throws -> ProvenanceReport {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw MediaError.missing(path: path) }
        let detector = WatermarkDetector(key: key, settings: settings)
        var kind = "video"
        var metadata: [String: String]?
        if isImage(url) {
            kind = "image"
            detector.add(try ImageDecoder.decode(fileAt: url))
        } else {
            let reader = try VideoReader(url: url)
            metadata = reader.info.metadata
            let converter = FrameConverter()
            let (w, h) = workingSize(width: reader.info.displayWidth, height: reader.info.displayHeight)
            while !detector.isFull, let frame = try reader.nextFrame() {
                detector.add(try converter.rgb(frame, width: w, height: h))
            }
            if detector.framesUsed == 0 {
                throw MediaError.undecodable(path: path, reason: reader.damage.first ?? "the video has no frames")
            }
        }
        let found = detector.result()
        let sidecarPath = path + ".provenance.json"
        // Matroska stores tag names upper case (FACET_SYNTHETIC), MP4 and MOV as written.
        let tag = { (name: String) in metadata?.first { $0.key.lowercased() == name }?.value }
        return ProvenanceReport(
            file: path, kind: kind, detected: found.detected, payload: found.payload,
            falsePositiveProbability: found.falsePositiveProbability, zScore: found.zScore,
            framesUsed: found.framesUsed, flipped: found.flipped, scheme: found.scheme,
            payloadErrorBound: found.payloadErrorBound,
            containerLabel: tag("facet_synthetic") ?? tag("comment"),
            containerMetadata: metadata,
            sidecar: FileManager.default.fileExists(atPath: sidecarPath) ? sidecarPath : nil)
    }

    /// True when the file starts with an image signature Media decodes.
    static func isImage(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 64)) ?? Data()
        return ImageFormat(signature: head) != nil
    }

    static func workingSize(width: Int, height: Int) -> (Int, Int) {
        guard height > workingHeight else { return (width, height) }
        let w = Int((Double(width) * Double(workingHeight) / Double(height) / 2).rounded()) * 2
        return (max(2, w), workingHeight)
    }
}
