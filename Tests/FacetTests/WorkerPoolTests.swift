import Foundation
@testable import Tensor
import XCTest

/// The worker pool's chunk claiming: every chunk of every job runs exactly once, whichever thread takes it, however
/// late a sleeping worker wakes, and the caller never waits for a worker that has not claimed anything.
final class WorkerPoolTests: XCTestCase {
    /// Workers that never spin (they sleep after every job, so most jobs are posted to sleeping threads and many are
    /// over before a worker wakes) and workers that spin as in production: each of 20,000 jobs with 1-9 chunks sees
    /// each chunk exactly once, and the caller's results are complete when `run` returns.
    func testEveryChunkRunsExactlyOnce() {
        for (workers, spin) in [(1, UInt64(0)), (3, UInt64(0)), (3, UInt64(100_000))] {
            let pool = WorkerPool(workers: workers, spinNanoseconds: spin)
            var rng = SplitMix64(seed: UInt64(workers) &* 31 &+ spin)
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: 16)
            defer { hits.deallocate() }
            nonisolated(unsafe) let p = hits
            var late = 0
            for job in 0..<20_000 {
                let chunks = Int.random(in: 1...9, using: &rng)
                hits.initialize(repeating: 0, count: 16)
                let ran = pool.run(chunks: chunks) { i in
                    p[i] += 1
                    if i % 3 == 1 { for _ in 0..<Int.random(in: 0...200) { _ = p[15] } }   // uneven chunks
                }
                XCTAssertTrue(ran)
                let seen = (0..<16).map { hits[$0] }
                if seen != [Int](repeating: 1, count: chunks) + [Int](repeating: 0, count: 16 - chunks) {
                    XCTFail("workers \(workers), spin \(spin) ns, job \(job): chunk hits \(seen.prefix(chunks + 1)) for \(chunks) chunks")
                    return
                }
                if job % 1000 == 0 { usleep(UInt32(job % 3000)); late += 1 }   // let workers fall asleep now and then
            }
            XCTAssertGreaterThan(late, 0)
        }
    }

    /// Chunk counts the claim word cannot hold are refused (the caller then does the work itself), and a pool
    /// without workers refuses every job.
    func testRefusesWhatItCannotRun() {
        let pool = WorkerPool(workers: 1, spinNanoseconds: 0)
        XCTAssertFalse(pool.run(chunks: 0) { _ in })
        XCTAssertFalse(pool.run(chunks: WorkerPool.maxChunks + 1) { _ in })
        XCTAssertFalse(WorkerPool(workers: 0, spinNanoseconds: 0).run(chunks: 2) { _ in })
        nonisolated(unsafe) var count = 0
        let lock = NSLock()
        XCTAssertTrue(pool.run(chunks: 300) { _ in lock.lock(); count += 1; lock.unlock() })
        XCTAssertEqual(count, 300)
    }

    /// A nudge wakes a sleeping worker without a job and changes nothing about the next job's result.
    func testNudgeIsHarmless() {
        let pool = WorkerPool(workers: 2, spinNanoseconds: 0)
        usleep(2000)
        for _ in 0..<200 {
            pool.nudge()
            nonisolated(unsafe) var sum = 0
            let lock = NSLock()
            XCTAssertTrue(pool.run(chunks: 3) { i in lock.lock(); sum += i + 1; lock.unlock() })
            XCTAssertEqual(sum, 6)
        }
    }

    /// `Parallel.expectWork` wakes the shared pool's sleeping worker, except inside `Parallel.serially` (whose work
    /// never reaches the pool: a woken worker would only spin against the caller's own threads).
    func testExpectWorkWakesOnlyForPooledWork() throws {
        guard Parallel.cores > 1 else { return }
        let pool = WorkerPool.shared
        Parallel.ranges(8, work: 10_000_000, threshold: 1) { _ in }   // the pool exists and has run
        func sleepUntilAsleep() {
            for _ in 0..<200 where pool.asleep < Parallel.cores - 1 { usleep(1000) }
        }
        sleepUntilAsleep()
        XCTAssertEqual(pool.asleep, Parallel.cores - 1, "idle workers sleep after their spin")
        let before = pool.nudgesSent
        Parallel.serially { Parallel.expectWork() }
        XCTAssertEqual(pool.nudgesSent, before, "no wake-up for serial work")
        Parallel.expectWork()
        XCTAssertEqual(pool.nudgesSent, before + 1, "a sleeping worker is woken")
    }


    /// A pool dropped right after a job is not freed under its workers (they never exit, so they keep it alive):
    /// 300 pools created, used once and dropped, with no crash.
    func testDroppedPoolsStayValidForTheirWorkers() {
        for round in 0..<300 {
            let pool = WorkerPool(workers: 2, spinNanoseconds: round % 2 == 0 ? 0 : 20_000)
            nonisolated(unsafe) var sum = 0
            let lock = NSLock()
            XCTAssertTrue(pool.run(chunks: 3) { i in lock.lock(); sum += i; lock.unlock() })
            XCTAssertEqual(sum, 3)
        }
        usleep(50_000)   // the workers of the last pools finish their loop iteration and sleep
    }

}
