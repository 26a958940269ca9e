import FacetCore
import Foundation
@testable import Watermark
import XCTest

/// The watermark's error-correcting code: the convolutional encoder, and the serial list decoder against brute
/// force and against the parallel list Viterbi algorithm; with the CRC it reads words plain Viterbi gets wrong.
final class WatermarkCodeTests: XCTestCase {
    /// The convolutional code: the encoder against a hand-computed prefix, noiseless decoding, four hard errors
    /// (free distance 10) and seeded Gaussian noise at a level where uncoded bits would fail.
    func testConvolutionalCodeDecodesErrorsAndNoise() {
        // The impulse response interleaves the generators' taps, bit 0 (the newest input) first:
        // 171 octal = 1111001 → 1,0,0,1,1,1,1 and 133 octal = 1011011 → 1,1,0,1,1,0,1; then the zero tail.
        XCTAssertEqual(WatermarkCode.encode([1]), [1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1])
        var rng = SeededRandom(seed: 15)
        var uncodedErrors = 0, wordErrors = 0
        for trial in 0..<40 {
            let message = (0..<56).map { _ in Int(rng.next() & 1) }
            let coded = WatermarkCode.encode(message)
            XCTAssertEqual(coded.count, WatermarkCode.codedBits(messageBits: 56))
            let clean = coded.map { Double($0 * 2 - 1) }
            XCTAssertEqual(viterbi(clean), message)
            var flipped = clean
            for i in [5 + trial % 7, 40, 77, 110] { flipped[i] = -flipped[i] }
            XCTAssertEqual(viterbi(flipped), message, "4 hard errors, trial \(trial)")
            // Coded-bit SNR 1.2 (the margin watermark-bench diagnose reports): Box-Muller noise of sigma 1/1.2.
            let noisy = clean.map { v -> Double in
                let u1 = max(1e-12, Double(rng.nextUnitFloat())), u2 = Double(rng.nextUnitFloat())
                return v + (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2) / 1.2
            }
            uncodedErrors += zip(noisy, clean).filter { ($0 > 0) != ($1 > 0) }.count
            if viterbi(noisy) != message { wordErrors += 1 }
        }
        XCTAssertGreaterThan(uncodedErrors, 40 * 10, "the noise must flip many coded bits")
        XCTAssertLessThanOrEqual(wordErrors, 2, "Viterbi should recover nearly every word at coded-bit SNR 1.2")
    }

    /// The first word of the list decoder: the Viterbi path.
    func viterbi(_ soft: [Double], messageBits: Int = 56) -> [Int]? {
        var decoder = WatermarkCode.ListDecoder(soft, messageBits: messageBits)
        return decoder.next()
    }

    /// The correlation of `message`'s codeword with `soft`: what the decoder ranks by.
    func correlation(_ message: [Int], _ soft: [Double]) -> Double {
        zip(WatermarkCode.encode(message), soft).reduce(0) { $0 + ($1.0 == 1 ? $1.1 : -$1.1) }
    }

    /// The serial list decoder against brute force: with a short message every message is listed exactly once,
    /// in order of correlation with the soft bits (seeded random soft values), and then the list ends.
    func testListDecoderListsEveryMessageBestFirst() {
        var rng = SeededRandom(seed: 1517)
        for _ in 0..<20 {
            let bits = 5
            let soft = (0..<WatermarkCode.codedBits(messageBits: bits)).map { _ in Double(rng.nextUnitFloat()) * 2 - 1 }
            var decoder = WatermarkCode.ListDecoder(soft, messageBits: bits)
            var listed: [[Int]] = []
            while let word = decoder.next() { listed.append(word) }
            XCTAssertEqual(listed.count, 1 << bits)
            XCTAssertEqual(Set(listed).count, listed.count, "each message once")
            XCTAssertEqual(decoder.produced, 1 << bits)
            let scores = listed.map { correlation($0, soft) }
            for i in 1..<scores.count { XCTAssertGreaterThanOrEqual(scores[i - 1], scores[i] - 1e-9, "rank \(i)") }
            let all = (0..<(1 << bits)).map { v in (0..<bits).map { (v >> $0) & 1 } }
            XCTAssertEqual(scores[0], all.map { correlation($0, soft) }.max() ?? 0, accuracy: 1e-9, "first is the best")
        }
    }

