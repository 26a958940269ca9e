import Crypto
import Foundation

// sha256-bench FILE [CROPS] [CROP_BYTES]
// 1. FILE (e.g. 1 GB) streamed in 1 MiB chunks through each implementation: seconds and MB/s, best of 3.
// 2. CROPS in-memory buffers of CROP_BYTES random bytes (what detect and dedupe hash per crop), each
//    hashed from scratch to a hex digest (the same hex formatting for both): microseconds per crop, best of 3.
// Both implementations must agree on every digest (checked).

func pad(_ s: String) -> String { s.padding(toLength: 20, withPad: " ", startingAt: 0) }
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 { bytes.map { String(format: "%02x", $0) }.joined() }

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { print("usage: sha256-bench FILE [CROPS] [CROP_BYTES]"); exit(64) }
let file = arguments[1]
let cropCount = arguments.count > 2 ? Int(arguments[2]) ?? 5000 : 5000
let cropBytes = arguments.count > 3 ? Int(arguments[3]) ?? 40000 : 40000

func streamFile(_ body: (Data) -> Void) -> Int {
    guard let handle = FileHandle(forReadingAtPath: file) else { print("cannot read \(file)"); exit(66) }
    defer { try? handle.close() }
    var total = 0
    while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { body(chunk); total += chunk.count }
    return total
}

var fileDigests: [String: String] = [:]
var fileResults: [(String, Double, Int)] = []
for name in ["hand-written", "swift-crypto"] {
    var best = Double.infinity, size = 0
    for _ in 0..<3 {
        let start = now()
        if name == "hand-written" {
            var h = HandWrittenSHA256()
            size = streamFile { h.update($0) }
            fileDigests[name] = hex(h.finalize())
        } else {
            var h = Crypto.SHA256()
            size = streamFile { h.update(data: $0) }
            fileDigests[name] = hex(h.finalize())
        }
        best = min(best, now() - start)
    }
    fileResults.append((name, best, size))
}
guard Set(fileDigests.values).count == 1 else { print("digests differ: \(fileDigests)"); exit(1) }
for (name, seconds, size) in fileResults {
    print("file   \(pad(name)) " + String(format: "%7.3f s  %8.1f MB/s  (%d bytes, best of 3, streamed in 1 MiB chunks)", seconds, Double(size) / seconds / 1e6, size))
}

// Random bytes from SplitMix64, eight at a time (fast enough to make hundreds of MB).
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
let crops: [Data] = (0..<cropCount).map { _ in
    var words = [UInt64](repeating: 0, count: (cropBytes + 7) / 8)
    for i in words.indices {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        words[i] = z ^ (z >> 31)
    }
    return words.withUnsafeBytes { Data($0.prefix(cropBytes)) }
}
var cropResults: [(String, Double)] = []
var firstDigests: [String: [String]] = [:]
for name in ["hand-written", "swift-crypto"] {
    var best = Double.infinity
    for _ in 0..<3 {
        var digests: [String] = []
        digests.reserveCapacity(crops.count)
        let start = now()
        for crop in crops {
            if name == "hand-written" {
                var h = HandWrittenSHA256()
                h.update(crop)
                digests.append(hex(h.finalize()))
            } else {
                digests.append(hex(Crypto.SHA256.hash(data: crop)))
            }
        }
        best = min(best, now() - start)
        firstDigests[name] = Array(digests.prefix(100))
    }
    cropResults.append((name, best))
}
guard firstDigests["hand-written"] == firstDigests["swift-crypto"] else { print("crop digests differ"); exit(1) }
for (name, seconds) in cropResults {
    print("crops  \(pad(name)) " + String(format: "%7.3f s  %8.1f us/crop  %8.1f MB/s  (%d crops of %d bytes, hex digest each, best of 3)",
                 seconds, seconds / Double(cropCount) * 1e6, Double(cropCount * cropBytes) / seconds / 1e6, cropCount, cropBytes))
}
