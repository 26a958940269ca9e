@testable import FaceDetect
@testable import Faces
import Foundation
import Media
import Models
import Tensor
import XCTest

/// The parts of `detect` below the tool: turned frames, the mask fast path, smoothing, the tracker's size rule.
final class FaceDetectLibraryTests: XCTestCase {
    func testTurnedFrameIsFoundWithRotations() throws {
        let image = try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))
        let analyzer = try FaceAnalyzer(range: .full, settings: .init(tryRotations: true), store: ModelStore())
        let upright = try XCTUnwrap(analyzer.locate(image, tiles: 1).first)
        XCTAssertEqual(upright.rotation, 0)
        // The frame as a camera held sideways would store it: the face lies on its side.
        let sideways = image.rotated(clockwise: 270)
        let found = analyzer.locate(sideways, tiles: 1)
        XCTAssertEqual(found.count, 1)
        let face = try XCTUnwrap(found.first)
        // Nose tip (mesh 1) of the upright face, turned 270° clockwise: (x, y) -> (y, w - x).
        let nose = upright.mesh[1]
        XCTAssertEqual(face.mesh[1].x, nose.y, accuracy: 4)
        XCTAssertEqual(face.mesh[1].y, Double(image.width) - nose.x, accuracy: 4)
        let pose = try XCTUnwrap(HeadPose(mesh: face.mesh))
        XCTAssertEqual(abs(pose.roll), 90, accuracy: 10)
    }

    /// The pool (one analyzer per worker, layers run serially) finds exactly what one analyzer finds frame by frame.
    func testAnalyzerPoolEqualsOneAnalyzerFrameByFrame() throws {
        let reader = try VideoReader(url: TestPaths.repo.appendingPathComponent("Datasets/samples/two_people_stage.mp4"), options: .reproducible())
        let converter = FrameConverter()
        var images: [RGBImage] = []
        var decoded = 0
        while images.count < 40, let frame = try reader.nextFrame() {
            if decoded % 4 == 0 { images.append(try converter.rgb(frame)) }
            decoded += 1
        }
        let one = try FaceAnalyzer(range: .full, settings: .init(), store: ModelStore())
        let pool = try FaceAnalyzerPool(range: .full, settings: .init(), store: ModelStore(), workers: 3)
        let expected = images.map { one.locate($0, tiles: 1) }
        let found = pool.locate(images, tiles: 1)
        XCTAssertEqual(found.count, expected.count)
        XCTAssertGreaterThanOrEqual(expected.joined().count, 20, "faces to compare (two people on stage)")
        for (k, (a, b)) in zip(found, expected).enumerated() {
            XCTAssertEqual(a.count, b.count, "frame \(k)")
            for (x, y) in zip(a, b) {
                XCTAssertEqual(x.detection, y.detection, "frame \(k)")
                XCTAssertEqual(x.mesh, y.mesh, "frame \(k)")
                XCTAssertEqual(x.points5, y.points5, "frame \(k)")
                XCTAssertEqual(x.presence, y.presence, "frame \(k)")
            }
        }
        XCTAssertEqual(pool.workers, 3)
    }

    /// The network input crops and the aligned face crop are the same bytes and floats with the C sampler as with
    /// the Swift loop (FastKernels off), on a real photo.
    func testCropsAreTheSameWithTheFastSampler() throws {
        let image = try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))
        let face = try XCTUnwrap(try FaceAnalyzer(range: .full, settings: .init(), store: ModelStore()).locate(image, tiles: 1).first)
        let alignment = try XCTUnwrap(FaceAlignment(mesh: face.mesh, size: 256, centering: .face))
        func crops() -> (RGBImage, [Float], [Float]) {
            var network = [Float](repeating: 0, count: 192 * 192 * 3), unrounded = network
            ImageSampling.affineCrop(image, size: 192, originX: 40.25, originY: -17.5, axisU: (1.7, 0.31), axisV: (-0.29, 1.69),
                                     border: .zero, scale: 1 / 127.5, offset: -1, into: &network)
            ImageSampling.affineCrop(image, size: 192, originX: 300, originY: 100, axisU: (0.9, 0), axisV: (0, 0.9),
                                     border: .replicate, scale: 1, offset: 0, round: false, into: &unrounded)
            return (alignment.crop(image: image), network, unrounded)
        }
        let saved = FastKernels.level
        defer { FastKernels.level = saved }
        FastKernels.level = .portable
        let reference = crops()
        for level in KernelLevel.allCases where level > .portable && level <= FastKernels.supported {
            FastKernels.level = level
            let fast = crops()
            XCTAssertEqual(fast.0, reference.0, "aligned crop, \(level)")
            XCTAssertEqual(fast.1.map(\.bitPattern), reference.1.map(\.bitPattern), "network crop, \(level)")
            XCTAssertEqual(fast.2.map(\.bitPattern), reference.2.map(\.bitPattern), "unrounded crop, \(level)")
        }
    }

    func testUnturnInvertsTheTurn() {
        var rng = SplitMix64(seed: 11)
        let w = 640, h = 360
        for _ in 0..<50 {
            let x = Double(rng.next() % 500), y = Double(rng.next() % 250), s = Double(20 + rng.next() % 80)
            let keypoints = (0..<6).map { _ in Point2(x + Double(rng.next() % UInt64(s)), y + Double(rng.next() % UInt64(s))) }
            let d = FaceDetection(x: x, y: y, width: s, height: s, score: 0.9, keypoints: keypoints)
            for degrees in [90, 180, 270] {
                // Turn the detection into the frame turned clockwise by `degrees`, then back.
                func turn(_ p: Point2) -> Point2 {
                    switch degrees {
                    case 90: return Point2(Double(h) - p.y, p.x)
                    case 180: return Point2(Double(w) - p.x, Double(h) - p.y)
                    default: return Point2(p.y, Double(w) - p.x)
                    }
                }
                let corners = [Point2(x, y), Point2(x + s, y + s)].map(turn)
                let turned = FaceDetection(x: min(corners[0].x, corners[1].x), y: min(corners[0].y, corners[1].y), width: s, height: s,
                                           score: 0.9, keypoints: keypoints.map(turn))
                let back = FaceAnalyzer.unturn(turned, degrees: degrees, width: w, height: h)
                XCTAssertEqual(back.x, x, accuracy: 1e-9); XCTAssertEqual(back.y, y, accuracy: 1e-9)
                for (a, b) in zip(back.keypoints, keypoints) {
                    XCTAssertEqual(a.x, b.x, accuracy: 1e-9); XCTAssertEqual(a.y, b.y, accuracy: 1e-9)
                }
            }
        }
    }

    /// The scanline fill of hull masks gives exactly the per-pixel signed-distance rule.
    func testMaskScanlineEqualsPerPixelRule() {
        var rng = SplitMix64(seed: 21)
        for trial in 0..<40 {
            let n = 3 + Int(rng.next() % 20)
            let points = (0..<n).map { _ in SIMD2(Double(rng.next() % 6400) / 100 - 4, Double(rng.next() % 6400) / 100 - 4) }
            for (dilation, feather) in [(0.0, 0.0), (2.0, 3.0)] {
                let mask = FaceMask(hullOf: points, width: 56, height: 48, dilation: dilation, feather: feather)
                let hull = FaceMask.convexHull(points)
                for i in 0..<48 {
                    for j in 0..<56 {
                        let d = FaceMask.signedDistance(SIMD2(Double(j) + 0.5, Double(i) + 0.5), toConvex: hull)
                        let v: Double = d <= dilation ? 255 : (feather > 0 && d < dilation + feather ? 255 * (1 - (d - dilation) / feather) : 0)
                        let expected = UInt8(min(max((v + 0.5).rounded(.down), 0), 255))
                        if mask[j, i] != expected {
                            return XCTFail("trial \(trial) (\(dilation), \(feather)): pixel \(j),\(i) is \(mask[j, i]), expected \(expected)")
                        }
                    }
                }
            }
        }
    }

    func testSmootherKeepsLinesCutsJitterAndStopsAtGaps() {
        let smoother = MeshSmoother(radius: 2)
        // A track moving in a straight line at an even pace is unchanged.
        let line = (0..<9).map { t in [1: [SIMD3(Double(t) * 3, 10 - Double(t), 0)]] }
        for t in 0..<9 { XCTAssertEqual(smoother.smoothed(track: 1, at: t, in: line)?[0], line[t][1]?[0]) }
        // Alternating jitter shrinks.
        let jitter = (0..<9).map { t in [1: [SIMD3(t % 2 == 0 ? 1.0 : -1.0, 0, 0)]] }
        XCTAssertLessThan(abs(smoother.smoothed(track: 1, at: 4, in: jitter)?[0].x ?? 9), 0.3)
        // The window never reaches across a frame where the track is missing.
        var gapped = jitter
        gapped[5] = [:]
        XCTAssertEqual(smoother.smoothed(track: 1, at: 4, in: gapped)?[0].x, 1)
    }

    /// In a dissolve the old face fades while a different-sized face appears over it: a new track.
    func testTrackerRefusesASuddenSizeChange() {
        let tracker = FaceTracker()
        func face(_ x: Double, _ size: Double) -> FaceTracker.Observation {
            .init(x: x, y: 50, width: size, height: size, keypoints: [Point2(x + size / 3, 80), Point2(x + 2 * size / 3, 80)])
        }
        let id = tracker.update(frame: 0, faces: [face(260, 98)])[0]
        XCTAssertEqual(tracker.update(frame: 1, faces: [face(262, 96)]), [id])
        XCTAssertNotEqual(tracker.update(frame: 2, faces: [face(300, 66)]), [id])
    }

    /// A face finished with its crop split across the cores (one analyzer, `detect --analyzers 1`) is the same as one
    /// finished on the calling thread alone: crop bytes, mask, pose, expression and measures.
    func testFinishingAcrossCoresIsTheSame() throws {
        let image = try ImageDecoder.decode(fileAt: TestPaths.image("astronaut.png"))
        let face = try XCTUnwrap(try FaceAnalyzer(range: .full, settings: .init(), store: ModelStore()).locate(image, tiles: 1).first)
        for size in [256, 97] {
            let serial = try XCTUnwrap(FaceFinisher(size: size, centering: .face, writeMasks: true).finish(face, in: image))
            let spread = try XCTUnwrap(FaceFinisher(size: size, centering: .face, writeMasks: true, spreadOverCores: true).finish(face, in: image))
            XCTAssertEqual(spread.crop, serial.crop, "crop \(size)")
            XCTAssertEqual(spread.mask?.values, serial.mask?.values, "mask \(size)")
            XCTAssertEqual(spread.quality, serial.quality, "quality \(size)")
            XCTAssertEqual(spread.pose, serial.pose, "pose \(size)")
        }
    }

}
