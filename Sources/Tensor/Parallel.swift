import Foundation

/// Splitting work across cores. Facet runs OpenBLAS single-threaded and parallelises itself: large
/// matrix products are cut into row blocks, one per core; small ones run on the calling thread, where
/// waking threads would cost more than the work.
public enum Parallel {
    /// Worker count: one per core (`FACET_THREADS` overrides).
    public static let cores: Int = {
        if let text = ProcessInfo.processInfo.environment["FACET_THREADS"], let n = Int(text), n >= 1 { return n }
        return max(ProcessInfo.processInfo.activeProcessorCount, 1)
    }()

    /// Runs `body(chunkIndex, range)` over `0..<count` cut into at most `cores` contiguous ranges, in
    /// parallel when `work` (a rough operation count) is at least `threshold`, else in one call.
    @inline(__always)
    public static func ranges(_ count: Int, work: Int, threshold: Int = 2_000_000, _ body: (Range<Int>) -> Void) {
        let chunks = min(cores, count)
        if chunks <= 1 || work < threshold {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escaping in
            // Callers hand each range disjoint memory; the closure is not retained past this call.
            nonisolated(unsafe) let work = escaping
            DispatchQueue.concurrentPerform(iterations: chunks) { i in
                let lower = count * i / chunks, upper = count * (i + 1) / chunks
                if lower < upper { work(lower..<upper) }
            }
        }
    }
}
