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
