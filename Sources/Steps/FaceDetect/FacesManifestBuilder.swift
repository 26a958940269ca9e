import FacetCore
import Catalog
import Faces
import Foundation
import Manifest

extension FaceDetector {
    /// Writes the faces manifest for the units' results (paths relative to `manifestURL`), reading the
    /// faces from the catalog a page at a time so memory stays flat however many there are.
    func writeManifest(_ results: [UnitResult], to manifestURL: URL) throws {
        let damage = results.enumerated().flatMap { input, result in result.damage.map { DamageNote(input: input, message: $0) } }
        let shell = FacesManifest(tool: ToolInfo(name: "detect", parameters: options.parameters), createdAt: timestamp(),
                                  inputs: results.map(\.file), cropSize: options.size, centering: options.centering.rawValue,
                                  framesAnalysed: results.map(\.frames), items: [], damage: damage)
        try ManifestIO.write(shell, to: manifestURL, itemType: FaceItem.self) { emit in
            for (input, result) in results.enumerated() {
                var position: (sequence: Int, faceIndex: Int)?
                while true {
                    let page = try catalog.facesPage(detectionId: result.detectionId, after: position, limit: 256)
                    guard let last = page.last else { break }
                    try emit(page.map { row in
                        let framePath = result.framePaths[row.face.sequence].map { ManifestIO.relativePath(of: $0, fromManifest: manifestURL) }
                        return Self.item(row.face, input: input, frameWidth: row.frameWidth, frameHeight: row.frameHeight,
                                         framePath: framePath, workspace: options.workspace, manifestURL: manifestURL)
                    })
                    position = (last.face.sequence, last.face.faceIndex)
                }
            }
        }
    }

    /// One catalog face as a manifest item.
    static func item(_ face: FaceRecord, input: Int, frameWidth: Int, frameHeight: Int, framePath: String?, workspace: URL,
                     manifestURL: URL) -> FaceItem {
        func relative(_ path: String) -> String {
            ManifestIO.relativePath(of: workspace.appendingPathComponent(path), fromManifest: manifestURL)
        }
        func rounded(_ values: [Double]) -> [Float] { values.map { Float(($0 * 100).rounded() / 100) } }
        let mesh = Float32Blob.unpack(face.mesh)
        let landmarks68 = (LandmarkSubsets.points68(fromMesh: face.meshPoints) ?? []).flatMap { [$0.x, $0.y] }
        let matrix = face.affine?.elements ?? []
        return FaceItem(
            id: face.id ?? 0, crop: relative(face.cropPath), mask: face.maskPath.map(relative), input: input, frame: framePath,
            frameNumber: face.frameNumber, pts: face.pts, seconds: face.seconds, frameWidth: frameWidth, frameHeight: frameHeight,
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
