import Faces
import Foundation
import Media
import Models
import XCTest

/// Shared helpers for the Faces tests: one face's mesh from an image, frames of a clip.
enum FaceProbe {
    /// The 468-point mesh of the largest face BlazeFace finds in `image`, or `nil` when none is found.
    /// With `refine`, FaceMesh runs a second time on the region its own landmarks give (MediaPipe's
    /// tracking step), so the result depends less on the detector's box and keypoints.
    static func mesh(_ image: RGBImage, detector: BlazeFace, mesh: FaceMesh, refine: Bool = true) -> FaceMeshResult? {
        let faces = detector.detect(image)
        guard let face = faces.max(by: { $0.width * $0.height < $1.width * $1.height }) else { return nil }
        var result = mesh.landmarks(in: image, roi: FaceMesh.roi(for: face))
        if refine && result.presence > 0.5 { if let roi = FaceMesh.roi(fromLandmarks: result.points) { result = mesh.landmarks(in: image, roi: roi) } }
        return result.presence > 0.5 ? result : nil
    }

    /// Decodes `url` and calls `body` with (frame number from 0, RGB image) for every `step`-th frame.
    static func forEachFrame(_ url: URL, step: Int, _ body: (Int, RGBImage) throws -> Void) throws {
        let reader = try VideoReader(url: url)
        let converter = FrameConverter()
        var index = 0
        while let frame = try reader.nextFrame() {
            if index % step == 0 { try body(index, try converter.rgb(frame)) }
            index += 1
        }
    }

    /// A face image from the shared LFW identities.
    static func identity(_ name: String, _ number: Int) -> URL {
        TestPaths.faces.appendingPathComponent("identities/\(name)/\(name)_\(String(format: "%04d", number)).jpg")
    }
}

extension FaceProbe {
    /// One measured frame of a clip.
    struct ClipRow: Sendable {
        var frame: Int
        var pose: HeadPose
        var expression: ExpressionMeasures
    }

    /// videos/d3.mp4 (512×512, 354 frames, a woman pulling faces who turns her head to both sides),
    /// every 8th frame through BlazeFace full range and FaceMesh (refined); frames with no face are
    /// left out. Computed once per test process and shared by the pose and expression tests.
    static let d3Scan: Result<[ClipRow], any Error> = Result {
        let detector = try BlazeFace(range: .full), faceMesh = try FaceMesh()
        var rows: [ClipRow] = []
        try forEachFrame(TestPaths.video("d3.mp4"), step: 8) { index, image in
            guard let result = mesh(image, detector: detector, mesh: faceMesh),
                  let pose = HeadPose(mesh: result.points), let expression = ExpressionMeasures(mesh: result.points) else { return }
            rows.append(ClipRow(frame: index, pose: pose, expression: expression))
        }
        return rows
    }

    /// The image halved in each direction by averaging 2×2 blocks (odd last row or column dropped).
    static func halved(_ image: RGBImage) -> RGBImage {
        let w = image.width / 2, h = image.height / 2
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    var sum = 0
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        sum += Int(image.pixels[((2 * y + dy) * image.width + 2 * x + dx) * 3 + c])
                    }
                    out[(y * w + x) * 3 + c] = UInt8((sum + 2) / 4)
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
