import FacetCore
import Foundation

/// One frame from a `PrefetchingReader`: the decoder's time stamps and damage flag, and the picture as RGB.
public struct DecodedFrame: @unchecked Sendable {
    /// Position in decode order (0 for the first frame the reader returned).
    public let index: Int
    /// Presentation time stamp in the stream's time base, and in seconds from the stream's start.
    public let pts: Int64
    public let seconds: Double
    /// True when the decoder flagged the frame as damaged (concealed errors).
    public let isCorrupt: Bool
    /// The frame as RGB24 at its displayed size and orientation; nil when the caller did not ask for this
    /// frame's picture or it could not be converted.
    public let image: RGBImage?
}

/// Decodes a `VideoReader`'s frames and converts them to RGB on a thread of its own, at most `depth` frames
/// ahead of the caller, so that decoding overlaps with the caller's work (on 2 cores the decoder otherwise
/// leaves the other core idle while the caller waits for each frame).
///
/// The pictures, their order and the damage reported are the reader's own: the same single decoder runs, only
/// on another thread. Memory holds at most `depth` decoded frames. The reader belongs to this object's thread
/// from `init` on; the caller uses only `next()` and `damage`.
public final class PrefetchingReader: @unchecked Sendable {
    /// State shared by the caller and the decoding thread, guarded by `condition`.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var queue: [DecodedFrame] = []
        var finished = false
        var cancelled = false
        var error: Error?
        var damage: [String] = []
    }

    private let shared = Shared()

    /// Frames to decode ahead for `reader`: `wanted` (at least 1), fewer for large frames so that the decoded frames
    /// waiting stay under `budgetBytes` of RGB, but never fewer than 2 for that (one being used, one decoded behind it).
    public static func depth(for reader: VideoReader, wanted: Int, budgetBytes: Int = 64 << 20) -> Int {
        let frameBytes = max(1, reader.info.displayWidth * reader.info.displayHeight * 3)
        return min(max(1, wanted), max(2, budgetBytes / frameBytes))
    }

    /// Starts decoding at once, up to `depth` frames ahead (fewer for large frames: `depth(for:wanted:)`).
    /// `wantsImage(index, isCorrupt)` says for each frame (by decode position) whether to convert it to RGB; frames
    /// it declines come back with `image == nil` and cost only their decoding.
    public init(_ reader: VideoReader, depth: Int = 8, wantsImage: @escaping @Sendable (Int, Bool) -> Bool = { _, _ in true }) {
        let shared = self.shared, depth = Self.depth(for: reader, wanted: depth)
        // The reader and converter move to the thread; nothing else touches them.
        nonisolated(unsafe) let reader = reader
        let thread = Thread {
            let converter = FrameConverter()
            var index = 0
            while true {
                shared.condition.lock()
                while shared.queue.count >= depth && !shared.cancelled { shared.condition.wait() }
                let stop = shared.cancelled
                shared.condition.unlock()
                if stop { break }
                // One frame, the end of the stream, or the reader's error (handed over after the frames before it).
                var item: DecodedFrame?
                var failure: Error?
                do {
                    if let frame = try reader.nextFrame() {
                        let image = wantsImage(index, frame.isCorrupt) ? try? converter.rgb(frame) : nil
                        item = DecodedFrame(index: index, pts: frame.pts, seconds: frame.seconds, isCorrupt: frame.isCorrupt, image: image)
                        index += 1
                    }
                } catch {
                    failure = error
                }
                shared.condition.lock()
                if let item {
                    shared.queue.append(item)
                } else {
                    shared.finished = true
                    shared.error = failure
                    shared.damage = reader.damage
                }
                shared.condition.broadcast()
                shared.condition.unlock()
                if item == nil { break }
            }
        }
        thread.name = "facet.decode"
        thread.start()
    }

    deinit {
        shared.condition.lock()
        shared.cancelled = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// The next frame in decode order, nil at the end of the stream; rethrows the reader's error (after the
    /// frames decoded before it).
    public func next() throws -> DecodedFrame? {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        while shared.queue.isEmpty && !shared.finished { shared.condition.wait() }
        if !shared.queue.isEmpty {
            let item = shared.queue.removeFirst()  // at most `depth` frames: a short move
            shared.condition.broadcast()
            return item
        }
        if let error = shared.error { shared.error = nil; throw error }
        return nil
    }

    /// Descriptions of damage met by the reader; complete once `next()` has returned nil.
    public var damage: [String] {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        return shared.damage
    }
}
