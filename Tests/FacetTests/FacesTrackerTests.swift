import Faces
import Foundation
import Media
import Models
import XCTest

final class FacesTrackerTests: XCTestCase {
    private func face(_ cx: Double, _ cy: Double, size: Double = 100) -> FaceTracker.Observation {
        let keypoints = [Point2(cx - 20, cy - 10), Point2(cx + 20, cy - 10), Point2(cx, cy + 5), Point2(cx, cy + 25)]
        return .init(x: cx - size / 2, y: cy - size / 2, width: size, height: size, keypoints: keypoints)
    }

    func testTwoMovingFacesKeepTheirIDs() {
        let tracker = FaceTracker()
        var first: [Int] = []
        for frame in 0..<40 {
            // A walks right, B walks left; they pass each other around frame 20 at different heights.
            let a = face(100 + Double(frame) * 10, 200), b = face(500 - Double(frame) * 10, 330)
            let faces = frame % 2 == 0 ? [a, b] : [b, a]   // detection order must not matter
            let ids = tracker.update(frame: frame, faces: faces)
            let (idA, idB) = frame % 2 == 0 ? (ids[0], ids[1]) : (ids[1], ids[0])
            if frame == 0 { first = [idA, idB] }
            XCTAssertEqual([idA, idB], first, "frame \(frame)")
        }
    }

    func testShortGapKeepsTheTrackLongGapStartsANewOne() {
        let tracker = FaceTracker(options: .init(maxGapFrames: 5))
        let id = tracker.update(frame: 0, faces: [face(200, 200)])[0]
        XCTAssertEqual(tracker.update(frame: 1, faces: [face(203, 200)]), [id])
        XCTAssertEqual(tracker.update(frame: 5, faces: [face(206, 200)]), [id], "missing frames 2-4: same track")
        XCTAssertNotEqual(tracker.update(frame: 20, faces: [face(206, 200)]), [id], "gone 14 frames: a re-entry is a new track")
    }

    func testCutEndsEveryTrack() {
        let tracker = FaceTracker()
        let before = tracker.update(frame: 0, faces: [face(200, 200)])
        let after = tracker.update(frame: 1, faces: [face(200, 200)], isCut: true)
        XCTAssertNotEqual(before, after)
    }

    func testFastMotionLinksByKeypoints() {
        // The box moved so far that it no longer overlaps, but a small face-relative keypoint shift links.
        let tracker = FaceTracker(options: .init(minIoU: 0.9, maxKeypointDistance: 0.35))
        let id = tracker.update(frame: 0, faces: [face(200, 200)])[0]
        XCTAssertEqual(tracker.update(frame: 1, faces: [face(230, 200)]), [id])
        XCTAssertNotEqual(tracker.update(frame: 2, faces: [face(400, 200)]), [id])
    }

    func testIDsContinueFromFirstID() {
        let tracker = FaceTracker(firstID: 41)
        XCTAssertEqual(tracker.update(frame: 0, faces: [face(100, 100), face(400, 100)]), [41, 42])
        XCTAssertEqual(tracker.nextTrackID, 43)
    }

    func testSceneCut() {
        let dark = [Float](repeating: 20, count: 64), bright = [Float](repeating: 200, count: 64)
        var moved = dark; moved[0] = 90
        XCTAssertTrue(FaceTracker.isSceneCut(previous: dark, current: bright))
        XCTAssertFalse(FaceTracker.isSceneCut(previous: dark, current: moved))
    }

    /// Real footage: every track on the stage clip stays on one face (no jump to another face).
    func testTwoPeopleOnStageGiveSteadyTracks() throws {
        let reader = try VideoReader(url: TestPaths.video("two_people_stage.mp4"))
        let detector = try BlazeFace(range: .full)
        let converter = FrameConverter()
        let tracker = FaceTracker()
        var lastCentre: [Int: (Double, Double, Double)] = [:]
        var frame = 0
        while let decoded = try reader.nextFrame(), frame < 90 {
            defer { frame += 1 }
            guard frame % 3 == 0 else { continue }
            let faces = detector.detect(try converter.rgb(decoded), minScore: 0.5)
            let ids = tracker.update(frame: frame, faces: faces.map(FaceTracker.Observation.init))
            for (face, id) in zip(faces, ids) {
                let centre = (face.x + face.width / 2, face.y + face.height / 2, face.width)
                if let previous = lastCentre[id] {
                    let jump = hypot(centre.0 - previous.0, centre.1 - previous.1)
                    XCTAssertLessThan(jump, previous.2 * 0.6, "track \(id) jumped \(jump) px at frame \(frame)")
                }
                lastCentre[id] = centre
            }
        }
        // The clip cuts between shots and shows audience faces too, so there are more than two tracks; what
        // matters is that none of them jumps from one face to another (checked above).
        XCTAssertGreaterThanOrEqual(lastCentre.count, 2, "both people are tracked")
    }
}
