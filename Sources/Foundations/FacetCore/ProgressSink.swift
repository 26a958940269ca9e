/// Where long-running library work reports progress; tools pass a terminal-aware reporter.
public protocol ProgressSink: AnyObject, Sendable {
    /// A log line for a person.
    func log(_ message: String)
    /// A new task of `total` units (nil when unknown).
    func begin(_ label: String, total: Int?, unit: String)
    /// Units done so far in the current task.
    func update(done: Int)
    /// Units done so far, with a short note shown after the rate (e.g. current losses and an ETA).
    func update(done: Int, note: String)
    /// The current task ended.
    func finish()
}

extension ProgressSink {
    /// Sinks that do not show notes just count.
    public func update(done: Int, note: String) { update(done: done) }
}

/// Discards all progress (for tests and quiet library use).
public final class SilentProgress: ProgressSink {
    public init() {}
    public func log(_ message: String) {}
    public func begin(_ label: String, total: Int?, unit: String) {}
    public func update(done: Int) {}
    public func finish() {}
}