    /// At the watermark's size (56 message bits) the serial decoder lists the same best paths as the parallel
    /// list Viterbi algorithm (every state keeping its best partial paths), correlation for correlation.
    func testListDecoderMatchesParallelListViterbi() {
        var rng = SeededRandom(seed: 1518)
        for _ in 0..<8 {
            let clean = WatermarkCode.encode((0..<56).map { _ in Int(rng.next() & 1) }).map { Double($0 * 2 - 1) }
            let noisy = clean.map { $0 + (Double(rng.nextUnitFloat()) * 2 - 1) * 1.6 }
            let reference = parallelListViterbi(noisy, messageBits: 56, listSize: 64)
            var decoder = WatermarkCode.ListDecoder(noisy, messageBits: 56)
            let serial = (0..<64).compactMap { _ in decoder.next() }
            XCTAssertEqual(serial.count, 64)
            XCTAssertEqual(Set(serial).count, 64)
            for (a, b) in zip(serial, reference) {
                XCTAssertEqual(correlation(a, noisy), correlation(b, noisy), accuracy: 1e-9)
            }
            XCTAssertEqual(serial.first, reference.first)
        }
    }

    /// List decoding: the first path is the Viterbi path, the paths are distinct, and with the CRC-24 it reads
    /// seeded noisy words (coded-bit SNR 1.0) that plain Viterbi decoding gets wrong, never a wrong payload.
    func testListViterbiWithCRCRecoversMoreWords() {
        var rng = SeededRandom(seed: 151)
        var plainRight = 0, listRight = 0, listWrong = 0
        for _ in 0..<60 {
            let truth = WatermarkPayload(UInt32(truncatingIfNeeded: rng.next()))
            let clean = WatermarkLayout.codeSigns(truth).map(Double.init)
            let noisy = clean.map { v -> Double in
                let u1 = max(1e-12, Double(rng.nextUnitFloat())), u2 = Double(rng.nextUnitFloat())
                return v + (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2) / 1.0
            }
            var decoder = WatermarkCode.ListDecoder(noisy, messageBits: 56)
            let list = (0..<16).compactMap { _ in decoder.next() }
            guard let best = list.first else { return XCTFail("nothing listed") }
            XCTAssertEqual(best, viterbi(noisy))
            XCTAssertEqual(Set(list).count, list.count, "listed paths are distinct")
            XCTAssertEqual(list.count, 16)
            if WatermarkLayout.payload(messageBits: best) == truth { plainRight += 1 }
            if let read = list.lazy.compactMap({ WatermarkLayout.payload(messageBits: $0) }).first {
                if read == truth { listRight += 1 } else { listWrong += 1 }
            }
        }
        XCTAssertEqual(listWrong, 0)
        XCTAssertGreaterThan(listRight, plainRight, "plain \(plainRight), list \(listRight) of 60")
    }

    /// Reference for the list decoder: the parallel list Viterbi algorithm. Every state keeps its `listSize`
    /// best partial paths (merging its two predecessors' sorted lists); the `listSize` best terminated paths,
    /// best first, as message bits.
    func parallelListViterbi(_ soft: [Double], messageBits: Int, listSize list: Int) -> [[Int]] {
        let steps = messageBits + WatermarkCode.tailBits, states = 64
        let outputs = WatermarkCode.branchOutputs(states: states)
        var metric = [Double](repeating: -.infinity, count: states * list)
        metric[0] = 0
        var back: [[Int]] = []
        for t in 0..<steps {
            var next = [Double](repeating: -.infinity, count: states * list)
            var from = [Int](repeating: -1, count: states * list)
            for ns in 0..<states {
                let b = ns & 1
                if b == 1 && t >= messageBits { continue }
                var base = [0, 0], branch = [0.0, 0.0]
                for high in 0..<2 {
                    let s = (ns >> 1) | (high << 5)
                    base[high] = s * list
                    for (k, o) in outputs[s * 2 + b].enumerated() { branch[high] += o == 1 ? soft[t * 2 + k] : -soft[t * 2 + k] }
                }
                var i0 = 0, i1 = 0
                for r in 0..<list {
                    let m0 = i0 < list ? metric[base[0] + i0] + branch[0] : -.infinity
                    let m1 = i1 < list ? metric[base[1] + i1] + branch[1] : -.infinity
                    if m0 == -.infinity && m1 == -.infinity { break }
                    if m0 >= m1 { next[ns * list + r] = m0; from[ns * list + r] = base[0] + i0; i0 += 1 }
                    else { next[ns * list + r] = m1; from[ns * list + r] = base[1] + i1; i1 += 1 }
                }
            }
            metric = next
            back.append(from)
        }
        var words: [[Int]] = []
        for r in 0..<list where metric[r] > -.infinity {
            var bits = [Int](repeating: 0, count: steps)
            var entry = r
            for t in stride(from: steps - 1, through: 0, by: -1) {
                bits[t] = (entry / list) & 1
                entry = max(0, back[t][entry])
            }
            words.append(Array(bits.prefix(messageBits)))
        }
        return words
    }

