import FacetCore
import Faces
import Foundation
import Manifest
import Media

/// Frames waiting for their faces to be rendered together (one inference batch for faces of several frames).
struct FrameBatch {
    var indices: [Int] = []
    var originals: [RGBImage] = []
    var images: [RGBImage] = []
    var frames: [AnalysedFrame] = []
    var alignments: [[AffineMatrix2x3?]] = []
    var records: [SwapFrame] = []
    var faceCount = 0

    mutating func add(index: Int, image: RGBImage, frame: AnalysedFrame, alignments frameAlignments: [AffineMatrix2x3?]) {
        indices.append(index); originals.append(image); images.append(image); frames.append(frame); alignments.append(frameAlignments)
        faceCount += frame.faces.indices.filter { frame.faces[$0].swap && frameAlignments[$0] != nil }.count
    }

    /// Renders every face to swap into its frame. Returns the finished frames (in order; handed over, so the caller
    /// holds the only reference and can mark them in place) and how many faces failed (left unchanged); fills `records`.
    mutating func render(renderer: FaceRenderer) throws -> (frames: [RGBImage], failed: Int) {
        var jobs: [FaceJob] = []
        for (b, frame) in frames.enumerated() {
            for (k, face) in frame.faces.enumerated() where face.swap {
                guard let alignment = alignments[b][k] else { continue }
                jobs.append(FaceJob(frame: b, face: k, alignment: alignment, landmarks68: face.landmarks68, faceSize: face.faceSize, track: face.track))
            }
        }
        var results: [Int: [Int: FaceResult]] = [:]
        if !jobs.isEmpty {
            let out = try renderer.render(jobs, into: &images)
            for (job, result) in zip(jobs, out) { results[job.frame, default: [:]][job.face] = result }
        }
        records = frames.indices.map { Self.record(frames[$0], alignments: alignments[$0], results: results[$0] ?? [:]) }
        // A face meant to be swapped that the record says was not: degenerate landmarks or a failed render.
        let failed = zip(frames, records).reduce(0) { total, pair in
            total + zip(pair.0.faces, pair.1.faces).filter { $0.swap && !$1.swapped }.count
        }
        let finished = images
        images = []
        return (finished, failed)
    }

    /// The manifest entry of a frame: every face, swapped or not and why.
    static func record(_ frame: AnalysedFrame, alignments: [AffineMatrix2x3?], results: [Int: FaceResult]?) -> SwapFrame {
        let faces = frame.faces.enumerated().map { k, face -> SwapFace in
            let box = BoxItem(x: face.detection.x, y: face.detection.y, width: face.detection.width, height: face.detection.height)
            var swapped = face.swap, reason = face.reason
            let result = results?[k]
            if face.swap {
                if alignments[k] == nil { swapped = false; reason = "failed: degenerate landmarks" }
                else if let failure = result?.failure { swapped = false; reason = "failed: \(failure)" }
                else if result == nil { swapped = false; reason = "failed: not rendered" }
            }
            guard swapped, let result, let m = alignments[k] else {
                return SwapFace(track: face.track, box: box, faceSize: face.faceSize, identity: face.identity, distance: face.distance,
                                swapped: false, reason: reason)
            }
            let maskBox = result.maskBox.map { BoxItem(x: Double($0.x), y: Double($0.y), width: Double($0.width), height: Double($0.height)) }
            return SwapFace(track: face.track, box: box, faceSize: face.faceSize, identity: face.identity, distance: face.distance,
                            swapped: true, reason: reason, matrix: [m.a, m.b, m.tx, m.c, m.d, m.ty], maskCoverage: result.maskCoverage,
                            maskBox: maskBox, maskHull: result.hull.flatMap { [Float($0.x), Float($0.y)] },
                            occluders: result.occluders.isEmpty ? nil : result.occluders.map { $0.flatMap { [Float($0.x), Float($0.y)] } })
        }
        return SwapFrame(index: frame.index, pts: frame.pts, seconds: frame.seconds, damaged: frame.damaged, faces: faces)
    }
}
