import Foundation
import Identity
import Recognition
import Manifest
import Media
import Models
import XCTest

/// `identify`'s rules (track vote, small faces, clustering), the crop-based descriptors, and bad input.
final class IdentifyTests: XCTestCase {
    // MARK: Decision rules

    func testOneOddFrameCannotFlipATrackAndOutliersBecomeUnknownNotSomeoneElse() {
        let decider = LabelDecider(threshold: 0.6, names: ["A", "B"])
        // Ten frames clearly A, one frame that alone looks like B, one frame far from everyone.
        var distances = Array(repeating: [0.40, 0.80], count: 10)
        distances.append([0.75, 0.50])
        distances.append([0.95, 0.90])
        let (faces, vote) = decider.decideTrack(distances, faceSizes: Array(repeating: 80, count: distances.count))
        XCTAssertEqual(vote.identity, 0)
        XCTAssertEqual(vote.medianDistance, 0.40)
        XCTAssertEqual(faces[10].identity, nil, "0.75 > 0.6 + 0.1: too far to carry A's label, and never B")
        XCTAssertEqual(faces[10].faceDecision, 1, "alone it would have been B")
        XCTAssertEqual(faces[11].identity, nil)
        XCTAssertEqual(vote.outliers, 2)
        XCTAssertTrue(faces.allSatisfy(\.byTrack))
        XCTAssertTrue(faces[0..<10].allSatisfy { $0.identity == 0 })
    }

    func testAMinorityOfMatchingFramesDoesNotLabelATrack() {
        let decider = LabelDecider(threshold: 0.6, names: ["A"])
        let distances = [[0.55], [0.58], [0.70], [0.72], [0.75]]
        let (faces, vote) = decider.decideTrack(distances, faceSizes: Array(repeating: 80, count: 5))
        XCTAssertNil(vote.identity)
        XCTAssertEqual(vote.medianDistance, 0.70)
        XCTAssertTrue(faces.allSatisfy { $0.identity == nil })
    }

    func testSmallFacesDoNotVoteOrMatchAloneButInheritTheirTrack() {
        let decider = LabelDecider(threshold: 0.6, minFaceSize: 36, names: ["A"])
        XCTAssertNil(decider.decideFace([0.5], faceSize: 30).identity)
        XCTAssertEqual(decider.decideFace([0.5], faceSize: 30).nearest, 0)
        XCTAssertEqual(decider.decideFace([0.5], faceSize: 40).identity, 0)
        // Small frames far off do not drag the median; they take the track's label when close enough.
        let (faces, vote) = decider.decideTrack([[0.4], [0.45], [0.62], [0.9]], faceSizes: [80, 80, 20, 20])
        XCTAssertEqual(vote.identity, 0)
        XCTAssertEqual(vote.medianDistance ?? 0, 0.425, accuracy: 1e-12)
        XCTAssertEqual(faces.map(\.identity), [0, 0, 0, nil])
        // A track of small faces only is unknown.
        XCTAssertNil(decider.decideTrack([[0.3], [0.3]], faceSizes: [20, 20]).vote.identity)
    }

    func testChineseWhispersSeparatesSeededBlobsAndIsDeterministic() {
        var rng = SplitMix64(seed: 7)
        var vectors: [[Float]] = []
        var truth: [Int] = []
        for blob in 0..<6 {
            var centre = [Float](repeating: 0, count: 128)
            centre[blob * 3] = 2
            for _ in 0..<(5 + blob * 3) {
                vectors.append(centre.map { $0 + Float.random(in: -0.02...0.02, using: &rng) })
                truth.append(blob)
            }
        }
        let labels = ChineseWhispers.cluster(vectors, threshold: 0.6, seed: 3)
        XCTAssertEqual(labels, ChineseWhispers.cluster(vectors, threshold: 0.6, seed: 3))
        XCTAssertEqual(Set(labels).count, 6)
        for (i, j) in zip(vectors.indices, vectors.indices.dropFirst()) {
            XCTAssertEqual(truth[i] == truth[j], labels[i] == labels[j])
        }
        XCTAssertEqual(ChineseWhispers.cluster([], threshold: 0.6), [])
        XCTAssertEqual(ChineseWhispers.cluster([[0, 0]], threshold: 0.6), [0])
    }

