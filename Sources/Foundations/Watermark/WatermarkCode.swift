/// The watermark's error-correcting code: the 56-bit message (32 payload bits, then their CRC-24) through the
/// standard rate-1/2, constraint-length-7 convolutional code (generators 171 and 133 octal, the NASA/Voyager
/// code, free distance 10; tap bit 0 is the newest input), terminated with 6 zero tail bits: 124 coded bits. The detector decodes soft
/// correlations with the Viterbi algorithm (maximum-likelihood over all 2⁴⁸ messages for Gaussian noise), then
/// checks the CRC, so a wrong payload is reported with probability about 2⁻²⁴ per decoded candidate.
enum WatermarkCode {
    static let constraintLength = 7
    static let generators: [UInt32] = [0o171, 0o133]
    static let tailBits = constraintLength - 1
    /// Coded bits for a `messageBits`-bit message.
    static func codedBits(messageBits: Int) -> Int { (messageBits + tailBits) * generators.count }

    static func parity(_ v: UInt32) -> Int { v.nonzeroBitCount & 1 }

    /// Encodes `message` (bits 0/1, first bit first) into `codedBits` bits 0/1.
    static func encode(_ message: [Int]) -> [Int] {
        var state: UInt32 = 0  // the last 7 input bits, newest in bit 0
        var out: [Int] = []
        out.reserveCapacity(codedBits(messageBits: message.count))
        for bit in message + [Int](repeating: 0, count: tailBits) {
            state = ((state << 1) | UInt32(bit & 1)) & 0x7F
            for g in generators { out.append(parity(state & g)) }
        }
        return out
    }

    /// The coded bits (0/1, one per generator) of the branch from `state` with input bit b, at index
    /// `state * 2 + b`: a step's branch correlation is the sum of ±soft over them.
    private static func branchOutputs(states: Int) -> [[Int]] {
        var outputs = [[Int]](repeating: [], count: states * 2)
        for s in 0..<states {
            for b in 0..<2 {
                let full = (UInt32(s) << 1 | UInt32(b)) & 0x7F
                outputs[s * 2 + b] = generators.map { parity(full & $0) }
            }
        }
        return outputs
    }

    /// Soft-decision Viterbi decoding: `soft[i] > 0` favours coded bit i = 1, with magnitude its reliability
    /// (for Gaussian noise of equal variance, correlations are proportional to log-likelihood ratios).
    /// Returns the `messageBits` message bits (0/1) of the terminated path with the largest correlation.
    static func decode(_ soft: [Double], messageBits: Int) -> [Int] {
        let n = generators.count
        let steps = messageBits + tailBits
        guard soft.count == steps * n else { return [Int](repeating: 0, count: messageBits) }
        let states = 1 << (constraintLength - 1)  // the last 6 input bits
        let outputs = branchOutputs(states: states)
        let unreachable = -Double.infinity
        var metric = [Double](repeating: unreachable, count: states)
        metric[0] = 0
        var history = [[Int32]]()  // per step: for each new state, the previous state
        history.reserveCapacity(steps)
        for t in 0..<steps {
            var next = [Double](repeating: unreachable, count: states)
            var from = [Int32](repeating: -1, count: states)
            let inputs = t < messageBits ? 0...1 : 0...0
            for s in 0..<states where metric[s] > unreachable {
                for b in inputs {
                    var m = metric[s]
                    let o = outputs[s * 2 + b]
                    for k in 0..<n { m += o[k] == 1 ? soft[t * n + k] : -soft[t * n + k] }
                    let ns = ((s << 1) | b) & (states - 1)
                    if m > next[ns] { next[ns] = m; from[ns] = Int32(s) }
                }
            }
            metric = next
            history.append(from)
        }
        // Terminated: the path ends in state 0. Trace back.
        var bits = [Int](repeating: 0, count: steps)
        var s = 0
        for t in stride(from: steps - 1, through: 0, by: -1) {
            bits[t] = s & 1
            s = Int(max(0, history[t][s]))
        }
        return Array(bits.prefix(messageBits))
    }

    /// List Viterbi decoding (the parallel list Viterbi algorithm): the `listSize` terminated paths with the
    /// largest correlation, best first, each as its `messageBits` message bits. Every state keeps its
    /// `listSize` best partial paths; the first entry is the path `decode` returns. With a CRC, the decoder
    /// takes the first listed message that checks, which recovers words whose best path is wrong in a few bits.
    static func decodeList(_ soft: [Double], messageBits: Int, listSize: Int) -> [[Int]] {
        let n = generators.count
        let steps = messageBits + tailBits
        let list = max(1, listSize)
        guard soft.count == steps * n else { return [[Int](repeating: 0, count: messageBits)] }
        let states = 1 << (constraintLength - 1)
        let outputs = branchOutputs(states: states)
        let unreachable = -Double.infinity
        // metric[state * list + rank], sorted best first per state; back[t][(state * list + rank)] = predecessor
        // (state * list + rank) at step t - 1.
        var metric = [Double](repeating: unreachable, count: states * list)
        metric[0] = 0
        var back = [[Int32]]()
        back.reserveCapacity(steps)
        for t in 0..<steps {
            var next = [Double](repeating: unreachable, count: states * list)
            var from = [Int32](repeating: -1, count: states * list)
            for ns in 0..<states {
                let b = ns & 1
                if b == 1 && t >= messageBits { continue }  // the tail feeds zeros
                // The two predecessors' lists are sorted and each gets one branch value: merge their best `list`.
                var base = [0, 0], branch = [0.0, 0.0]
                for high in 0..<2 {
                    let s = (ns >> 1) | (high << (constraintLength - 2))
                    base[high] = s * list
                    let o = outputs[s * 2 + b]
                    for k in 0..<n { branch[high] += o[k] == 1 ? soft[t * n + k] : -soft[t * n + k] }
                }
                var i0 = 0, i1 = 0
                for r in 0..<list {
                    let m0 = i0 < list ? metric[base[0] + i0] + branch[0] : unreachable
                    let m1 = i1 < list ? metric[base[1] + i1] + branch[1] : unreachable
                    if m0 == unreachable && m1 == unreachable { break }
                    if m0 >= m1 {
                        next[ns * list + r] = m0; from[ns * list + r] = Int32(base[0] + i0); i0 += 1
                    } else {
                        next[ns * list + r] = m1; from[ns * list + r] = Int32(base[1] + i1); i1 += 1
                    }
                }
            }
            metric = next
            back.append(from)
        }
        // Terminated: paths end in state 0. Trace each listed path back.
        var words: [[Int]] = []
        for r in 0..<list where metric[r] > unreachable {
            var bits = [Int](repeating: 0, count: steps)
            var entry = r  // state * list + rank after step t
            for t in stride(from: steps - 1, through: 0, by: -1) {
                bits[t] = (entry / list) & 1
                entry = Int(max(0, back[t][entry]))
            }
            words.append(Array(bits.prefix(messageBits)))
        }
        return words
    }
}
