import Foundation
import FacetCore
#if canImport(Glibc)
import Glibc
#endif

/// Progress and log lines on stderr. On a terminal it redraws one bar with count, rate and ETA; when
/// stderr is a file or pipe it writes a plain line every 10 seconds of a task (none for a task shorter than
/// that) and, for a task that wrote any, one with the final count when it finishes; `quiet` silences both.
public final class ProgressReporter: ProgressSink, @unchecked Sendable {
    public let quiet: Bool
    public let isTerminal: Bool
    private let lock = NSLock()
    private var label = ""
    private var unit = "items"
    private var total: Int?
    private var done = 0
    private var started = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false
    private var note = ""

    public init(quiet: Bool) {
        self.quiet = quiet
        self.isTerminal = isatty(STDERR_FILENO) == 1
    }

    /// A log line (cleared bar first on a terminal).
    public func log(_ message: String) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        clearBar()
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Starts a new task of `total` units (nil when unknown).
    public func begin(_ label: String, total: Int?, unit: String) {
        lock.lock(); defer { lock.unlock() }
        self.label = label
        self.total = total
        self.unit = unit
        done = 0
        note = ""
        started = Date()
        // A log file gets its first line 10 seconds in: a line at the first item says nothing (its rate is noise).
        lastDraw = isTerminal ? .distantPast : started
    }

    /// Sets the number of units done so far.
    public func update(done: Int) {
        apply(done: done, note: nil)
    }

    /// Sets the number of units done so far and a note shown after the rate (it replaces the computed ETA).
    public func update(done: Int, note: String) {
        apply(done: done, note: note)
    }

    private func apply(done: Int, note: String?) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        self.done = done
        if let note { self.note = note }
        let now = Date()
        let interval = isTerminal ? 0.1 : 10
        guard now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        draw(now: now)
    }

    /// Ends the current task's bar.
    public func finish() {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        if isTerminal {
            draw(now: Date())
            if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if drawn {
            draw(now: Date())
        }
        drawn = false
    }

    private func draw(now: Date) {
        let elapsed = max(now.timeIntervalSince(started), 1e-6)
        let rate = Double(done) / elapsed
        var text = "\(label): \(done)"
        if let total { text += "/\(total)" }
        text += " \(unit) \(String(format: "%.1f", rate))/s"
        if let total, total > 0 {
            let fraction = min(Double(done) / Double(total), 1)
            let width = 24
            let filled = Int(fraction * Double(width))
            text = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] " + text
            if rate > 0, done < total, note.isEmpty { text += " ETA \(Self.clock(Double(total - done) / rate))" }
        }
        if !note.isEmpty { text += ", " + note }
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
            drawn = true
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
            drawn = true
        }
    }

    private func clearBar() {
        if isTerminal && drawn {
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }

    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
