import FacetCore
import Foundation

/// A frame to encode and write.
public struct EncodeJob: @unchecked Sendable {
    public enum Pixels {
        case frame(VideoFrame)
        case image(RGBImage)
        /// Already-encoded bytes to copy as they are (an imported image in the output format).
        case encoded(Data, width: Int, height: Int)
    }

    let pixels: Pixels
    /// Absolute destination.
    let destination: URL
    /// Destination relative to the workspace (the catalog's form).
    let relativePath: String
    let frameNumber: Int
    let pts: Int64
    let seconds: Double

    public init(pixels: Pixels, destination: URL, relativePath: String, frameNumber: Int = 0, pts: Int64 = 0, seconds: Double = 0) {
        self.pixels = pixels; self.destination = destination; self.relativePath = relativePath
        self.frameNumber = frameNumber; self.pts = pts; self.seconds = seconds
    }
}

/// A frame written to disk.
public struct EncodedFrame: Sendable {
    public let relativePath: String
    public let frameNumber: Int
    public let pts: Int64
    public let seconds: Double
    public let width: Int
    public let height: Int
    public let bytes: Int64
    public let sha256: String
}

/// Encodes, hashes and writes frames on worker threads while the caller keeps decoding. At most
/// `maxInFlight` frames are held at once, so memory stays flat however long the video is.
public final class EncodePipeline: @unchecked Sendable {
    private let format: ImageFormat
    private let quality: Int
    private let queue = DispatchQueue(label: "facet.encode", attributes: .concurrent)
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var idleEncoders: [(ImageEncoder, FrameConverter)] = []
    private var completed: [EncodedFrame] = []
    private var firstError: Error?
    private var busyTotal = 0.0   // milliseconds

    /// CPU milliseconds the workers have spent encoding and writing, summed over workers (not wall time:
    /// they run in the idle scheduling class and wait while the caller's work has the cores).
    public var busyMilliseconds: Double {
        lock.lock(); defer { lock.unlock() }
        return busyTotal
    }

    public init(format: ImageFormat, quality: Int, workers: Int) {
        self.format = format
        self.quality = quality
        let count = workers > 0 ? workers : ProcessInfo.processInfo.activeProcessorCount
        slots = DispatchSemaphore(value: max(count, 1) * 2)
    }

    /// Queues a job; blocks while too many are in flight. Throws the first worker error, if any (after
    /// the jobs still running have finished, so no write is left half done behind the error).
    public func submit(_ job: EncodeJob) throws {
        if failed {
            group.wait()
            try rethrowFailure()
        }
        slots.wait()
        group.enter()
        queue.async { [self] in
            defer { slots.signal(); group.leave() }
            Self.lowerThreadPriority()
            do {
                let start = threadCPUMilliseconds()
                let done = try perform(job)
                let spent = threadCPUMilliseconds() - start
                lock.lock(); completed.append(done); busyTotal += spent; lock.unlock()
            } catch {
                lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
            }
        }
    }

    /// Encoding runs in Linux's idle scheduling class (`SCHED_IDLE`): when the caller's own work (e.g. `detect`'s
    /// networks, whose layers are split between the caller and a pool worker) wants a core, it gets it at once, and
    /// encoding fills the gaps (and the time the caller spends blocked in `submit` when encoding falls behind). At
    /// nice 10, as before, a pool worker woken for a layer could wait for an encoder's time slice to end, stalling
    /// both cores at the layer's end: one frame at a time, `detect`'s detect + mesh + align took 7% longer (d14.mp4,
    /// six alternating runs). Best effort: if the class cannot be set, encoding runs at nice 10.
    static func lowerThreadPriority() {
        #if os(Linux)
        var parameters = sched_param()
        parameters.sched_priority = 0
        if pthread_setschedparam(pthread_self(), linuxSchedIdle, &parameters) != 0 {
            // On Linux, nice values belong to threads: `who` 0 is the calling thread only.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        }
        #endif
    }

    /// `SCHED_IDLE` from <sched.h> (glibc defines it only under `_GNU_SOURCE`, so Swift does not see it).
    static let linuxSchedIdle: Int32 = 5

    /// Frames finished since the last call.
    public func takeCompleted() -> [EncodedFrame] {
        lock.lock(); defer { lock.unlock() }
        let out = completed
        completed.removeAll(keepingCapacity: true)
        return out
    }

    /// Waits for every queued job; throws the first worker error, if any.
    public func waitAll() throws {
        group.wait()
        try rethrowFailure()
    }

    /// Waits for every queued job, ignoring their errors (used when the caller is already failing).
    public func drain() {
        group.wait()
    }

    private var failed: Bool {
        lock.lock(); defer { lock.unlock() }
        return firstError != nil
    }

    private func rethrowFailure() throws {
        lock.lock(); let error = firstError; lock.unlock()
        if let error { throw error }
    }

    private func perform(_ job: EncodeJob) throws -> EncodedFrame {
        let data: Data
        let width: Int, height: Int
        switch job.pixels {
        case .encoded(let bytes, let w, let h):
            data = bytes; width = w; height = h
        case .image(let image):
            data = try withEncoder { encoder, _ in try encoder.encode(image) }
            width = image.width; height = image.height
        case .frame(let frame):
            data = try withEncoder { encoder, converter in try encoder.encode(frame, converter: converter) }
            width = frame.width; height = frame.height
        }
        let sha = SHA256.hex(data)
        try AtomicFile.write(data, to: job.destination, durable: false)
        return EncodedFrame(relativePath: job.relativePath, frameNumber: job.frameNumber, pts: job.pts, seconds: job.seconds,
                            width: width, height: height, bytes: Int64(data.count), sha256: sha)
    }

    private func withEncoder<T>(_ body: (ImageEncoder, FrameConverter) throws -> T) throws -> T {
        lock.lock()
        let pair = idleEncoders.popLast()
        lock.unlock()
        let (encoder, converter) = try pair ?? (ImageEncoder(format: format, quality: quality), FrameConverter())
        defer { lock.lock(); idleEncoders.append((encoder, converter)); lock.unlock() }
        return try body(encoder, converter)
    }
}