    func testAverageLinkageSplitsAChainThatChineseWhispersJoins() {
        // Points on a line 0.5 apart, each linked to its neighbours at 0.6: a chain Chinese whispers may join
        // (here: all in one cluster); average linkage keeps only groups whose mean inner distance stays within 0.6.
        let vectors: [[Float]] = (0..<6).map { [Float($0) * 0.5, 0] }
        let refined = ChineseWhispers.refine([0, 0, 0, 0, 0, 0], threshold: 0.6) { i, j in IdentityGallery.distance(vectors[i], vectors[j]) }
        XCTAssertGreaterThanOrEqual(Set(refined).count, 3)
        for a in 0..<6 { for b in 0..<6 where refined[a] == refined[b] { XCTAssertLessThanOrEqual(abs(a - b), 1, "\(refined)") } }
        // Tight groups are left alone.
        let tight: [[Float]] = [[0, 0], [0.1, 0], [0.2, 0], [5, 5], [5.1, 5]]
        let labels = ChineseWhispers.cluster(tight, threshold: 0.6)
        XCTAssertEqual(ChineseWhispers.refine(labels, threshold: 0.6) { IdentityGallery.distance(tight[$0], tight[$1]) }, [0, 0, 0, 1, 1])
    }

    // MARK: Descriptors from crops

    /// Chips cut from detect's aligned crops give nearly the descriptors of chips cut from the frame (as dlib
    /// does), so references enrolled from whole images and faces labelled from crops are comparable. Measured:
    /// mean 0.060, worst 0.196 over 73 LFW faces (the threshold is 0.6).
    func testCropChipsGiveTheFrameChipsDescriptors() throws {
        try requireSharedMedia(TestPaths.faces.appendingPathComponent("identities"))
        let lfw = try IdentifyFixtures.lfw.get()
        let net = try FaceRecognitionNet(store: ModelStore())
        var worst = 0.0, total = 0.0, n = 0
        for item in lfw.faces.items where item.faceSize >= 60 {
            guard let framePath = item.frame else { continue }
            let frame = try ImageDecoder.decode(fileAt: ManifestIO.resolve(framePath, relativeToManifest: lfw.facesURL))
            let crop = try ImageDecoder.decode(fileAt: ManifestIO.resolve(item.crop, relativeToManifest: lfw.facesURL))
            let points = (0..<5).map { SIMD2(Double(item.points5[2 * $0]), Double(item.points5[2 * $0 + 1])) }
            let a = try net.embed(chip: try FaceEmbedder.chip(fromImage: frame, points5: points))
            let b = try net.embed(chip: try FaceEmbedder.chip(fromCrop: crop, points5: item.points5, matrix: item.matrix))
            let d = IdentityGallery.distance(a, b)
            worst = max(worst, d); total += d; n += 1
        }
        print("identify: crop vs frame chip descriptors over \(n) faces: mean \(total / Double(max(1, n))), worst \(worst)")
        XCTAssertGreaterThan(n, 60)
        XCTAssertLessThan(total / Double(n), 0.08)
        XCTAssertLessThan(worst, 0.25)
    }

    // MARK: Bad input

    func testEnrollRefusesImagesWithNoFaceOrSeveralFaces() throws {
        try requireSharedMedia(TestPaths.image("no_face_dogs.jpg"), TestPaths.image("group_six.jpg"))
        let workspace = try makeTemporaryDirectory()
        let dogs = try runIdentify("enroll", ["--name", "Dog", TestPaths.image("no_face_dogs.jpg").path], workspace: workspace)
        XCTAssertEqual(dogs.status, 65)
        XCTAssertTrue(dogs.stderr.contains("no_face_dogs.jpg") && dogs.stderr.contains("no face found"), dogs.stderr)
        let group = try runIdentify("enroll", ["--name", "Group", TestPaths.image("group_six.jpg").path], workspace: workspace)
        XCTAssertEqual(group.status, 65)
        XCTAssertTrue(group.stderr.contains("group_six.jpg") && group.stderr.contains("6 faces") && group.stderr.contains("--pick largest"), group.stderr)
        let list = try JSONDecoder().decode([IdentitySummary].self, from: try runIdentify("list", [], workspace: workspace).stdoutData)
        XCTAssertTrue(list.isEmpty, "nothing enrolled")
        let picked = try runIdentify("enroll", ["--name", "Group", "--pick", "largest", TestPaths.image("group_six.jpg").path], workspace: workspace)
        XCTAssertEqual(picked.status, 0, picked.stderr)
    }

