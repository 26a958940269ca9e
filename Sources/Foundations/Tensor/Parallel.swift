#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Splitting work across cores. Facet runs OpenBLAS single-threaded and parallelises itself: large
/// matrix products and convolutions are cut into contiguous row blocks, one per core, run by a small
/// persistent pool whose workers spin briefly between jobs (a layer takes tens of microseconds, too
/// short for waking sleeping threads). Small jobs run on the calling thread.
public enum Parallel {
    /// Worker count: one per core (`FACET_THREADS` overrides).
    public static let cores: Int = {
        if let text = ProcessInfo.processInfo.environment["FACET_THREADS"], let n = Int(text), n >= 1 { return n }
        return max(ProcessInfo.processInfo.activeProcessorCount, 1)
    }()

    /// Runs `body(range)` over `0..<count` cut into at most `cores` contiguous ranges, in parallel when
    /// `work` (a rough operation count) is at least `threshold`, else in one call. Nested calls, and calls
    /// made while another thread is using the pool, run on the calling thread.
    public static func ranges(_ count: Int, work: Int, threshold: Int = 150_000, _ body: (Range<Int>) -> Void) {
        let chunks = min(cores, count)
        if chunks <= 1 || work < threshold || pthread_getspecific(serialKey) != nil {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escaping in
            let ran = WorkerPool.shared.run(chunks: chunks) { i in
                let lower = count * i / chunks, upper = count * (i + 1) / chunks
                if lower < upper { escaping(lower..<upper) }
            }
            if !ran { escaping(0..<count) }
        }
    }
}

extension Parallel {
    /// Marks threads whose `ranges` calls run on the calling thread (non-nil: serial).
    private static let serialKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with every `ranges` call made on this thread, however deep, on this thread alone: for callers that
    /// already keep every core busy with coarser work (one network per worker thread, as `score` does), where the
    /// pool would only add a thread spinning against theirs.
    public static func serially<T>(_ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(serialKey)
        pthread_setspecific(serialKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(serialKey, previous) }
        return try body()
    }
}

/// A fixed set of `cores - 1` worker threads; the calling thread does chunk 0 itself.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: Parallel.cores - 1)

    /// How long an idle worker spins before it sleeps: 100 µs (`FACET_SPIN_US` overrides, in microseconds). The gaps
    /// between a network's layers measured under 50 µs (BlazeFace full range: with a 5 µs spin its worker slept and
    /// was woken 17 times an inference, 0.99 -> 0.91 ms at 100-200 µs); a pool left idle burns at most this once.
    static let spinNanoseconds: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["FACET_SPIN_US"], let us = UInt64(text) { return us &* 1000 }
        return 100_000
    }()

    private let workers: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var chunks = 0
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    init(workers: Int) {
        self.workers = max(workers, 0)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        // Workers start from the generation as it is now, so a job posted before a thread gets going is
        // still seen as new by it.
        let start = generation.load(ordering: .acquiring)
        for index in 0..<self.workers {
            let thread = Thread { [unowned self] in self.loop(worker: index + 1, seen: start) }
            thread.name = "facet.tensor.\(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(i)` for i in 0..<chunks (i = 0 on the caller); false when the pool was busy (the caller
    /// then does the work itself).
    func run(chunks: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard workers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        job = body
        self.chunks = chunks
        remaining.store(workers, ordering: .relaxed)
        pthread_mutex_lock(&mutex)
        generation.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        body(0)
        // The workers usually finish within microseconds; when another thread of the process (e.g. a crop
        // encoder) has pre-empted one of them, yield the core instead of spinning against it.
        var spins = 0
        while remaining.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins > 50_000 { sched_yield() }
        }
        job = nil
        busy.store(false, ordering: .releasing)
        return true
    }

    private func loop(worker index: Int, seen initial: Int) {
        var seen = initial
        while true {
            var spins = 0
            var spinStart: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                // Spin for a while before sleeping: the next layer usually follows within microseconds, and between
                // layers the caller may run short serial work (a small layer, a resize, the graph's glue). Waking a
                // sleeping thread costs a system call and tens of microseconds on a busy or virtual machine, on the
                // critical path of every layer that follows such a gap.
                spins &+= 1
                if spins & 1023 != 0 { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if spinStart == 0 { spinStart = now }
                if now &- spinStart < Self.spinNanoseconds { continue }
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(&condition, &mutex) }
                pthread_mutex_unlock(&mutex)
            }
            seen &+= 1   // jobs are posted one at a time: each wakes every worker exactly once
            if index < chunks, let job { job(index) }
            remaining.subtract(1, ordering: .releasing)
        }
    }
}