    /// The box mean's row-by-row vertical pass gives exactly the column-by-column reference's values (the
    /// same prefix sums in the same order), for every radius from 0 to past the picture's height.
    func testBoxMeanEqualsTheColumnByColumnReference() {
        var rng = SplitMix64(seed: 17)
        for (w, h) in [(1, 1), (7, 3), (13, 29), (64, 48)] {
            let plane = (0..<(w * h)).map { _ in Float.random(in: 0..<255, using: &rng) }
            for radius in [0, 1, 2, 5, 31, 100] {
                XCTAssertEqual(WatermarkDetector.boxMean(plane, width: w, height: h, radius: radius),
                               Self.columnByColumnBoxMean(plane, width: w, height: h, radius: radius), "\(w)x\(h) radius \(radius)")
            }
        }
    }

    /// The reference: horizontal prefix sums per row, then vertical ones per column.
    static func columnByColumnBoxMean(_ plane: [Float], width w: Int, height h: Int, radius: Int) -> [Float] {
        var horizontal = [Float](repeating: 0, count: w * h)
        var prefix = [Double](repeating: 0, count: w + 1)
        for y in 0..<h {
            for x in 0..<w { prefix[x + 1] = prefix[x] + Double(plane[y * w + x]) }
            for x in 0..<w {
                let a = max(0, x - radius), b = min(w, x + radius + 1)
                horizontal[y * w + x] = Float((prefix[b] - prefix[a]) / Double(b - a))
            }
        }
        var out = [Float](repeating: 0, count: w * h)
        var column = [Double](repeating: 0, count: h + 1)
        for x in 0..<w {
            for y in 0..<h { column[y + 1] = column[y] + Double(horizontal[y * w + x]) }
            for y in 0..<h {
                let a = max(0, y - radius), b = min(h, y + radius + 1)
                out[y * w + x] = Float((column[b] - column[a]) / Double(b - a))
            }
        }
        return out
    }

    /// The tile fold (the detector's search loop, once per scale and mirror hypothesis) equals a plain
    /// pixel-by-pixel reference exactly, at cell sizes whose bins are fractions of a pixel to many pixels.
    func testFoldEqualsThePixelByPixelReference() {
        var rng = SplitMix64(seed: 23)
        for (w, h) in [(5, 3), (97, 61), (300, 200)] {
            let plane = (0..<(w * h)).map { _ in Float.random(in: -1..<1, using: &rng) }
            for cellSize in [0.7, 1.0, 3.3, 8.0, 17.25, 400.0] {
                for flipped in [false, true] {
                    XCTAssertEqual(WatermarkDetector.fold(plane, width: w, height: h, cellSize: cellSize, flipped: flipped),
                                   Self.pixelByPixelFold(plane, width: w, height: h, cellSize: cellSize, flipped: flipped),
                                   "\(w)x\(h) cell \(cellSize) flipped \(flipped)")
                }
            }
        }
    }

    static func pixelByPixelFold(_ plane: [Float], width: Int, height: Int, cellSize: Double, flipped: Bool) -> [Double] {
        let m = WatermarkLayout.binsPerTile
        let bin = cellSize / Double(WatermarkLayout.binsPerCell)
        var sum = [Double](repeating: 0, count: m * m), count = [Int](repeating: 0, count: m * m)
        for y in 0..<height {
            for x in 0..<width {
                let column = Int((Double(flipped ? width - 1 - x : x) + 0.5) / bin) % m
                let k = Int((Double(y) + 0.5) / bin) % m * m + column
                sum[k] += Double(plane[y * width + x]); count[k] += 1
            }
        }
        var total = 0.0, filled = 0
        for i in 0..<(m * m) where count[i] > 0 { sum[i] /= Double(count[i]); total += sum[i]; filled += 1 }
        let mean = filled > 0 ? total / Double(filled) : 0
        for i in 0..<(m * m) where count[i] > 0 { sum[i] -= mean }
        return sum
    }
}