    func testOneNameForTwoPeopleIsRefusedAndNamesIgnoreCase() throws {
        try requireSharedMedia(TestPaths.image("obama.jpg"), TestPaths.image("biden.jpg"))
        let workspace = try makeTemporaryDirectory()
        let first = try runIdentify("enroll", ["--name", "Barack Obama", "--consent", "public photo", TestPaths.image("obama.jpg").path], workspace: workspace)
        XCTAssertEqual(first.status, 0, first.stderr)
        // Adding the same person again under another spelling updates the identity.
        let more = try runIdentify("enroll", ["--name", "barack obama", TestPaths.image("obama-1080p.jpg").path], workspace: workspace)
        XCTAssertEqual(more.status, 0, more.stderr)
        let updated = try JSONDecoder().decode(EnrollReport.self, from: more.stdoutData)
        XCTAssertEqual(updated.name, "Barack Obama")
        XCTAssertFalse(updated.created)
        XCTAssertEqual(updated.references, 2)
        XCTAssertEqual(updated.consent, "public photo", "the consent note is kept")
        // A different person under the same name is refused, and nothing changes.
        let other = try runIdentify("enroll", ["--name", "BARACK OBAMA", TestPaths.image("biden.jpg").path], workspace: workspace)
        XCTAssertEqual(other.status, 65)
        XCTAssertTrue(other.stderr.contains("biden.jpg") && other.stderr.contains("different person"), other.stderr)
        let list = try JSONDecoder().decode([IdentitySummary].self, from: try runIdentify("list", [], workspace: workspace).stdoutData)
        XCTAssertEqual(list.map(\.name), ["Barack Obama"])
        XCTAssertEqual(list.first?.references, 2)
        // Remove, then the name is free.
        XCTAssertEqual(try runIdentify("remove", ["Barack Obama"], workspace: workspace).status, 0)
        let gone = try runIdentify("remove", ["Barack Obama"], workspace: workspace)
        XCTAssertEqual(gone.status, 66)
        XCTAssertTrue(gone.stderr.contains("no identity named 'Barack Obama'"), gone.stderr)
    }

