import Foundation
import Media
import Models
import Tensor

/// One `FaceAnalyzer` per worker thread, for locating the faces of several frames at once.
///
/// A single analyzer splits each network layer across the cores (Tensor's `Parallel`), which leaves them idle
/// between layers and on the many small ones (BlazeFace and FaceMesh layers take tens of microseconds). Giving
/// each core whole frames instead, with its networks run serially (`Parallel.serially`), keeps every core busy:
/// each worker takes the group's next frame when it is free. Each analyzer keeps no state from one frame to the next,
/// so the faces found are exactly those `FaceAnalyzer.locate` finds for each frame alone, whichever worker ran it.
public final class FaceAnalyzerPool {
    /// The analyzers, one per worker; `analyzers[0]` also serves single images on the calling thread.
    public let analyzers: [FaceAnalyzer]

    /// - Parameter workers: analyzer threads (≥ 1; default one per core, `Parallel.cores`). The analyzers load
    ///   their models side by side, one per thread (reading and unpacking them is most of a short run's start).
    public init(range: BlazeFace.Range, settings: FaceAnalyzer.Settings, store: ModelStore, workers: Int = Parallel.cores) throws {
        let count = max(workers, 1)
        guard count > 1 else {
            analyzers = [try FaceAnalyzer(range: range, settings: settings, store: store)]
            return
        }
        let loaded = Loaded(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { k in
            loaded.store(Parallel.serially { Result { try FaceAnalyzer(range: range, settings: settings, store: store) } }, at: k)
        }
        analyzers = try loaded.values.map { try $0.get() }
    }

    /// The analyzers being loaded, one slot per thread (each written once, read after all have finished).
    private final class Loaded: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Result<FaceAnalyzer, any Error>]
        init(count: Int) { slots = Array(repeating: .failure(CancellationError()), count: count) }
        func store(_ value: Result<FaceAnalyzer, any Error>, at k: Int) { lock.lock(); slots[k] = value; lock.unlock() }
        var values: [Result<FaceAnalyzer, any Error>] { lock.lock(); defer { lock.unlock() }; return slots }
    }

    public var workers: Int { analyzers.count }

    /// The stage times of all analyzers added up (milliseconds of thread time; with several workers the sum
    /// exceeds the wall time the stages took).
    public var times: StageTimes {
        var total = StageTimes()
        for t in analyzers.map(\.times) {
            total.decode += t.decode; total.detect += t.detect; total.mesh += t.mesh
            total.points5 += t.points5; total.align += t.align; total.write += t.write; total.wait += t.wait
        }
        return total
    }

    /// The faces of each image (`FaceAnalyzer.locate` of each), in the order given. With one image, or one
    /// worker, it runs on the calling thread with the layers split across cores as usual.
    public func locate(_ images: [RGBImage], tiles: Int) -> [[LocatedFace]] {
        guard images.count > 1, analyzers.count > 1 else { return images.map { analyzers[0].locate($0, tiles: tiles) } }
        let results = Results(count: images.count)
        let shared = Shared(analyzers: analyzers, images: images)
        DispatchQueue.concurrentPerform(iterations: min(analyzers.count, images.count)) { worker in
            Parallel.serially {
                while let k = results.claim() { results.store(shared.analyzers[worker].locate(shared.images[k], tiles: tiles), at: k) }
            }
        }
        return results.values
    }

    /// The analyzers and images handed to the worker threads; worker w only touches `analyzers[w]`.
    private final class Shared: @unchecked Sendable {
        let analyzers: [FaceAnalyzer]
        let images: [RGBImage]
        init(analyzers: [FaceAnalyzer], images: [RGBImage]) { self.analyzers = analyzers; self.images = images }
    }

    /// The next image to analyse (handed out in order, so a worker slowed by a crowded frame takes fewer) and the
    /// per-image results (each slot written by one worker), read after they have all finished.
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [[LocatedFace]]
        private var next = 0
        init(count: Int) { slots = Array(repeating: [], count: count) }
        func claim() -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard next < slots.count else { return nil }
            next += 1
            return next - 1
        }
        func store(_ faces: [LocatedFace], at index: Int) { lock.lock(); slots[index] = faces; lock.unlock() }
        var values: [[LocatedFace]] { lock.lock(); defer { lock.unlock() }; return slots }
    }
}
