import FacetCore
import Foundation
import XCTest

final class SHA256Tests: XCTestCase {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testPaddingBoundaries() {
        // Lengths around the 55/56/64-byte padding edges must all agree with the one-shot digest of
        // the same bytes fed one at a time.
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129] {
            let data = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            var hasher = SHA256()
            for byte in data { hasher.update(Data([byte])) }
            XCTAssertEqual(hex(hasher.finalize()), SHA256.hex(data), "length \(length)")
        }
    }

    func testStreamingInRandomChunksEqualsOneShot() {
        var rng = SplitMix64(seed: 0xFACE_7E57)
        for trial in 0..<40 {
            let length = Int.random(in: 0...5000, using: &rng)
            let data = Data(rng.bytes(length))
            let expected = SHA256.hex(data)
            var hasher = SHA256()
            var offset = 0
            while offset < data.count {
                // Chunk sizes from 0 (an empty update) to a few blocks, so chunks straddle block edges.
                let size = min(Int.random(in: 0...200, using: &rng), data.count - offset)
                hasher.update(data.subdata(in: offset..<(offset + size)))
                offset += size
            }
            XCTAssertEqual(hex(hasher.finalize()), expected, "trial \(trial), \(length) bytes")
        }
    }

    func testStreamingThroughRawBuffers() {
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0) })
        var hasher = SHA256()
        data.withUnsafeBytes { raw in
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[0..<10]))
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[10..<10]))
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[10..<700]))
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[700..<1000]))
        }
        XCTAssertEqual(hex(hasher.finalize()), SHA256.hex(data))
    }

    func testFileDigestMatchesSha256sum() throws {
        let dir = try makeTemporaryDirectory()
        var rng = SplitMix64(seed: 99)
        // Larger than the 1 MiB read chunk, and not a multiple of it or of 64.
        let file = dir.appendingPathComponent("random file ü.bin")
        try Data(rng.bytes(1_048_576 + 12_345)).write(to: file)
        let empty = dir.appendingPathComponent("empty.bin")
        try Data().write(to: empty)
        let expected = try sha256sum([file, empty])
        XCTAssertEqual(try SHA256.hex(fileAt: file), expected[file.path])
        XCTAssertEqual(try SHA256.hex(fileAt: empty), expected[empty.path])
        XCTAssertEqual(try SHA256.hex(fileAt: empty), SHA256.hex(Data()))
    }

    func testFileDigestOfMissingFileThrowsMissing() {
        let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/x.bin")
        XCTAssertThrowsError(try SHA256.hex(fileAt: url)) { error in
            XCTAssertEqual(error as? FileError, .missing(path: url.path))
            XCTAssertEqual((error as? FileError)?.exitStatus, .noInput)
        }
    }
}

