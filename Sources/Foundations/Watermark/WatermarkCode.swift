/// The watermark's error-correcting code: the 56-bit message (32 payload bits, then their CRC-24) through the
/// standard rate-1/2, constraint-length-7 convolutional code (generators 171 and 133 octal, the NASA/Voyager
/// code, free distance 10; tap bit 0 is the newest input), terminated with 6 zero tail bits: 124 coded bits. The detector lists
/// the soft correlations' most likely messages best first (`ListDecoder`; the first is the Viterbi path,
/// maximum-likelihood over all 2⁵⁶ messages for Gaussian noise) and takes the first whose CRC checks, so each
/// message checked can be a wrong payload with probability about 2⁻²⁴.
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
    static func branchOutputs(states: Int) -> [[Int]] {
        var outputs = [[Int]](repeating: [], count: states * 2)
        for s in 0..<states {
            for b in 0..<2 {
                let full = (UInt32(s) << 1 | UInt32(b)) & 0x7F
                outputs[s * 2 + b] = generators.map { parity(full & $0) }
            }
        }
        return outputs
    }

    /// Lists the terminated paths of soft-decision Viterbi decoding best first, lazily: the serial list Viterbi
    /// algorithm (a forward Viterbi pass keeps every state's best prefix metric, then a best-first search over
    /// path suffixes from the terminal state backwards, whose bound, suffix plus best prefix, is exact). The
    /// first word is the Viterbi path (maximum likelihood over all messages for Gaussian noise); the k-th costs
    /// about one trellis length of work and memory, so a caller can stop at the first word whose CRC checks.
    /// `soft[i] > 0` favours coded bit i = 1, with magnitude its reliability (for Gaussian noise of equal
    /// variance, correlations are proportional to log-likelihood ratios).
    struct ListDecoder {
        let messageBits: Int
        private let soft: [Double]
        private let steps: Int
        private let outputs: [[Int]]
        /// prefix[t * states + s]: the best metric of a path from the start to state s after t steps.
        private var prefix: [Double]
        /// Suffix nodes: the state after `step[i]` steps, the metric of the path's remainder from there, and the
        /// node one step later on the same path (-1 for the terminal node).
        private var nodeState: [UInt8] = [], nodeStep: [UInt8] = [], nodeSuffix: [Double] = [], nodeNext: [Int32] = []
        /// A binary max-heap of (bound, node) for suffixes not yet followed.
        private var heap: [(bound: Double, node: Int32)] = []
        /// Words listed so far.
        private(set) var produced = 0

        private static var states: Int { 1 << (WatermarkCode.constraintLength - 1) }  // the last 6 input bits

        /// Decoder for `soft` (`codedBits(messageBits:)` values; any other count lists nothing).
        init(_ soft: [Double], messageBits: Int) {
            self.messageBits = messageBits
            self.soft = soft
            steps = messageBits + WatermarkCode.tailBits
            let states = Self.states
            outputs = WatermarkCode.branchOutputs(states: states)
            prefix = [Double](repeating: -.infinity, count: (steps + 1) * states)
            guard soft.count == steps * WatermarkCode.generators.count, steps < Int(UInt8.max) else { return }
            prefix[0] = 0
            for t in 0..<steps {
                for s in 0..<states where prefix[t * states + s] > -.infinity {
                    for b in 0...(t < messageBits ? 1 : 0) {
                        let ns = ((s << 1) | b) & (states - 1)
                        let m = prefix[t * states + s] + branch(step: t, from: s, input: b)
                        if m > prefix[(t + 1) * states + ns] { prefix[(t + 1) * states + ns] = m }
                    }
                }
            }
            if prefix[steps * states] > -.infinity {
                addNode(state: 0, step: steps, suffix: 0, next: -1)
                push(bound: prefix[steps * states], node: 0)
            }
        }

        /// The correlation of the branch from `state` with input bit `b` at step `t`.
        private func branch(step t: Int, from state: Int, input b: Int) -> Double {
            let o = outputs[state * 2 + b]
            var m = 0.0
            for k in 0..<o.count { m += o[k] == 1 ? soft[t * o.count + k] : -soft[t * o.count + k] }
            return m
        }

        private mutating func addNode(state: Int, step: Int, suffix: Double, next: Int) {
            nodeState.append(UInt8(truncatingIfNeeded: state)); nodeStep.append(UInt8(truncatingIfNeeded: step))
            nodeSuffix.append(suffix); nodeNext.append(Int32(truncatingIfNeeded: next))
        }

        /// The next best word's `messageBits` message bits (0/1), or nil when every path has been listed.
        mutating func next() -> [Int]? {
            guard let top = pop() else { return nil }
            // Follow the best completion down to the start, leaving each step's other predecessor on the heap.
            let states = Self.states
            var node = Int(top)
            while nodeStep[node] > 0 {
                let t = Int(nodeStep[node]), s = Int(nodeState[node]), b = s & 1
                var best: (bound: Double, node: Int)?
                for high in 0..<2 {
                    let p = (s >> 1) | (high << (WatermarkCode.constraintLength - 2))
                    guard prefix[(t - 1) * states + p] > -.infinity else { continue }
                    let suffix = nodeSuffix[node] + branch(step: t - 1, from: p, input: b)
                    addNode(state: p, step: t - 1, suffix: suffix, next: node)
                    let candidate = (bound: prefix[(t - 1) * states + p] + suffix, node: nodeState.count - 1)
                    if let kept = best {
                        if candidate.bound > kept.bound { push(bound: kept.bound, node: kept.node); best = candidate }
                        else { push(bound: candidate.bound, node: candidate.node) }
                    } else {
                        best = candidate
                    }
                }
                guard let chosen = best else { return next() }  // unreachable for a node the heap held
                node = chosen.node
            }
            // Node at step 0: read the message bits along the chain (the bit entering each step's state).
            var bits = [Int](repeating: 0, count: messageBits)
            var n = Int(nodeNext[node])
            while n >= 0 {
                let t = Int(nodeStep[n])
                if t - 1 < messageBits { bits[t - 1] = Int(nodeState[n]) & 1 }
                n = Int(nodeNext[n])
            }
            produced += 1
            return bits
        }

        private mutating func push(bound: Double, node: Int) {
            heap.append((bound, Int32(truncatingIfNeeded: node)))
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard heap[parent].bound < heap[i].bound else { break }
                heap.swapAt(parent, i)
                i = parent
            }
        }

        private mutating func pop() -> Int32? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var largest = i
                    if l < heap.count && heap[l].bound > heap[largest].bound { largest = l }
                    if r < heap.count && heap[r].bound > heap[largest].bound { largest = r }
                    if largest == i { break }
                    heap.swapAt(i, largest)
                    i = largest
                }
            }
            return top.node
        }
    }
}
