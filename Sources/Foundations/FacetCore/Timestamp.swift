import Dispatch
import Foundation

/// ISO 8601 time stamp in UTC, to the second (`2026-12-06T04:24:54Z`), as stored in manifests and the catalog.
public func timestamp(_ date: Date = Date()) -> String {
    // Whole seconds, rounded down (as ISO8601DateFormatter prints them), through the C library's calendar: this
    // runs for every catalog row, and building a formatter each time cost more than aligning the face.
    let seconds = date.timeIntervalSince1970.rounded(.down)
    var time = seconds.isFinite && abs(seconds) < 1e15 ? time_t(seconds) : 0
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return "1970-01-01T00:00:00Z" }
    func two(_ v: Int32) -> String { zeroPadded(Int(v), width: 2) }
    let year = Int(parts.tm_year) + 1900
    let yearText = year >= 0 ? zeroPadded(year, width: 4) : String(year)
    return "\(yearText)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
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
