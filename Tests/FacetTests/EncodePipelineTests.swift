import Foundation
@testable import Media
import XCTest

/// The crop and frame encoders' scheduling: they must yield the cores to the networks at once.
final class EncodePipelineTests: XCTestCase {
    /// An encoder thread runs in Linux's idle scheduling class (so a network's pool worker, when woken, pre-empts it
    /// immediately); nothing else about the calling process changes.
    func testEncoderThreadsRunInTheIdleClass() {
        #if os(Linux)
        nonisolated(unsafe) var policy: Int32 = -1
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            EncodePipeline.lowerThreadPriority()
            var parameters = sched_param()
            _ = pthread_getschedparam(pthread_self(), &policy, &parameters)
            done.signal()
        }
        thread.start()
        done.wait()
        XCTAssertEqual(policy, EncodePipeline.linuxSchedIdle, "SCHED_IDLE is 5 in <sched.h>")
        var mine: Int32 = -1
        var parameters = sched_param()
        XCTAssertEqual(pthread_getschedparam(pthread_self(), &mine, &parameters), 0)
        XCTAssertEqual(mine, 0, "the caller stays in SCHED_OTHER")
        #endif
    }
}
