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

    /// Tells the pool that parallel work follows shortly (e.g. a network after its input crop): workers that fell
    /// asleep since the last job wake now and spin, so their wake-up overlaps the caller's serial work. Cheap when
    /// they are awake; never needed for correctness (a job never waits for a sleeping worker). A no-op inside
    /// `serially`, whose work never reaches the pool (a woken worker would only spin against the caller's threads).
    public static func expectWork() {
        guard cores > 1, pthread_getspecific(serialKey) == nil else { return }
        WorkerPool.shared.nudge()
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

/// A fixed set of `cores - 1` worker threads that help the calling thread through a job's chunks.
///
/// Chunks are claimed, not assigned: the caller posts a job, runs chunk 0, then claims whatever chunks no worker has
/// taken yet, and waits only for chunks a worker is still running. A worker asleep when the job was posted (the
/// caller's serial work between two networks outlasted its spin) therefore never holds the caller up: waking it takes
/// tens of microseconds on a busy or virtual machine, and by then the caller may have done its chunk. A late worker
/// finds nothing left and goes back to waiting. Each chunk runs exactly once, on whichever thread claimed it.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: Parallel.cores - 1, spinNanoseconds: WorkerPool.spinNanoseconds)

    /// How long an idle worker spins before it sleeps: 100 µs (`FACET_SPIN_US` overrides, in microseconds). The gaps
    /// between a network's layers measured under 50 µs (BlazeFace full range: with a 5 µs spin its worker slept and
    /// was woken 17 times an inference, 0.99 -> 0.91 ms at 100-200 µs); a pool left idle burns at most this once.
    static let spinNanoseconds: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["FACET_SPIN_US"], let us = UInt64(text) { return us &* 1000 }
        return 100_000
    }()

    private let workers: Int
    private let spin: UInt64
    /// Bumped once per job (under `mutex`, with a broadcast): what idle workers watch.
    private let generation = Atomic<Int>(0)
    /// The current job's claim word: `run << 32 | chunks << 16 | next` (`next` the first unclaimed chunk). A claim is a
    /// compare-and-exchange of `next` to `next + 1`; the job's own number and chunk count inside the word keep a late
    /// worker from claiming in a job that has already ended, or in the next one with an old word.
    private let claims = Atomic<Int>(0)
    /// Chunks of the current job finished, by any thread.
    private let finished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    /// Bumped by `nudge`: a sleeping worker wakes and spins again without a job.
    private let nudges = Atomic<Int>(0)
    /// Workers asleep (or about to sleep) on `condition`.
    private let sleepers = Atomic<Int>(0)
    private var job: ((Int) -> Void)?
    private var runs = 0
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    /// Largest chunk count a job may have (16 bits of the claim word).
    static let maxChunks = 0xFFFF

    init(workers: Int, spinNanoseconds: UInt64) {
        self.workers = max(workers, 0)
        spin = spinNanoseconds
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        // Workers start from the generation as it is now, so a job posted before a thread gets going is
        // still seen as new by it.
        let start = generation.load(ordering: .acquiring)
        // The threads never exit, so they keep the pool alive (a strong reference): a pool is never freed under a
        // worker that is still waiting on its condition.
        for index in 0..<self.workers {
            let thread = Thread { self.loop(seen: start) }
            thread.name = "facet.tensor.\(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(i)` once for each i in 0..<chunks, on the caller and on whichever workers are ready; false when the
    /// pool was busy with another thread's job or `chunks` is out of range (the caller then does the work itself).
    func run(chunks: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard workers > 0, chunks >= 1, chunks <= Self.maxChunks,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        job = body
        runs = (runs &+ 1) & 0x7FFF_FFFF
        finished.store(0, ordering: .relaxed)
        // Chunk 0 is the caller's: the word starts at next = 1.
        claims.store(runs << 32 | chunks << 16 | 1, ordering: .releasing)
        pthread_mutex_lock(&mutex)
        generation.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        body(0)
        var done = 1
        while let index = claim() {
            body(index)
            done += 1
        }
        finished.add(done, ordering: .releasing)
        // Whatever is left is running on a worker and usually ends within microseconds; when another thread of the
        // process (e.g. a crop encoder) has pre-empted that worker, yield the core instead of spinning against it.
        var spins = 0
        while finished.load(ordering: .acquiring) < chunks {
            spins += 1
            if spins > 50_000 { sched_yield() }
        }
        job = nil
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Claims the current job's next chunk; nil when every chunk is taken (or no job is running).
    private func claim() -> Int? {
        var word = claims.load(ordering: .acquiring)
        while true {
            let next = word & 0xFFFF, count = (word >> 16) & 0xFFFF
            guard next < count else { return nil }
            let (exchanged, original) = claims.compareExchange(expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
            if exchanged { return next }
            word = original
        }
    }

    /// Workers asleep now, and nudges that woke some (for tests).
    var asleep: Int { sleepers.load(ordering: .acquiring) }
    var nudgesSent: Int { nudges.load(ordering: .acquiring) }

    /// Wakes sleeping workers so they spin (`Parallel.expectWork`); a no-op when none sleeps.
    func nudge() {
        guard workers > 0, sleepers.load(ordering: .acquiring) > 0 else { return }
        pthread_mutex_lock(&mutex)
        nudges.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    private func loop(seen initial: Int) {
        var seen = initial
        while true {
            var spins = 0
            var spinStart: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                // Spin for a while before sleeping: the next layer usually follows within microseconds, and between
                // layers the caller may run short serial work (a small layer, a resize, the graph's glue). Waking a
                // sleeping thread costs a system call and tens of microseconds on a busy or virtual machine.
                spins &+= 1
                if spins & 1023 != 0 { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if spinStart == 0 { spinStart = now }
                if now &- spinStart < spin { continue }
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                let nudged = nudges.load(ordering: .acquiring)
                while generation.load(ordering: .acquiring) == seen && nudges.load(ordering: .acquiring) == nudged {
                    pthread_cond_wait(&condition, &mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(&mutex)
                spinStart = 0   // woken by a job or a nudge: spin again before the next sleep
            }
            // Jobs may have come and gone while this worker slept: it helps with whichever is current, if any.
            seen = generation.load(ordering: .acquiring)
            while let index = claim() {
                // A successful claim means the job is still running (the caller waits for this chunk), so `job` is
                // the one posted with that word.
                if let job { job(index) }
                finished.add(1, ordering: .releasing)
            }
        }
    }
}
