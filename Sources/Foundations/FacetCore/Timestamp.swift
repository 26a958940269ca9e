import Dispatch
import Foundation

/// ISO 8601 time stamp in UTC, to the second (`2026-12-06T04:24:54Z`), as stored in manifests and the catalog.
public func timestamp(_ date: Date = Date()) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
}

/// Milliseconds since `start` (monotonic clock), for stage timings.
@inline(__always) public func milliseconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds &- start.uptimeNanoseconds) / 1e6
}

/// CPU time the calling thread has used, in milliseconds (`CLOCK_THREAD_CPUTIME_ID`): differences of it give the cost
/// of work done on this thread, whatever else shares the cores (time pre-empted or blocked does not count).
@inline(__always) public func threadCPUMilliseconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) * 1000 + Double(t.tv_nsec) / 1e6
}