    func testLabellingNeedsIdentitiesCropsAndAKnownTarget() throws {
        try requireSharedMedia(TestPaths.image("two_people.jpg"), TestPaths.image("obama.jpg"))
        let workspace = try makeTemporaryDirectory()
        let run = try runDetect([TestPaths.image("two_people.jpg").path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (facesURL, faces) = try run.manifest()

        let empty = try runIdentify("label", [facesURL.path], workspace: workspace)
        XCTAssertEqual(empty.status, 66)
        XCTAssertTrue(empty.stderr.contains("no identities enrolled"), empty.stderr)

        XCTAssertEqual(try runIdentify("enroll", ["--name", "Obama", TestPaths.image("obama.jpg").path], workspace: workspace).status, 0)
        let target = try runIdentify("label", ["--target", "Nobody", facesURL.path], workspace: workspace)
        XCTAssertEqual(target.status, 66)
        XCTAssertTrue(target.stderr.contains("no identity named 'Nobody'") && target.stderr.contains("Obama"), target.stderr)

        // A crop gone: a clear error naming it, and no labels manifest.
        let crop = ManifestIO.resolve(faces.items[0].crop, relativeToManifest: facesURL)
        try FileManager.default.removeItem(at: crop)
        let missing = try runIdentify("label", [facesURL.path], workspace: workspace)
        XCTAssertEqual(missing.status, 66)
        XCTAssertTrue(missing.stderr.contains("1 of \(faces.items.count) face crops are missing") && missing.stderr.contains(crop.lastPathComponent), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.appendingPathComponent("Manifests/labels-\(facesURL.deletingPathExtension().lastPathComponent).json").path))

        // A faces manifest of an unknown major version.
        var text = try String(contentsOf: facesURL, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"version\":\"1.0\"", with: "\"version\":\"2.0\"")
            .replacingOccurrences(of: "\"version\" : \"1.0\"", with: "\"version\" : \"2.0\"")
        let future = facesURL.deletingLastPathComponent().appendingPathComponent("future.json")
        try text.write(to: future, atomically: true, encoding: .utf8)
        let newer = try runIdentify("label", [future.path], workspace: workspace)
        XCTAssertEqual(newer.status, 65)
        XCTAssertTrue(newer.stderr.contains("future.json") && newer.stderr.contains("version 2.0"), newer.stderr)

        // Missing models.
        let noModels = try runIdentify("enroll", ["--name", "X", "--models", workspace.appendingPathComponent("none").path,
                                                  TestPaths.image("obama.jpg").path], workspace: workspace)
        XCTAssertEqual(noModels.status, 66)
        XCTAssertTrue(noModels.stderr.contains("make setup"), noModels.stderr)
        // Usage errors.
        XCTAssertEqual(try runIdentify("label", ["--rule", "median", facesURL.path], workspace: workspace).status, 64)
    }
}

/// An interrupted labelling run keeps the descriptors it finished.
final class IdentifyResumeTests: XCTestCase {
    func testKilledLabellingKeepsItsDescriptorsAndTheRerunGivesTheSameLabels() throws {
        try requireSharedMedia(TestPaths.video("d3.mp4"), TestPaths.image("obama.jpg"))
        let workspace = try makeTemporaryDirectory()
        let run = try runDetect([TestPaths.video("d3.mp4").path], workspace: workspace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let (facesURL, faces) = try run.manifest()
        XCTAssertEqual(try runIdentify("enroll", ["--name", "Obama", TestPaths.image("obama.jpg").path], workspace: workspace).status, 0)

        let binary = try TestPaths.executable("identify")
        let (process, outURL, errURL) = try startProcess(binary, ["label", "--workspace", workspace.path, "--json", "-q", facesURL.path])
        let deadline = Date().addingTimeInterval(120)
        var stored = 0
        while process.isRunning && Date() < deadline {
            usleep(20_000)
            stored = (try? readCatalog(workspace) { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM face_embeddings") ?? 0 }) ?? 0
            if stored >= 32 { break }
        }
        let killedMidway = process.isRunning
        if killedMidway { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        _ = collect(process, outURL, errURL)
        XCTAssertTrue(killedMidway, "the run finished before it could be killed")

        let resumed = try runIdentify("label", [facesURL.path], workspace: workspace)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let report = try JSONDecoder().decode(LabelReport.self, from: resumed.stdoutData)
        XCTAssertEqual(report.faces, faces.items.count)
        XCTAssertLessThanOrEqual(report.embedded, faces.items.count - stored, "descriptors stored before the kill were computed again")

        // The same labels as a run from an empty cache in another workspace.
        let clean = try makeTemporaryDirectory()
        XCTAssertEqual(try runIdentify("enroll", ["--name", "Obama", TestPaths.image("obama.jpg").path], workspace: clean).status, 0)
        let reference = try runIdentify("label", ["--labels", clean.appendingPathComponent("labels.json").path, facesURL.path], workspace: clean)
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let a = try ManifestIO.read(LabelsManifest.self, from: URL(fileURLWithPath: report.labels)).items
        let b = try ManifestIO.read(LabelsManifest.self, from: clean.appendingPathComponent("labels.json")).items
        XCTAssertEqual(a.map(\.identity), b.map(\.identity))
        XCTAssertEqual(a.map(\.nearestDistance), b.map(\.nearestDistance))
        XCTAssertTrue(a.allSatisfy { $0.identity == nil }, "d3.mp4 is not Obama")
    }
}
