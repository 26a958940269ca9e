import Media
import Foundation
import XCTest

final class FrameSelectorTests: XCTestCase {
    struct Case: CustomStringConvertible {
        var frameRate: Double
        var frameCount: Int
        var knownDuration = true
        var start: Double?
        var end: Double?
        var every: Int?
        var fps: Double?
        var maxFrames: Int?

        var duration: Double { Double(frameCount) / frameRate }
        var description: String {
            "rate \(frameRate), \(frameCount) frames\(knownDuration ? "" : " (duration unknown)"), start \(start.map { "\($0)" } ?? "-"), "
                + "end \(end.map { "\($0)" } ?? "-"), every \(every.map { "\($0)" } ?? "-"), fps \(fps.map { "\($0)" } ?? "-")"
        }
    }

    /// Runs a selector over frames at times i / frameRate, as the extractor does (stopping at `.stop`);
    /// returns the indices of the kept frames.
    func select(_ c: Case, shard: Int = 1, of shards: Int = 1) -> [Int] {
        var selector = FrameSelector(frameRate: c.frameRate, duration: c.knownDuration ? c.duration : nil, start: c.start, end: c.end,
                                     every: c.every, fps: c.fps, maxFrames: c.maxFrames, shardIndex: shard, shardCount: shards)
        if selector.isEmpty { return [] }
        var kept: [Int] = []
        loop: for i in 0..<c.frameCount {
            switch selector.decide(seconds: Double(i) / c.frameRate) {
            case .stop: break loop
            case .skip: continue
            case .keep(let number):
                XCTAssertEqual(number, i, "frame number of frame \(i) (\(c))")
                kept.append(i)
            }
        }
        XCTAssertEqual(selector.kept, kept.count)
        return kept
    }

