import FacetCore
import Faces
import Foundation
import Media
import NN
import Tensor
@testable import Watermark
import XCTest

/// The provenance watermark on real frames: quality, round trips (in memory, and through an FFmpeg
/// CRF-28 + half-size re-encode), no flag on unmarked media, and typed errors for bad files.
final class WatermarkTests: XCTestCase {
    let payload = WatermarkPayload(0x5eed1e55)

    /// The first `count` frames of a clip as RGB.
    func frames(_ url: URL, count: Int) throws -> [RGBImage] {
        let reader = try VideoReader(url: url)
        let converter = FrameConverter()
        var out: [RGBImage] = []
        while out.count < count, let frame = try reader.nextFrame() { out.append(try converter.rgb(frame)) }
        return out
    }

    /// Standard SSIM (11-tap Gaussian, σ 1.5, RGB) through NN's DSSIM loss: SSIM = 1 − 2·DSSIM.
    func ssim(_ a: RGBImage, _ b: RGBImage) throws -> Double {
        let shape = [1, a.height, a.width, 3]
        let x = Tensor(shape: shape, data: a.pixels.map { Float($0) / 255 })
        let y = Tensor(shape: shape, data: b.pixels.map { Float($0) / 255 })
        return 1 - 2 * Double(try Loss.standardDSSIM.evaluate(prediction: y, target: x).value)
    }

    func testPayloadHexCodableAndCRC() throws {
        XCTAssertEqual(WatermarkPayload(hexPrefix: "5eed1e55aa"), payload)
        XCTAssertEqual(payload.description, "5eed1e55")
        XCTAssertEqual(WatermarkPayload(0xA).description, "0000000a")
        XCTAssertNil(WatermarkPayload(hexPrefix: "5eed1e"))
        XCTAssertNil(WatermarkPayload(hexPrefix: "5eed1e5z"))
        let json = try JSONEncoder().encode([payload])
        XCTAssertEqual(String(decoding: json, as: UTF8.self), "[\"5eed1e55\"]")
        XCTAssertEqual(try JSONDecoder().decode([WatermarkPayload].self, from: json), [payload])
        // CRC-24/OpenPGP check value of "123456789" is 0x21CF02 (RFC 4880 parameters).
        XCTAssertEqual(WatermarkLayout.crc24(Array("123456789".utf8)), 0x21_CF02)
        XCTAssertEqual(payload.bytes, [0x5e, 0xed, 0x1e, 0x55])
        let message = WatermarkLayout.messageBits(payload)
        XCTAssertEqual(message.count, 56)
        XCTAssertEqual(message.prefix(4), [0, 1, 0, 1])  // 0x5 = 0101
        XCTAssertEqual(WatermarkLayout.payload(messageBits: message), payload)
        var corrupted = message
        corrupted[40] ^= 1
        XCTAssertNil(WatermarkLayout.payload(messageBits: corrupted), "a CRC bit flipped must not check")
        XCTAssertEqual(WatermarkLayout.codeSigns(payload).count, WatermarkLayout.codedBits)
        XCTAssertEqual(WatermarkLayout.codedBits, 124)
        // Every coded bit has exactly `cellsPerCodedBit` cells; the rest of the tile is sync.
        XCTAssertEqual(WatermarkScheme.current, .ssLuma3)
        XCTAssertEqual(WatermarkScheme.current.rawValue, "facet-ss-luma-3")
        XCTAssertEqual(WatermarkScheme.ssLuma2.syncCells, 528)
        XCTAssertEqual(WatermarkScheme.ssLuma3.syncCells, 280)
        for scheme in WatermarkScheme.allCases {
            let cells = WatermarkLayout.cells(.facet, scheme: scheme)
            XCTAssertEqual(cells.bit.filter { $0 < 0 }.count, scheme.syncCells)
            var perBit = [Int](repeating: 0, count: WatermarkLayout.codedBits)
            for b in cells.bit where b >= 0 { perBit[b] += 1 }
            XCTAssertEqual(Set(perBit), [scheme.cellsPerCodedBit], scheme.rawValue)
        }
        // The detector searches with the current scheme's sync cells: they must be sync cells (with the same
        // signs) in every scheme it reads, so one search finds files of each.
        let current = WatermarkLayout.cells(.facet, scheme: .current)
        for scheme in WatermarkScheme.readable {
            let other = WatermarkLayout.cells(.facet, scheme: scheme)
            XCTAssertEqual(other.sign, current.sign)
            for c in 0..<current.bit.count where current.bit[c] < 0 { XCTAssertLessThan(other.bit[c], 0, "\(scheme) cell \(c)") }
        }
    }

