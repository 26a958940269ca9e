/// Decides, frame by frame, which decoded video frames `fetch-frames` keeps. The rules, in order:
///
/// 1. Time window: `start <= t < end`, and inside this shard's part of the window (the window is cut
///    into `shardCount` equal time spans, each cut moved up to the next `--fps` slot start when `--fps` is
///    given; shard K takes span K).
/// 2. `--every N`: the frame number `round(t x frameRate)` is a multiple of N.
/// 3. `--fps R`: the first frame in each slot `floor(t x R)` (slots count from t = 0, so shards and
///    re-runs agree on them).
/// 4. `--max-frames`: stop once that many are kept.
/// (`--min-change` is applied afterwards, on pixels: see `FrameExtractor`.)
public struct FrameSelector: Sendable {
    public enum Decision: Equatable, Sendable {
        case keep(frameNumber: Int)
        case skip
        case stop
    }

    public let frameRate: Double
    public let windowStart: Double
    public let windowEnd: Double
    public let every: Int?
    public let fps: Double?
    public let maxFrames: Int?
    private var lastSlot: Int?
    private(set) public var kept = 0

    /// - Parameters:
    ///   - duration: the video's duration in seconds (nil when unknown: then the shard split falls back to
    ///     shard 1 taking everything).
    public init(frameRate: Double, duration: Double?, start: Double?, end: Double?, every: Int?, fps: Double?,
                maxFrames: Int?, shardIndex: Int, shardCount: Int) {
        self.frameRate = frameRate > 0 ? frameRate : 25
        let s = max(start ?? 0, 0)
        var e = end ?? .infinity
        if let duration { e = min(e, duration + 1) }
        if shardCount > 1 {
            if e.isFinite {
                // Adjacent shards compute their shared boundary with the same formula (so they agree on it to
                // the last bit), and with --fps it moves up to the next slot start, so that no slot is split
                // between two shards (each would keep "the first frame" of it).
                func boundary(_ j: Int) -> Double {
                    if j <= 0 { return s }
                    if j >= shardCount { return e }
                    var b = s + (e - s) * Double(j) / Double(shardCount)
                    if let fps, fps > 0 { b = min(max((b * fps - 1e-6).rounded(.up) / fps, s), e) }
                    return b
                }
                windowStart = boundary(shardIndex - 1)
                windowEnd = boundary(shardIndex)
            } else {
                windowStart = s
                windowEnd = shardIndex == 1 ? e : s
            }
        } else {
            windowStart = s
            windowEnd = e
        }
        self.every = every
        self.fps = fps
        self.maxFrames = maxFrames
    }

    /// True when this selector can keep nothing (an empty shard span).
    public var isEmpty: Bool { windowEnd <= windowStart }

    /// Decides for the frame at `seconds`.
    public mutating func decide(seconds t: Double) -> Decision {
        if let maxFrames, kept >= maxFrames { return .stop }
        // A frame a hair before a window edge (time stamp rounding) counts as at the edge: it is the window's
        // first frame, or past its end (so that the next shard, and only it, takes it).
        if t >= windowEnd - 1e-6 { return .stop }
        if t < windowStart - 1e-6 { return .skip }
        // A crafted stream can carry time stamps whose frame number is no Int (NaN, 1e300 s): such a frame
        // is skipped rather than trapping.
        guard let number = Self.integer((t * frameRate).rounded()) else { return .skip }
        if let every, every > 1, number % every != 0 { return .skip }
        if let fps, fps > 0 {
            // The same 1e-6 s tolerance as the window edges, so a frame that counts as at a slot start (and
            // a shard boundary there) also counts as in that slot.
            guard let slot = Self.integer(((t + 1e-6) * fps).rounded(.down)) else { return .skip }
            if slot == lastSlot { return .skip }
            lastSlot = slot
        }
        kept += 1
        return .keep(frameNumber: number)
    }

    /// `value` as an Int when it is finite and well inside Int's range, else nil.
    static func integer(_ value: Double) -> Int? {
        guard value.isFinite, abs(value) < 9.0e18 else { return nil }
        return Int(value)
    }

    /// Undoes the count of the last kept frame (when a later check, such as `--min-change`, drops it).
    public mutating func unkeepLast() { kept -= 1 }
}
