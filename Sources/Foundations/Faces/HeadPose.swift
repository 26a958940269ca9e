import Foundation
import Models

/// Head orientation (yaw, pitch, roll in degrees) from the 468-point MediaPipe FaceMesh.
///
/// Method: a face frame built from rigid parts of the 3-D mesh, no reference mesh and no camera model.
/// The mesh's points are (x, y, z) with x right and y down in image pixels and z the relative depth in
/// the same pixel scale, negative towards the camera, so (x, y, z) is a right-handed camera frame
/// (x right, y down, z away from the camera; the OpenCV convention), orthographic.
///
/// 1. Lateral axis `ex`: the sum over mirror pairs of rigid points (eye outer and inner corners, the
///    cheek contour at the eyes and at the nose, the nose alae) of the vector from the subject's right
///    point to the subject's left point (MediaPipe's "right" points, e.g. 33, lie on the image's left for
///    an unmirrored frontal face). Summing pairs rather than taking one averages out landmark noise.
/// 2. Vertical axis: from the mean of upper midline points (10 forehead top, 151 forehead, 9 between
///    the brows) to the chin (152). The chin drops a little when the jaw opens, so a wide-open mouth
///    reads a few degrees of extra pitch down.
/// 3. `ez = ex × ey`, then `ey = ez × ex` (Gram–Schmidt keeping `ex` exact: the eyes are the most
///    reliable part of the mesh). For a frontal, upright face `ex ≈ (1, 0, 0)`, `ey ≈ (0, 1, 0)`,
///    `ez ≈ (0, 0, 1)`: `ez` points from the face into the head, so the nose points along `-ez`.
/// 4. The rotation `R = [ex ey ez]` (columns: face axes in camera coordinates) is decomposed as
///    `R = Rz(roll) · Ry(-yaw) · Rx(-pitch)` (camera axes, applied right to left: pitch, then yaw, then
///    roll in the image plane).
///
/// Sign conventions (angles in degrees, each in (-180, 180], yaw in [-90, 90]):
/// - yaw > 0: the subject turns to their own left, which is the camera's right: the nose points
///   towards the image's right edge (for an unmirrored image).
/// - pitch > 0: the subject looks up (nose towards the image's top edge).
/// - roll > 0: the head tilts clockwise in the image (y down), i.e. the subject's left eye (image
///   right) drops lower than their right eye.
///
/// Mirroring the image (left–right) negates yaw and roll and leaves pitch unchanged: the mirror pairs
/// swap, so `ex` flips its y and z parts while the midline axis flips only its x part.
///
/// Zero is anatomical, not a fitted reference: a face looking straight at the camera measures some
/// pitch down from the forehead sloping back relative to the chin (the frontal astronaut photo measures
/// yaw 0.3°, pitch -11.3°, roll 2.5°). A quick trial of a Kabsch fit to a Procrustes mean mesh of 50 LFW
/// faces (with an imperfect nearest-neighbour mirror pairing) gave no better mirror consistency than
/// this frame, so the simpler frame was kept.
///
/// Accuracy is bounded by FaceMesh, which is not exactly mirror-equivariant: over 50 LFW faces and
/// their mirror images the mirror error (|yaw + yaw'|, |pitch − pitch'|, |roll + roll'|) averages
/// 1.7°, 1.8°, 0.9° and reaches 8.7°, 7.8°, 3.1° (FaceMesh refined once on its own landmarks).
public struct HeadPose: Equatable, Sendable, Codable {
    /// Degrees; positive when the subject turns to their left (the camera's right).
    public var yaw: Double
    /// Degrees; positive when the subject looks up.
    public var pitch: Double
    /// Degrees; positive for a clockwise tilt in the image.
    public var roll: Double

    public init(yaw: Double, pitch: Double, roll: Double) {
        self.yaw = yaw; self.pitch = pitch; self.roll = roll
    }

    /// Mirror pairs (subject's right, subject's left) of rigid points summed into the lateral axis:
    /// eye outer corners 33/263, eye inner corners 133/362, cheek contour at eye level 234/454 and
    /// 127/356, at nose level 93/323, nose alae 129/358.
    public static let lateralPairs: [(right: Int, left: Int)] = [
        (33, 263), (133, 362), (234, 454), (127, 356), (93, 323), (129, 358),
    ]
    /// Upper midline points averaged into the top of the vertical axis: 10 forehead top, 151 forehead,
    /// 9 between the brows.
    public static let upperMidline: [Int] = [10, 151, 9]
    /// The chin, bottom of the vertical axis.
    public static let chin = 152

    /// The face frame as a rotation matrix, rows of the camera frame: `matrix[r][c]` is component `r`
    /// (x, y, z) of face axis `c` (ex, ey, ez). `nil` when the mesh has fewer than 468 points or is
    /// degenerate (coincident points, non-finite values).
    public static func faceFrame(_ points: [SIMD3<Double>]) -> [[Double]]? {
        guard points.count >= 468 else { return nil }
        var lateral = SIMD3<Double>.zero
        for pair in lateralPairs { lateral += points[pair.left] - points[pair.right] }
        var top = SIMD3<Double>.zero
        for i in upperMidline { top += points[i] }
        top /= Double(upperMidline.count)
        let vertical = points[chin] - top
        guard let ex = normalized(lateral), let ez = normalized(cross(ex, vertical)),
              let ey = normalized(cross(ez, ex)) else { return nil }
        return [[ex.x, ey.x, ez.x], [ex.y, ey.y, ez.y], [ex.z, ey.z, ez.z]]
    }

    /// The head pose of a 468-point mesh in image pixels (`FaceMeshResult.points`); `nil` when the
    /// mesh is short or degenerate.
    public init?(mesh points: [SIMD3<Double>]) {
        guard let r = Self.faceFrame(points) else { return nil }
        self.init(rotation: r)
    }

    /// The pose of a face-to-camera rotation `r` (3×3, `r[row][column]`, columns the face axes) as
    /// described on the type; `nil` unless `r` is 3×3.
    public init?(rotation r: [[Double]]) {
        guard r.count == 3, r.allSatisfy({ $0.count == 3 }) else { return nil }
        // R = Rz(γ) Ry(β) Rx(α): R20 = -sin β, R21 = cos β sin α, R22 = cos β cos α,
        // R10 = sin γ cos β, R00 = cos γ cos β. yaw = -β, pitch = -α, roll = γ.
        let beta = Foundation.asin(max(-1, min(1, -r[2][0])))
        let alpha = Foundation.atan2(r[2][1], r[2][2])
        let gamma = Foundation.atan2(r[1][0], r[0][0])
        let degrees = 180 / Double.pi
        self.init(yaw: -beta * degrees, pitch: -alpha * degrees, roll: gamma * degrees)
    }

    static func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
    }

    static func normalized(_ v: SIMD3<Double>) -> SIMD3<Double>? {
        let length = (v * v).sum().squareRoot()
        guard length.isFinite, length > 1e-9 else { return nil }
        return v / length
    }
}
