import Catalog
import Faces
import Foundation
import FrameExtraction
import Manifest

extension FaceDetector {
    /// The faces manifest for the units' results, paths relative to `manifestURL`.
    func makeManifest(_ results: [UnitResult], manifestURL: URL) throws -> FacesManifest {
        var items: [FaceItem] = []
        var damage: [DamageNote] = []
        for (input, result) in results.enumerated() {
            let frames = Dictionary(result.frames.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
            for face in result.faces {
                guard let frame = frames[face.sequence] else { continue }
                let framePath = result.framePaths[face.sequence].map { ManifestIO.relativePath(of: $0, fromManifest: manifestURL) }
                items.append(Self.item(face, input: input, frame: frame, framePath: framePath, workspace: options.workspace,
                                       manifestURL: manifestURL))
            }
            damage += result.damage.map { DamageNote(input: input, message: $0) }
        }
        let tool = ToolInfo(name: "detect", parameters: options.parameters)
        return FacesManifest(tool: tool, createdAt: timestamp(), inputs: results.map(\.file), cropSize: options.size,
                             centering: options.centering.rawValue, framesAnalysed: results.map(\.frames.count), items: items, damage: damage)
    }

    /// One catalog face as a manifest item.
    static func item(_ face: FaceRecord, input: Int, frame: DetectionFrameRecord, framePath: String?, workspace: URL,
                     manifestURL: URL) -> FaceItem {
        func relative(_ path: String) -> String {
            ManifestIO.relativePath(of: workspace.appendingPathComponent(path), fromManifest: manifestURL)
        }
        func rounded(_ values: [Double]) -> [Float] { values.map { Float(($0 * 100).rounded() / 100) } }
        let mesh = Float32Blob.unpack(face.mesh)
        let points = stride(from: 0, to: mesh.count - 2, by: 3).map { SIMD3(mesh[$0], mesh[$0 + 1], mesh[$0 + 2]) }
        let landmarks68 = (LandmarkSubsets.points68(fromMesh: points) ?? []).flatMap { [$0.x, $0.y] }
        let matrix = (try? JSONDecoder().decode([Double].self, from: Data(face.matrix.utf8))) ?? []
        return FaceItem(
            id: face.id ?? 0, crop: relative(face.cropPath), mask: face.maskPath.map(relative), input: input, frame: framePath,
            frameNumber: face.frameNumber, pts: face.pts, seconds: face.seconds, frameWidth: frame.width, frameHeight: frame.height,
            faceIndex: face.faceIndex, track: face.trackId,
            box: BoxItem(x: face.boxX, y: face.boxY, width: face.boxWidth, height: face.boxHeight), score: face.score,
            presence: face.presence, faceSize: face.faceSize, rotation: face.rotation,
            keypoints: rounded(Float32Blob.unpack(face.keypoints)), mesh: rounded(mesh), landmarks68: rounded(landmarks68),
            points5: rounded(Float32Blob.unpack(face.points5)), matrix: matrix,
            pose: PoseItem(yaw: face.yaw, pitch: face.pitch, roll: face.roll),
            expression: ExpressionItem(mouthOpenness: face.mouthOpenness, leftEyeOpenness: face.leftEyeOpenness,
                                       rightEyeOpenness: face.rightEyeOpenness, smileWidth: face.smileWidth, browRaise: face.browRaise),
            quality: QualityItem(sharpness: face.sharpness, brightness: face.brightness, contrast: face.contrast))
    }
}
