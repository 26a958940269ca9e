import Augment
import FacetCore
import Faces
import Foundation
import XCTest

/// One exit-code table true everywhere (README "Exit codes"; issue 18, "exit codes disagree").
final class ReliabilityExitCodeTests: XCTestCase {
    func testMostSevereStatusWins() {
        XCTAssertEqual(ExitStatus.mostSevere([]), .ok)
        XCTAssertEqual(ExitStatus.mostSevere([.dataError, .noInput]), .noInput)
        XCTAssertEqual(ExitStatus.mostSevere([.noInput, .dataError]), .noInput)
        XCTAssertEqual(ExitStatus.mostSevere([.dataError, .failure, .noInput]), .failure)
        XCTAssertEqual(ExitStatus.mostSevere([.usage, .dataError]), .dataError)
    }

    /// Errors of face-quality measures and augmentation are bad data (65), not an unexplained 1.
    func testQualityAndAugmentErrorsAreFacetErrors() {
        let errors: [Error] = [ImageQualityError.emptyRegion, AugmentError.invalidSettings("x")]
        for error in errors { XCTAssertEqual((error as? FacetError)?.exitStatus, .dataError, "\(error)") }
    }

    /// With several inputs, the exit code is the most severe failure's, whatever the order: a damaged
    /// file (65) before a missing one (66) exits 66; the good input is still extracted.
    func testSeveralInputsExitWithTheMostSevereFailure() throws {
        let d18 = TestPaths.video("d18.mp4")
        try requireSharedMedia(d18)
        let ws = try makeTemporaryDirectory()
        let text = ws.appendingPathComponent("text.mp4")
        try Data("not a video\n".utf8).write(to: text)
        let missing = ws.appendingPathComponent("gone.mp4")
        let run = try fetchFrames(["--every", "30", d18.path, text.path, missing.path], workspace: ws)
        assertRun(run, exits: 66, mentioning: [text.path, missing.path])
        XCTAssertEqual(try run.requireReport().frames, 8)
        let reversed = try fetchFrames(["--every", "30", missing.path, text.path, d18.path], workspace: ws)
        assertRun(reversed, exits: 66, mentioning: [text.path, missing.path])
        let dataOnly = try fetchFrames(["--every", "30", text.path, d18.path], workspace: ws)
        assertRun(dataOnly, exits: 65, mentioning: [text.path])
    }
}
