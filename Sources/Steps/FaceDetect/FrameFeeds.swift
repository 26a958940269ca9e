import FacetCore
import Faces
import Foundation
import Manifest
import Media

/// What `detect` analyses, one unit at a time: a video decoded on the fly, a set of image files, or the
/// frames of one input of a frames manifest.
enum DetectUnit {
    case video(URL)
    case images(root: URL, files: [URL])
    /// The frames of `manifest`'s input number `input`.
    case frames(manifest: URL, input: Int, file: InputFile, items: [FrameItem])

    /// A short name for output folders.
    var stem: String {
        switch self {
        case .video(let url): return InputUnit.video(url).stem
        case .images(let root, let files): return InputUnit.images(root: root, files: files).stem
        case .frames(let manifest, _, let file, _):
            let name = ManifestIO.resolve(file.path, relativeToManifest: manifest).deletingPathExtension().lastPathComponent
            return name.isEmpty ? "input" : name
        }
    }

    /// True when the frames are stills (image files) rather than video frames.
    var isStills: Bool {
        switch self {
        case .video: return false
        case .images: return true
        case .frames(_, _, let file, _): return file.kind == "images"
        }
    }

    /// Splits inputs into units: `.json` files are read as frames manifests (one unit per input they
    /// list), folders and image files become image sets, anything else is a video.
    static func expand(_ input: URL, warn: (String) -> Void = { _ in }) throws -> [DetectUnit] {
        if input.pathExtension.lowercased() == "json" {
            let manifest = try ManifestIO.read(FramesManifest.self, from: input)
            return manifest.inputs.enumerated().map { index, file in
                .frames(manifest: input, input: index, file: file, items: manifest.items.filter { $0.input == index })
            }
        }
        return try InputUnit.expand([input], warn: warn).map { unit in
            switch unit {
            case .video(let url): return .video(url)
            case .images(let root, let files): return .images(root: root, files: files)
            }
        }
    }
}

/// One frame to analyse.
struct FeedFrame {
    /// Position among the unit's selected frames (this shard's), from 0.
    let sequence: Int
    let frameNumber: Int
    let pts: Int64
    let seconds: Double
    /// The image file, for frames read from files.
    let file: URL?
    /// The decoded frame (video), or nil when it is read from `file` on demand.
    let decoded: RGBImage?
}

/// Frames of one unit in analysis order.
protocol FrameFeed {
    /// Frames this feed expects to give, when known (for progress).
    var expectedCount: Int? { get }
    /// Damage met so far that did not stop the feed.
    var damage: [String] { get }
    /// Milliseconds spent decoding so far.
    var decodeMilliseconds: Double { get }
    mutating func next() throws -> FeedFrame?
    /// The frame's pixels (decoding its file if needed).
    mutating func image(of frame: FeedFrame) throws -> RGBImage
}

/// A video decoded on the fly, frames picked by `--every`, `--max-frames` and the shard's time span.
struct VideoFeed: FrameFeed {
    let url: URL
    let reader: VideoReader
    var selector: FrameSelector
    let converter = FrameConverter()
    var decodeMilliseconds = 0.0
    var expectedCount: Int? { reader.info.frameCount }
    var damage: [String] { reader.damage }

    init(url: URL, reader: VideoReader, every: Int?, maxFrames: Int?, shardIndex: Int, shardCount: Int) throws {
        self.url = url
        self.reader = reader
        selector = FrameSelector(frameRate: reader.info.frameRate, duration: reader.info.durationSeconds, start: nil, end: nil,
                                 every: every, fps: nil, maxFrames: maxFrames, shardIndex: shardIndex, shardCount: shardCount)
        if !selector.isEmpty, selector.windowStart > 0 { try reader.seek(toSeconds: selector.windowStart) }
    }

    mutating func next() throws -> FeedFrame? {
        guard !selector.isEmpty else { return nil }
        while true {
            let start = DispatchTime.now()
            guard let frame = try reader.nextFrame() else { return nil }
            switch selector.decide(seconds: frame.seconds) {
            case .stop: return nil
            case .skip:
                decodeMilliseconds += milliseconds(since: start)
                continue
            case .keep(let number):
                let image = try converter.rgb(frame)
                decodeMilliseconds += milliseconds(since: start)
                return FeedFrame(sequence: selector.kept - 1, frameNumber: number, pts: frame.pts, seconds: frame.seconds, file: nil,
                                 decoded: image)
            }
        }
    }

    mutating func image(of frame: FeedFrame) throws -> RGBImage {
        guard let image = frame.decoded else { throw MediaError.undecodable(path: url.path, reason: "frame \(frame.frameNumber) was not kept") }
        return image
    }
}

/// Image files (a folder, or the frames of a frames manifest), decoded when asked for. Shard K of N takes
/// the K-th of N contiguous runs of the list, so tracks stay whole within a shard.
struct FileListFeed: FrameFeed {
    struct Entry {
        let file: URL
        let frameNumber: Int
        let pts: Int64
        let seconds: Double
    }

    let entries: [Entry]
    let maxPixels: Int
    var position = 0
    var damage: [String] = []
    var decodeMilliseconds = 0.0
    var expectedCount: Int? { entries.count }

    init(entries all: [Entry], maxFrames: Int?, maxPixels: Int, shardIndex: Int, shardCount: Int) {
        let lower = (shardIndex - 1) * all.count / shardCount, upper = shardIndex * all.count / shardCount
        entries = Array(all[lower..<upper].prefix(maxFrames ?? Int.max))
        self.maxPixels = maxPixels
    }

    mutating func next() throws -> FeedFrame? {
        guard position < entries.count else { return nil }
        let entry = entries[position]
        position += 1
        return FeedFrame(sequence: position - 1, frameNumber: entry.frameNumber, pts: entry.pts, seconds: entry.seconds, file: entry.file,
                         decoded: nil)
    }

    mutating func image(of frame: FeedFrame) throws -> RGBImage {
        if let decoded = frame.decoded { return decoded }
        guard let file = frame.file else { throw MediaError.missing(path: "frame \(frame.frameNumber)") }
        let start = DispatchTime.now()
        defer { decodeMilliseconds += milliseconds(since: start) }
        return try ImageDecoder.decode(fileAt: file, maxPixels: maxPixels)
    }
}

func thumbnail(_ image: RGBImage) -> [Float] { FaceTracker.thumbnail(image) }