    func testEveryKeepsMultiples() {
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 100, every: 10)), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
        XCTAssertEqual(select(Case(frameRate: 25, frameCount: 7, every: 3)), [0, 3, 6])
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 5, every: 1)), [0, 1, 2, 3, 4])
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 5)), [0, 1, 2, 3, 4])
        // Frame numbers come from the time, so a window start does not shift them.
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 100, start: 1.1, every: 20)), [40, 60, 80])
    }

    func testFPSKeepsTheFirstFrameOfEachSlot() {
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 90, fps: 2)), [0, 15, 30, 45, 60, 75])
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 90, fps: 1)), [0, 30, 60])
        // Slots count from t = 0: with a start inside a slot, the window's first frame takes that slot.
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 90, start: 0.6, fps: 1)), [18, 30, 60])
        // More slots than frames: every frame is the first of its slot.
        XCTAssertEqual(select(Case(frameRate: 10, frameCount: 5, fps: 100)), [0, 1, 2, 3, 4])
        // 29.97 fps at 1 per second: one frame per second, each the first at or after a whole second.
        let ntsc = select(Case(frameRate: 30000.0 / 1001, frameCount: 300, fps: 1))
        XCTAssertEqual(ntsc.count, 10)
        for (slot, i) in ntsc.enumerated() {
            let t = Double(i) * 1001 / 30000
            XCTAssertGreaterThanOrEqual(t, Double(slot) - 1e-6)
            XCTAssertLessThan(t - 1001.0 / 30000, Double(slot))
        }
        // With --every as well, the slot's first frame among the multiples.
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 90, every: 7, fps: 1)), [0, 35, 63])
    }

    func testStartEndWindow() {
        XCTAssertEqual(select(Case(frameRate: 10, frameCount: 100, start: 2, end: 3)), Array(20..<30))
        XCTAssertEqual(select(Case(frameRate: 10, frameCount: 100, start: 2.05, end: 2.5)), [21, 22, 23, 24])
        XCTAssertEqual(select(Case(frameRate: 10, frameCount: 100, end: 0.35)), [0, 1, 2, 3])
        XCTAssertEqual(select(Case(frameRate: 10, frameCount: 100, start: 9.5)), [95, 96, 97, 98, 99])
        XCTAssertEqual(select(Case(frameRate: 10, frameCount: 100, start: 20)), [])
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 216, start: 2, end: 4, fps: 2)), [60, 75, 90, 105])
        // A time stamp a hair before the start still counts as the first frame.
        var selector = FrameSelector(frameRate: 10, duration: 10, start: 2, end: nil, every: nil, fps: nil, maxFrames: nil,
                                     shardIndex: 1, shardCount: 1)
        XCTAssertEqual(selector.decide(seconds: 2 - 1e-9), .keep(frameNumber: 20))
        XCTAssertEqual(selector.decide(seconds: 1.9), .skip)
    }

    func testMaxFramesStopsAndUnkeepGivesTheSlotBack() {
        XCTAssertEqual(select(Case(frameRate: 30, frameCount: 300, every: 10, maxFrames: 4)), [0, 10, 20, 30])
        var selector = FrameSelector(frameRate: 10, duration: 10, start: nil, end: nil, every: nil, fps: nil, maxFrames: 2,
                                     shardIndex: 1, shardCount: 1)
        XCTAssertEqual(selector.decide(seconds: 0), .keep(frameNumber: 0))
        XCTAssertEqual(selector.decide(seconds: 0.1), .keep(frameNumber: 1))
        selector.unkeepLast()
        XCTAssertEqual(selector.kept, 1)
        XCTAssertEqual(selector.decide(seconds: 0.2), .keep(frameNumber: 2))
        XCTAssertEqual(selector.decide(seconds: 0.3), .stop)
    }

    func testShardWindowsTileTheVideo() {
        let shards = (1...4).map {
            FrameSelector(frameRate: 30, duration: 7, start: 1, end: nil, every: nil, fps: nil, maxFrames: nil, shardIndex: $0, shardCount: 4)
        }
        XCTAssertEqual(shards[0].windowStart, 1)
        XCTAssertEqual(shards[3].windowEnd, 8)   // duration + 1: the last shard runs past the end
        for k in 1..<4 { XCTAssertEqual(shards[k].windowStart, shards[k - 1].windowEnd) }
        // Unknown duration and no end: the first shard takes everything, the others nothing.
        let open = (1...3).map {
            FrameSelector(frameRate: 30, duration: nil, start: nil, end: nil, every: nil, fps: nil, maxFrames: nil, shardIndex: $0, shardCount: 3)
        }
        XCTAssertFalse(open[0].isEmpty)
        XCTAssertTrue(open[1].isEmpty)
        XCTAssertTrue(open[2].isEmpty)
    }

    func testShardsDoNotSplitAnFPSSlot() {
        // 10 s at 30 fps, 1 frame per second, 2 shards: the boundary (5.5 s) falls inside slot 5, whose
        // first frame (150) the first shard keeps; the second shard must not keep frame 165 as well.
        let c = Case(frameRate: 30, frameCount: 300, fps: 1)
        let whole = select(c)
        XCTAssertEqual(whole, [0, 30, 60, 90, 120, 150, 180, 210, 240, 270])
        XCTAssertEqual(select(c, shard: 1, of: 2) + select(c, shard: 2, of: 2), whole)
    }

    func testShardUnionEqualsUnshardedSelection() {
        var rng = SplitMix64(seed: 0x5A4D_0001)
        let rates: [Double] = [23.976, 24, 25, 29.97, 30, 50, 59.94, 60, 12.5, 15, 10]
        let slotRates: [Double] = [0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10]
        for trial in 0..<1500 {
            var c = Case(frameRate: 0, frameCount: 0)
            c.frameRate = Bool.random(using: &rng) ? rates.randomElement(using: &rng)! : Double.random(in: 2...120, using: &rng)
            c.frameCount = Int.random(in: 1...400, using: &rng)
            c.knownDuration = Int.random(in: 0..<6, using: &rng) != 0
            if Bool.random(using: &rng) { c.every = Int.random(in: 1...12, using: &rng) }
            if Bool.random(using: &rng) {
                c.fps = Bool.random(using: &rng) ? slotRates.randomElement(using: &rng)! : Double.random(in: 0.1...20, using: &rng)
            }
            if Int.random(in: 0..<3, using: &rng) == 0 { c.start = Double(Int.random(in: 0...40, using: &rng)) / 8 }
            if Int.random(in: 0..<3, using: &rng) == 0 { c.end = (c.start ?? 0) + Double(Int.random(in: 1...60, using: &rng)) / 8 }
            let shards = Int.random(in: 1...7, using: &rng)

            let whole = select(c)
            var union: [Int] = []
            var seen = Set<Int>()
            for k in 1...shards {
                for i in select(c, shard: k, of: shards) {
                    XCTAssertTrue(seen.insert(i).inserted, "trial \(trial): frame \(i) kept by two shards of \(shards) (\(c))")
                    union.append(i)
                }
            }
            XCTAssertEqual(union, whole, "trial \(trial), \(shards) shards (\(c)): extra \(Set(union).subtracting(whole).sorted()), "
                + "missing \(Set(whole).subtracting(union).sorted())")
            if union != whole || seen.count != union.count { return }   // one clear failure is enough
        }
    }
}
