import FacetCore
import Foundation

/// Hands frames to a `VideoWriter` running on a thread of its own, so that the RGB → YUV conversion and the
/// encoder's work on one frame overlap with the caller's work on the next (on 2 cores the caller otherwise
/// waits in `write` for the encoder, and its own stages leave the encoder's cores idle).
///
/// The file is the writer's own, byte for byte: the same frames reach the same writer in the same order, only on
/// another thread. At most `depth` frames wait. A write error is handed back by the next `write` or by `finish`;
/// the frames queued behind it are dropped. Dropping the object without `finish()` stops the thread and drops the
/// writer, which removes its temporary file (see `VideoWriter`). The writer belongs to this object's thread from
/// `init` on; the caller uses only `write` and `finish`.
public final class BackgroundVideoWriter: @unchecked Sendable {
    /// One frame on its way: the picture and its time stamp in the writer's time base.
    private struct Job: @unchecked Sendable {
        let image: RGBImage
        let pts: Int64
    }

    /// State shared by the caller and the writing thread, guarded by `condition`.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var queue: [Job] = []
        /// The caller asked to finish (no more frames) or dropped the object (`cancelled`).
        var closing = false
        var cancelled = false
        /// The thread has stopped: after finishing the file, after an error, or when cancelled.
        var stopped = false
        var error: Error?
    }

    private let shared = Shared()

    /// Frames to keep waiting for a video of `width` × `height`: `wanted`, fewer for large frames so that the
    /// waiting frames stay under `budgetBytes` of RGB, but never fewer than 1.
    public static func depth(width: Int, height: Int, wanted: Int = 4, budgetBytes: Int = 64 << 20) -> Int {
        min(max(1, wanted), max(1, budgetBytes / max(1, width * height * 3)))
    }

    /// Starts the thread; `writer` must not be used by anyone else from here on.
    public init(_ writer: VideoWriter, depth: Int? = nil) {
        self.depth = max(1, depth ?? Self.depth(width: writer.options.width, height: writer.options.height))
        self.path = writer.url.path
        let shared = self.shared
        nonisolated(unsafe) var writer: VideoWriter? = writer
        let thread = Thread {
            while true {
                shared.condition.lock()
                while shared.queue.isEmpty && !shared.closing { shared.condition.wait() }
                let job = shared.queue.isEmpty ? nil : shared.queue.removeFirst()
                let cancelled = shared.cancelled
                shared.condition.broadcast()
                shared.condition.unlock()
                var failure: Error?
                if !cancelled, let job {
                    do { try writer?.write(job.image, pts: job.pts) } catch { failure = error }
                    if failure == nil { continue }
                } else if !cancelled {
                    do { try writer?.finish() } catch { failure = error }
                }
                writer = nil  // finished, failed or cancelled: an unfinished writer removes its temporary file
                shared.condition.lock()
                shared.error = shared.error ?? failure
                shared.queue.removeAll()
                shared.stopped = true
                shared.condition.broadcast()
                shared.condition.unlock()
                return
            }
        }
        thread.name = "facet.encode"
        thread.start()
    }

    /// Frames that may wait (see `depth(width:height:)`).
    public let depth: Int
    /// The video's path, for errors.
    private let path: String

    deinit {
        shared.condition.lock()
        if !shared.stopped { shared.cancelled = true; shared.closing = true }
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// Queues one frame with its time stamp in the writer's time base (as `VideoWriter.write(_:pts:)`); waits
    /// while `depth` frames are queued. Throws the writer's error if an earlier frame failed.
    public func write(_ image: RGBImage, pts: Int64) throws {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        while shared.queue.count >= depth && !shared.stopped { shared.condition.wait() }
        if let error = shared.error { throw error }
        guard !shared.stopped, !shared.closing else {
            throw MediaError.ffmpeg(path: path, operation: "writing a frame", code: -22, message: "the video was already finished")
        }
        shared.queue.append(Job(image: image, pts: pts))
        shared.condition.broadcast()
    }

    /// Writes the queued frames, finishes the file (`VideoWriter.finish()`) and waits for it; throws the first
    /// error met. Calling it again returns at once (with that error, if there was one).
    public func finish() throws {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        shared.closing = true
        shared.condition.broadcast()
        while !shared.stopped { shared.condition.wait() }
        if let error = shared.error { throw error }
    }
}