    /// The branch-free rounding the vectorised embedder uses equals `Float.rounded()` (half away from zero),
    /// on the halfway and nearly-halfway values and on seeded random values across the range it meets.
    func testBranchFreeRoundingMatchesRounded() {
        var values: [Float] = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 0.50000006, -0.50000006,
                               1.4999999, -1.4999999, 3, -3, 4.5, -4.5, 1e-7, -1e-7, 4_194_303, -4_194_303, 4_194_302.5, 1_048_575.5]
        var rng = SeededRandom(seed: 3)
        for _ in 0..<20_000 { values.append((rng.nextUnitFloat() - 0.5) * 40) }
        for v in values { XCTAssertEqual(WatermarkEmbedder.roundedToInt32(v), Int32(v.rounded()), "\(v)") }
    }

    /// The vectorised embedder writes the same bytes as its scalar reference twin: real frames, odd sizes
    /// (widths that are not whole 4-pixel blocks), saturated pixels, several strengths and masks.
    func testVectorisedEmbedEqualsScalarReference() throws {
        let d18 = TestPaths.video("d18.mp4")
        try requireSharedMedia(d18)
        let real = try frames(d18, count: 2)
        var rng = SeededRandom(seed: 11)
        var images = real
        for (w, h) in [(17, 16), (101, 57), (250, 131)] {
            var noise = RGBImage(width: w, height: h, fill: (0, 0, 0))
            for i in noise.pixels.indices {
                let r = rng.next() % 8
                noise.pixels[i] = r == 0 ? 0 : r == 1 ? 255 : UInt8(truncatingIfNeeded: rng.next())
            }
            images.append(noise)
        }
        images.append(RGBImage(width: 64, height: 48, fill: (255, 255, 255)))
        images.append(RGBImage(width: 64, height: 48, fill: (0, 0, 0)))
        var dark = WatermarkEmbedder.Mask()
        dark.darkLuma = 30
        let embedders = [WatermarkEmbedder(payload: payload), WatermarkEmbedder(payload: payload, strength: 2.7),
                         WatermarkEmbedder(payload: WatermarkPayload(7), scheme: .ssLuma2, mask: dark)]
        for embedder in embedders {
            for image in images {
                var fast = image, reference = image
                embedder.embed(into: &fast)
                embedder.embedReference(into: &reference)
                XCTAssertEqual(fast, reference, "\(image.width)x\(image.height), strength \(embedder.strength)")
                if image.width >= 64 && image.height >= 48 && image.pixels.contains(where: { $0 > 0 && $0 < 255 }) {
                    XCTAssertNotEqual(fast, image)
                }
            }
        }
    }

    /// Frames marked with the earlier layout (`facet-ss-luma-2`, a user's earlier swaps) are still found and
    /// their payload read, with the scheme named.
    func testEarlierSchemeIsStillRead() throws {
        let d18 = TestPaths.video("d18.mp4")
        try requireSharedMedia(d18)
        let embedder = WatermarkEmbedder(payload: payload, scheme: .ssLuma2)
        let detector = WatermarkDetector(settings: WatermarkDetector.Settings(relativeCellSizes: 1...1))
        for var frame in try frames(d18, count: 12) {
            embedder.embed(into: &frame)
            detector.add(frame)
        }
        let found = detector.result()
        XCTAssertTrue(found.detected, "\(found)")
        XCTAssertEqual(found.payload, payload)
        XCTAssertEqual(found.scheme, "facet-ss-luma-2")
    }

    func testFFTMatchesNaiveDFT() {
        let n = 8
        var rng = SeededRandom(seed: 7)
        let input = (0..<(n * n)).map { _ in Double(rng.nextUnitFloat()) - 0.5 }
        var re = input, im = [Double](repeating: 0, count: n * n)
        FFT2D(n: n).transform(&re, &im, inverse: false)
        for ky in 0..<n {
            for kx in 0..<n {
                var sr = 0.0, si = 0.0
                for y in 0..<n {
                    for x in 0..<n {
                        let angle = -2 * Double.pi * Double(kx * x + ky * y) / Double(n)
                        sr += input[y * n + x] * cos(angle); si += input[y * n + x] * sin(angle)
                    }
                }
                XCTAssertEqual(re[ky * n + kx], sr, accuracy: 1e-9)
                XCTAssertEqual(im[ky * n + kx], si, accuracy: 1e-9)
            }
        }
        FFT2D(n: n).transform(&re, &im, inverse: true)
        for i in 0..<(n * n) { XCTAssertEqual(re[i] / Double(n * n), input[i], accuracy: 1e-9) }
    }

    /// Marked real frames keep PSNR ≥ 42 dB and SSIM ≥ 0.995 against the unmarked ones, and only luma changes.
    func testMarkedRealFramesKeepPSNRAndSSIMAndChangeOnlyLuma() throws {
        let stage = TestPaths.video("two_people_stage.mp4"), d18 = TestPaths.video("d18.mp4")
        try requireSharedMedia(stage, d18)
        let embedder = WatermarkEmbedder(payload: payload)
        for clip in [stage, d18] {
            var ssims: [Double] = []
            for (index, original) in try frames(clip, count: 24).enumerated() where index % 8 == 0 {
                var marked = original
                embedder.embed(into: &marked)
                XCTAssertNotEqual(marked, original)
                XCTAssertGreaterThanOrEqual(psnr(original, marked), 42, "\(clip.lastPathComponent) frame \(index)")
                ssims.append(try ssim(original, marked))
                // Luma only: the same change in R, G and B (except where a channel clipped at 0 or 255).
                for p in stride(from: 0, to: marked.pixels.count, by: 3 * 97) {
                    let d = (0..<3).map { Int(marked.pixels[p + $0]) - Int(original.pixels[p + $0]) }
                    let clipped = (0..<3).contains { marked.pixels[p + $0] == 0 || marked.pixels[p + $0] == 255 }
                    if !clipped { XCTAssertTrue(d[0] == d[1] && d[1] == d[2], "chroma changed at \(p): \(d)") }
                }
            }
            XCTAssertGreaterThanOrEqual(ssims.reduce(0, +) / Double(ssims.count), 0.995, clip.lastPathComponent)
        }
    }

    /// The SSIM budget: on a textured, static clip with room (d14) every frame is boosted and its true SSIM lands
    /// at the budget's target (not under it by more than 0.0005) with PSNR ≥ 42 dB, below the fixed-strength
    /// mark's SSIM; a frame left at boost 1 is byte for byte the fixed-strength mark; no boost is below 1 or above
    /// the maximum.
    func testSSIMBudgetBoostsFramesWithRoomToTheTarget() throws {
        let d14 = TestPaths.video("d14.mp4"), stage = TestPaths.video("two_people_stage.mp4")
        try requireSharedMedia(d14, stage)
        let budget = SSIMBudget()
        let budgeted = WatermarkEmbedder(payload: payload), fixed = WatermarkEmbedder(payload: payload, budget: nil)
        XCTAssertEqual(budgeted.budget, budget)
        for clip in [d14, stage] {
            for (index, original) in try frames(clip, count: 16).enumerated() where index % 5 == 0 {
                var withBudget = original, withoutBudget = original
                budgeted.embed(into: &withBudget)
                fixed.embed(into: &withoutBudget)
                let name = "\(clip.lastPathComponent) frame \(index)"
                XCTAssertGreaterThanOrEqual(budgeted.lastBoost, 1, name)
                XCTAssertLessThanOrEqual(budgeted.lastBoost, budget.maximumBoost, name)
                XCTAssertGreaterThanOrEqual(psnr(original, withBudget), 42, name)
                if budgeted.lastBoost > 1 {
                    let boosted = try ssim(original, withBudget)
                    XCTAssertGreaterThanOrEqual(boosted, budget.target - 0.0005, name)
                    XCTAssertLessThan(boosted, try ssim(original, withoutBudget), name)
                } else {
                    XCTAssertEqual(withBudget, withoutBudget, name)
                }
                if clip == d14 { XCTAssertGreaterThan(budgeted.lastBoost, 1.05, "\(name): d14 has room (SSIM 0.9966 at boost 1)") }
            }
        }
    }

    /// `swap` measures a frame's boost on the frame as decoded: a face pasted into it then changes the mark only in
    /// the 4×4 blocks it touches, whereas a boost measured on the result moves the mark's rounding all over the frame.
    func testBoostFromTheInputFrameLeavesBlocksOutsideAPasteMarkedAsTheInput() throws {
        let d14 = TestPaths.video("d14.mp4")
        try requireSharedMedia(d14)
        let original = try XCTUnwrap(try frames(d14, count: 1).first)
        // A pasted "face": 90 × 110 px of strong texture, not on the block grid.
        var pasted = original
        var random = SeededRandom(seed: 7)
        let box = (x: 201, y: 83, width: 90, height: 110)
        for y in box.y..<(box.y + box.height) { for x in box.x..<(box.x + box.width) {
            let v = UInt8.random(in: 0...255, using: &random)
            for c in 0..<3 { pasted.pixels[3 * (y * original.width + x) + c] = v }
        } }
        let embedder = WatermarkEmbedder(payload: payload)
        var markedInput = original
        embedder.embed(into: &markedInput)
        let inputBoost = embedder.lastBoost
        var fromInput = pasted, fromResult = pasted
        embedder.embed(into: &fromInput, boostFrom: original)
        XCTAssertEqual(embedder.lastBoost, inputBoost)
        embedder.embed(into: &fromResult)
        XCTAssertNotEqual(embedder.lastBoost, inputBoost, "the paste changes the frame's boost (else this test shows nothing)")
        func changedOutside(_ image: RGBImage) -> Int {
            let x0 = box.x / 4 * 4, y0 = box.y / 4 * 4, x1 = (box.x + box.width + 3) / 4 * 4, y1 = (box.y + box.height + 3) / 4 * 4
            var count = 0
            for y in 0..<original.height { for x in 0..<original.width where !(x0..<x1 ~= x && y0..<y1 ~= y) {
                let p = 3 * (y * original.width + x)
                if image.pixels[p..<(p + 3)] != markedInput.pixels[p..<(p + 3)] { count += 1 }
            } }
            return count
        }
        XCTAssertEqual(changedOutside(fromInput), 0, "outside the pasted blocks, marked exactly as the input frame")
        // Measuring only the changed bands again gives the bytes measuring every band gives.
        let everyBand = WatermarkEmbedder(payload: payload)
        everyBand.reusesUnchangedBands = false
        var wholePass = pasted
        everyBand.embed(into: &wholePass, boostFrom: original)
        XCTAssertEqual(fromInput, wholePass)
        XCTAssertGreaterThan(changedOutside(fromResult), 0, "a boost measured on the result moves the mark elsewhere too")
    }

    /// A still carries one frame of evidence and its own picture interferes with the mark as strongly as the mark
    /// itself; the informed embedding for stills (`StillWatermark`) answers that interference per coded bit. On
    /// real photos (LFW, 250 px) far fewer coded bits are read wrong than with the nominal mark, as a lossless
    /// file and after a JPEG q75 re-encode (so more files are read: `benchmarks/watermark/STILLS.md`), at
    /// PSNR ≥ 42 dB, changing luma only, and a payload read is never a wrong one.
    func testInformedStillMarkIsReadWrongInFarFewerBits() throws {
        let root = TestPaths.faces.appendingPathComponent("identities")
        try requireSharedMedia(root)
        let people = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted().prefix(5)
        let photos = try people.map { person -> URL in
            let folder = root.appendingPathComponent(person)
            return folder.appendingPathComponent(try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().first))
        }
        let jpeg = try ImageEncoder(format: .jpeg, quality: 75)
        let cells = WatermarkLayout.cells(.facet, scheme: .current), code = WatermarkLayout.codeSigns(payload)
        // Coded bits read wrong: [nominal, informed] × [lossless, after JPEG q75].
        var wrong = [[0, 0], [0, 0]]
        for photo in photos {
            let original = try ImageDecoder.decode(fileAt: photo)
            var nominal = original, informed = original
            WatermarkEmbedder(payload: payload).embed(into: &nominal)
            StillWatermark.embed(into: &informed, payload: payload)
            XCTAssertGreaterThanOrEqual(psnr(original, informed), 42, photo.lastPathComponent)
            for p in stride(from: 0, to: informed.pixels.count, by: 3 * 31) {
                let d = (0..<3).map { Int(informed.pixels[p + $0]) - Int(original.pixels[p + $0]) }
                let clipped = (0..<3).contains { informed.pixels[p + $0] == 0 || informed.pixels[p + $0] == 255 }
                if !clipped { XCTAssertTrue(d[0] == d[1] && d[1] == d[2], "chroma changed at \(p): \(d)") }
            }
            for (way, image) in [nominal, informed].enumerated() {
                for (attack, copy) in [image, try ImageDecoder.decode(try jpeg.encode(image), path: "q75.jpg")].enumerated() {
                    wrong[way][attack] += StillWatermark.reading(copy, key: .facet, cells: cells, code: code).filter { $0 <= 0 }.count
                    if way == 1 {
                        let detector = WatermarkDetector()
                        detector.add(copy)
                        if let read = detector.result().payload { XCTAssertEqual(read, payload, "\(photo.lastPathComponent): a wrong payload") }
                    }
                }
            }
        }
        print("coded bits read wrong over 5 stills (nominal, informed): lossless \(wrong[0][0]), \(wrong[1][0]); JPEG q75 \(wrong[0][1]), \(wrong[1][1])")
        XCTAssertLessThan(Double(wrong[1][0]), 0.75 * Double(wrong[0][0]))
        XCTAssertLessThan(wrong[1][1], wrong[0][1])
    }

    /// A picture of 320 px or more gets the tiled still layout (8-px cells, the tile repeated): a 640x360 frame is
    /// read with the right payload as written, after JPEG q75 and at half size, at the tiled cell size; the
    /// unmarked frame is not flagged.
    func testTiledStillIsReadAfterJPEGAndHalfSize() throws {
        let stage = TestPaths.video("two_people_stage.mp4")
        try requireSharedMedia(stage)
        let original = try XCTUnwrap(try frames(stage, count: 1).first)
        XCTAssertTrue(WatermarkLayout.tilesStill(width: original.width, height: original.height))
        var informed = original
        StillWatermark.embed(into: &informed, payload: payload)
        XCTAssertGreaterThanOrEqual(psnr(original, informed), 42)
        let q75 = try ImageEncoder(format: .jpeg, quality: 75)
        func detect(_ image: RGBImage) -> WatermarkDetection {
            let detector = WatermarkDetector()
            detector.add(image)
            return detector.result()
        }
        let half = FaceWarp.resized(informed, width: informed.width / 2, height: informed.height / 2)
        for (name, copy) in [("as written", informed), ("JPEG q75", try ImageDecoder.decode(try q75.encode(informed), path: "q75.jpg")),
                             ("half size", half)] {
            let found = detect(copy)
            XCTAssertTrue(found.detected, name)
            XCTAssertEqual(found.payload, payload, name)
            XCTAssertEqual(found.cellSize, WatermarkLayout.stillCellSize * (name == "half size" ? 0.5 : 1), accuracy: 0.3, name)
        }
        XCTAssertFalse(detect(original).detected, "unmarked")
    }

    /// The detector finds the mark in a few marked real frames, at the right scale, and in their mirror image,
    /// and reads the exact payload from both.
    func testRoundTripOnRealFramesFindsMarkAlsoMirrored() throws {
        let d18 = TestPaths.video("d18.mp4")
        try requireSharedMedia(d18)
        let embedder = WatermarkEmbedder(payload: payload)
        // The frames are not resized or cropped: search the expected cell size only (fewer hypotheses, so a
        // lower z suffices for the same false-positive bound), in the picture and its mirror.
        let settings = WatermarkDetector.Settings(relativeCellSizes: 1...1)
        let detector = WatermarkDetector(settings: settings), mirrored = WatermarkDetector(settings: settings)
        let clip = try frames(d18, count: 12)
        for var frame in clip {
            embedder.embed(into: &frame)
            detector.add(frame)
            mirrored.add(frame.mirrored())
        }
        let found = detector.result(), flipped = mirrored.result()
        XCTAssertTrue(found.detected, "\(found)")
        XCTAssertLessThan(found.falsePositiveProbability, 1e-6)
        XCTAssertFalse(found.flipped)
        XCTAssertEqual(found.framesUsed, 12)
        XCTAssertEqual(found.cellSize, WatermarkLayout.cellSize(width: clip[0].width, height: clip[0].height), accuracy: 0.01 * found.cellSize)
        XCTAssertTrue(flipped.detected, "mirrored: \(flipped)")
        XCTAssertTrue(flipped.flipped)
        XCTAssertEqual(found.payload, payload)
        XCTAssertEqual(flipped.payload, payload)
        XCTAssertEqual(found.scheme, WatermarkScheme.current.rawValue)
        // At the true geometry the coded bits are read with a clear margin.
        let margin = detector.diagnose(payload: payload)
        XCTAssertGreaterThan(margin.codedBitSNR, 1, "\(margin)")
    }

    /// Unmarked media is not flagged: real clips, a still, and marked frames checked under another key.
    func testUnwatermarkedMediaIsNotFlagged() throws {
        let d18 = TestPaths.video("d18.mp4"), still = TestPaths.repo.appendingPathComponent("Datasets/samples/lin-manuel-miranda.jpg")
        try requireSharedMedia(d18)
        var settings = WatermarkDetector.Settings()
        settings.maxFrames = 20
        for url in [d18, still] {
            let report = try ProvenanceCheck.check(url: url, settings: settings)
            XCTAssertFalse(report.detected, "\(url.lastPathComponent): \(report)")
            XCTAssertNil(report.payload)
            XCTAssertEqual(report.exitStatus, .notFound)
            XCTAssertEqual(report.exitStatus.rawValue, 3)
            XCTAssertGreaterThan(report.falsePositiveProbability, 1e-3)
        }
        let otherKey = WatermarkDetector(key: WatermarkKey(seed: 42))
        let embedder = WatermarkEmbedder(payload: payload)
        for var frame in try frames(d18, count: 6) {
            embedder.embed(into: &frame)
            otherKey.add(frame)
        }
        XCTAssertFalse(otherKey.result().detected)
    }

    func testDamagedMissingAndNonMediaFilesGiveTypedErrors() throws {
        let dir = try makeTemporaryDirectory()
        let text = dir.appendingPathComponent("notes.mp4"), empty = dir.appendingPathComponent("empty.jpg")
        let truncated = dir.appendingPathComponent("cut.mp4")
        try Data("this is not a video\n".utf8).write(to: text)
        try Data().write(to: empty)
        let whole = try Data(contentsOf: TestPaths.repo.appendingPathComponent("Datasets/samples/d18.mp4"))
        try whole.prefix(whole.count / 3).write(to: truncated)
        let cases: [(URL, ExitStatus)] = [(dir.appendingPathComponent("missing.mp4"), .noInput), (text, .dataError),
                                          (empty, .dataError), (truncated, .dataError)]
        for (url, status) in cases {
            XCTAssertThrowsError(try ProvenanceCheck.check(url: url)) { error in
                guard let facet = error as? FacetError else { return XCTFail("untyped error \(error)") }
                XCTAssertEqual(facet.exitStatus, status, "\(url.lastPathComponent): \(facet)")
                XCTAssertTrue(facet.description.contains(url.lastPathComponent), facet.description)
            }
        }
        // A folder is checked as its media files; a folder with none (only notes, hidden files, subfolders) is an
        // error naming it (66), as is a missing path.
        let bare = dir.appendingPathComponent("no-media")
        try FileManager.default.createDirectory(at: bare.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("notes\n".utf8).write(to: bare.appendingPathComponent("readme.txt"))
        try Data().write(to: bare.appendingPathComponent(".hidden.jpg"))
        for url in [bare, dir.appendingPathComponent("gone")] {
            XCTAssertThrowsError(try ProvenanceCheck.files([url])) { error in
                guard let facet = error as? FacetError else { return XCTFail("untyped error \(error)") }
                XCTAssertEqual(facet.exitStatus, .noInput, "\(facet)")
                XCTAssertTrue(facet.description.contains(url.lastPathComponent), facet.description)
            }
        }
        XCTAssertEqual(try ProvenanceCheck.files([dir]).map(\.lastPathComponent), ["cut.mp4", "empty.jpg", "notes.mp4"])
    }

    /// Marks 2 s of a real clip as swap will (H.264 via VideoWriter, with the synthetic label), checks the label
    /// and the sidecar, then re-encodes it with the ffmpeg CLI at half size and CRF 28 and reads the exact
    /// payload again (the goal row).
    func testCRF28HalfSizeReencodeRoundTripThroughFFmpeg() throws {
        let clip = TestPaths.video("d6.mp4")
        try requireSharedMedia(clip)
        let env = try requireFFmpeg()
        let dir = try makeTemporaryDirectory()
        let marked = dir.appendingPathComponent("marked.mp4"), attacked = dir.appendingPathComponent("attacked.mp4")
        XCTAssertEqual(try mark(clip, frames: 60, into: marked), 60)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: marked.path + ".provenance.json"))
        var settings = WatermarkDetector.Settings()
        settings.maxFrames = 90
        let first = try ProvenanceCheck.check(url: marked, settings: settings)
        XCTAssertTrue(first.detected, "\(first)")
        XCTAssertEqual(first.payload, payload)
        XCTAssertEqual(first.containerLabel, "true")
        XCTAssertEqual(first.containerMetadata?["comment"], "synthetic (test)")
        XCTAssertEqual(first.sidecar, marked.path + ".provenance.json")
        XCTAssertEqual(first.kind, "video")

        let ffmpeg = try runProcess(env, ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", marked.path, "-vf", "scale=240:240",
                                          "-c:v", "libx264", "-crf", "28", "-map_metadata", "-1", "-an", attacked.path], timeout: 300)
        XCTAssertEqual(ffmpeg.status, 0, ffmpeg.stderr)
        settings.maxFrames = 450
        let second = try ProvenanceCheck.check(url: attacked, settings: settings)
        XCTAssertTrue(second.detected, "\(second)")
        XCTAssertLessThan(second.falsePositiveProbability, 1e-6)
        XCTAssertNil(second.sidecar)
        XCTAssertNil(second.containerLabel)
        XCTAssertEqual(second.payload, payload)
        XCTAssertEqual(second.scheme, "facet-ss-luma-3")
        XCTAssertEqual(second.framesUsed, 60)
    }

    /// Marks `frames` frames of `clip` from the `skip`-th on and writes them as H.264 CRF 18 at 30 frames/s
    /// (labelled synthetic); returns the frames written.
    @discardableResult
    func mark(_ clip: URL, skip: Int = 0, frames count: Int, into output: URL, payload: WatermarkPayload? = nil) throws -> Int {
        let reader = try VideoReader(url: clip)
        let writer = try VideoWriter(url: output, options: VideoWriterOptions(
            width: reader.info.displayWidth / 2 * 2, height: reader.info.displayHeight / 2 * 2, frameRateNumerator: 30, crf: 18,
            metadata: ["comment": "synthetic (test)", "facet_synthetic": "true"]))
        let embedder = WatermarkEmbedder(payload: payload ?? self.payload)
        let converter = FrameConverter()
        var seen = 0, written = 0
        while written < count, let frame = try reader.nextFrame() {
            seen += 1
            guard seen > skip else { continue }
            var image = try converter.rgb(frame, width: reader.info.displayWidth / 2 * 2, height: reader.info.displayHeight / 2 * 2)
            embedder.embed(into: &image)
            try writer.write(image, seconds: Double(written) / 30)
            written += 1
        }
        try writer.finish()
        return written
    }

    /// 60 frames of d14 (a mostly static clip) from the `skip`-th on, marked with `payload` as `mark` does, then
    /// halved and re-encoded at CRF 28 with the ffmpeg CLI (the goal row's attack); the attacked file.
    func d14MarkedThenHalvedAtCRF28(skip: Int, payload: WatermarkPayload) throws -> URL {
        let clip = TestPaths.video("d14.mp4")
        try requireSharedMedia(clip)
        let env = try requireFFmpeg()
        let dir = try makeTemporaryDirectory()
        let marked = dir.appendingPathComponent("marked.mp4"), attacked = dir.appendingPathComponent("attacked.mp4")
        XCTAssertEqual(try mark(clip, skip: skip, frames: 60, into: marked, payload: payload), 60)
        let ffmpeg = try runProcess(env, ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", marked.path, "-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2",
                                          "-c:v", "libx264", "-crf", "28", "-an", attacked.path], timeout: 300)
        XCTAssertEqual(ffmpeg.status, 0, ffmpeg.stderr)
        return attacked
    }

    /// A mostly static clip (d14: a face before a still room, black side bars) keeps its own content at the
    /// mark's frequencies in every frame, so that interference adds up over frames like the mark. After a
    /// half-size CRF-28 re-encode of 2 s, the payload is read among the list decoder's first words only with the
    /// folded tile's spectral whitening (`Settings.spectralWhitening`), which flattens that content's spectrum
    /// before the mark is read.
    func testSpectralWhiteningReadsAStaticClipAfterHalfSizeCRF28() throws {
        let attacked = try d14MarkedThenHalvedAtCRF28(skip: 30, payload: payload)
        // The first words only (no deep search, which reads this file either way): the whitening's own gain.
        var whitened = WatermarkDetector.Settings()
        whitened.deepListSize = 1
        let found = try ProvenanceCheck.check(url: attacked, settings: whitened)
        XCTAssertTrue(found.detected, "\(found)")
        XCTAssertEqual(found.payload, payload)
        var plain = whitened
        plain.spectralWhitening = 0
        let without = try ProvenanceCheck.check(url: attacked, settings: plain)
        XCTAssertNil(without.payload, "read without whitening too: the clip no longer shows the difference")
    }

    /// A static clip's first 2 s marked with a payload whose codeword its own content cancels on many coded bits
    /// (d14 with `0badf00d`, a miss of the benchmark's goal row before the deep search), halved and re-encoded at
    /// CRF 28: the sync is clear, but no word among the list decoder's first 64 checks. The deep search
    /// (`Settings.deepListSize`) lists on and reads the exact payload, detected with a false-positive bound under
    /// the threshold; with the deep search off the same file gives no payload.
    func testDeepListSearchReadsAPayloadTheFirstWordsMiss() throws {
        let hard = WatermarkPayload(0x0badf00d)
        let attacked = try d14MarkedThenHalvedAtCRF28(skip: 0, payload: hard)
        var shallow = WatermarkDetector.Settings()
        shallow.deepListSize = 1
        let without = try ProvenanceCheck.check(url: attacked, settings: shallow)
        XCTAssertNil(without.payload, "read among the first words: the clip no longer shows the deep search's gain")
        let found = try ProvenanceCheck.check(url: attacked)
        XCTAssertTrue(found.detected, "\(found)")
        XCTAssertEqual(found.payload, hard)
        XCTAssertLessThan(found.falsePositiveProbability, 1e-6)
        // Found past the first 1,152 words: the chance of a wrong word is stated, and bounded by the deep search.
        let bound = try XCTUnwrap(found.payloadErrorBound)
        XCTAssertGreaterThan(bound, 1152 / 16_777_216.0)
        XCTAssertLessThanOrEqual(bound, Double(1152 + 2 * (65536 - 64)) / 16_777_216.0)
    }

    /// The whitening's pieces: a flat filter leaves the equaliser's kernel as it is, and the gains of a tile of
    /// white noise are nearly flat (no frequency singled out).
    func testSpectralWhiteningPieces() {
        let m = WatermarkLayout.binsPerTile
        let ones = [Double](repeating: 1, count: m * m)
        let flat = WatermarkLayout.interCellSpectrum(binFilter: ones)
        for (a, b) in zip(flat, WatermarkLayout.interCellSpectrum) { XCTAssertEqual(a, b, accuracy: 1e-9 * max(1, abs(b))) }
        var rng = SeededRandom(seed: 7)
        let noise = (0..<(m * m)).map { _ in Double(rng.next() % 2001) / 1000 - 1 }
        let (re, im) = FFT2D(n: m).spectrum(of: noise)
        let gains = WatermarkDetector.whiteningGains(power: zip(re, im).map { $0 * $0 + $1 * $1 }, exponent: 2, smoothing: 4).sorted()
        let median = gains[gains.count / 2]
        // Power smoothed over 81 bins of white noise: within a factor of about 1.6 of the median almost everywhere.
        XCTAssertLessThan(gains[gains.count * 99 / 100] / median, 1.8)
        XCTAssertGreaterThan(gains[gains.count / 100] / median, 0.55)
    }

    /// `/usr/bin/env`, to run the ffmpeg CLI through, once ffmpeg is known to run: a failure under CI, else a skip.
    func requireFFmpeg() throws -> URL {
        let env = URL(fileURLWithPath: "/usr/bin/env")
        guard (try? runProcess(env, ["ffmpeg", "-version"]))?.status == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("ffmpeg missing (make setup installs it)") }
            throw XCTSkip("ffmpeg is not installed")
        }
        return env
    }
}