final class AtomicFileTests: XCTestCase {
    func testWritesCreatesFoldersAndOverwrites() throws {
        let dir = try makeTemporaryDirectory()
        let url = dir.appendingPathComponent("a/b/c/out.json")
        try AtomicFile.write(Data("first".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("first".utf8))
        try AtomicFile.write(Data("second, longer".utf8), to: url, durable: false)
        XCTAssertEqual(try Data(contentsOf: url), Data("second, longer".utf8))
        try AtomicFile.write(Data(), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data())
        XCTAssertEqual(temporaryFiles(in: dir), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["out.json"])
    }

    func testManyWritesLeaveNoTemporaryFiles() throws {
        let dir = try makeTemporaryDirectory()
        var rng = SplitMix64(seed: 7)
        for i in 0..<30 {
            let data = Data(rng.bytes(Int.random(in: 0...4096, using: &rng)))
            let url = dir.appendingPathComponent("f\(i % 5).bin")
            try AtomicFile.write(data, to: url, durable: i % 2 == 0)
            XCTAssertEqual(try Data(contentsOf: url), data)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(),
                       ["f0.bin", "f1.bin", "f2.bin", "f3.bin", "f4.bin"])
    }

    func testWriteIntoUnwritableLocationThrowsWriteFailed() throws {
        let dir = try makeTemporaryDirectory()
        // A regular file where a folder is needed.
        let blocker = dir.appendingPathComponent("blocker")
        try Data("x".utf8).write(to: blocker)
        XCTAssertThrowsError(try AtomicFile.write(Data("y".utf8), to: blocker.appendingPathComponent("out.txt"))) { error in
            guard case .writeFailed? = error as? FileError else { return XCTFail("expected writeFailed, got \(error)") }
            XCTAssertEqual((error as? FileError)?.exitStatus, .failure)
        }
        XCTAssertEqual(temporaryFiles(in: dir), [])
    }

    func testFullDiskThrowsDiskFullAndKeepsPreviousContent() throws {
        let mount = try mountTmpfs(size: "64k")
        let url = mount.appendingPathComponent("state.bin")
        let previous = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0) })
        try AtomicFile.write(previous, to: url)
        XCTAssertThrowsError(try AtomicFile.write(Data(repeating: 0x5A, count: 200 * 1024), to: url)) { error in
            XCTAssertEqual(error as? FileError, .diskFull(path: url.path))
            XCTAssertEqual((error as? FileError)?.exitStatus, .failure)
            XCTAssertTrue("\(error)".contains("disk full"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: url), previous, "the previous content must survive a failed write")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount.path), ["state.bin"], "no temporary file may be left")
    }
}

final class ExitStatusTests: XCTestCase {
    func testDocumentedCodes() {
        XCTAssertEqual(ExitStatus.ok.rawValue, 0)
        XCTAssertEqual(ExitStatus.failure.rawValue, 1)
        XCTAssertEqual(ExitStatus.usage.rawValue, 64)
        XCTAssertEqual(ExitStatus.dataError.rawValue, 65)
        XCTAssertEqual(ExitStatus.noInput.rawValue, 66)
    }

    func testFileErrorsNameTheirPath() {
        let errors: [FileError] = [.missing(path: "/p/a"), .unreadable(path: "/p/a", reason: "r"),
                                   .writeFailed(path: "/p/a", reason: "r"), .diskFull(path: "/p/a")]
        for error in errors { XCTAssertTrue(error.description.hasPrefix("/p/a: "), error.description) }
        XCTAssertEqual(errors.map(\.exitStatus), [.noInput, .noInput, .failure, .failure])
    }
}

/// `timestamp`: the catalog's and manifests' time stamps, as `ISO8601DateFormatter` prints them.
final class TimestampTests: XCTestCase {
    func testEqualsTheFormatterOnSeededDates() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var rng = SeededRandom(seed: 3)
        var dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_796_000_000.999), Date(timeIntervalSince1970: 951_782_400),
                     Date(timeIntervalSince1970: 253_402_300_799)]  // 9999-12-31T23:59:59Z
        for _ in 0..<500 { dates.append(Date(timeIntervalSince1970: Double.random(in: 0..<4_102_444_800, using: &rng))) }
        for date in dates { XCTAssertEqual(timestamp(date), formatter.string(from: date), "\(date.timeIntervalSince1970)") }
        XCTAssertEqual(timestamp(Date(timeIntervalSince1970: 1_796_000_000)), "2026-11-30T00:53:20Z")
    }

    /// `zeroPadded` prints what `%0Nd` prints, for the numbered frame and crop names.
    func testZeroPaddedEqualsPrintf() {
        for value in [0, 7, 42, 999_999, 1_000_000, 123_456_789, -5, -123_456, Int.max, Int.min] {
            for width in [0, 1, 6, 12] {
                XCTAssertEqual(zeroPadded(value, width: width), String(format: width > 0 ? "%0\(width)ld" : "%ld", value), "\(value), width \(width)")
            }
        }
    }
}
