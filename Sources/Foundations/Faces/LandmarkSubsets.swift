import Foundation
import Models

/// Fixed subsets of MediaPipe FaceMesh's 468 vertices that stand in for dlib's landmark conventions, so that
/// code written for dlib's 68-point (iBUG 300-W) and 5-point layouts can run on FaceMesh output.
///
/// Both tables hold FaceMesh vertex indices (0..<468). The points they pick keep FaceMesh's units: x, y in
/// image pixels (z is dropped).
///
/// ## How the 68-point table was derived
///
/// 1. FaceMesh on `astronaut.png` (512×512): BlazeFace short range → `FaceMesh.roi(for:)` →
///    `FaceMesh.landmarks(in:roi:)` (identical within 0.02 px to MediaPipe's golden
///    `shared/golden/tflite/landmark_468_image_px.txt`).
/// 2. For each of dlib's 68 golden points (`shared/golden/dlib/landmarks68.txt`, face box 175,76–265,166,
///    a ~90 px face) the nearest mesh vertex was taken. That alone gives a mean error of 1.90 px (max 6.2 px),
///    but it picks some vertices that are off the semantic contour (e.g. 112 for the inner eye corner, 410
///    for the right mouth corner, 80 on the inner lip for the outer lip, 274 on the nose wing for the tip).
/// 3. The table was then fixed by hand and made mirror-symmetric:
///    * semantic anchors from MediaPipe's topology: eye corners 33 / 133 / 362 / 263, mouth corners 61 / 291
///      (outer) and 78 / 308 (inner), nose tip 1, subnasale 2, nose bridge 168, chin 152, lip midline
///      0 / 17 (outer) and 13 / 14 (inner);
///    * every other point is restricted to its MediaPipe contour (face oval for the jaw, brow lines,
///      nostril ring, eyelids, outer and inner lip rings) and chosen as the left/right mirror pair of
///      vertices that minimises the summed distance to the two golden dlib points it replaces.
///
/// The final table is within **2.27 px mean, 6.53 px max** (point 7, on the jaw) of dlib's integer golden
/// points on astronaut (2.24 / 6.15 px against dlib's unrounded points); the 51 non-jaw points are 1.79 px mean.
/// Jaw points (0–16) are the least stable: dlib's jaw follows the visible silhouette, the mesh's oval is a
/// fixed vertex ring.
public enum LandmarkSubsets {
    /// The number of FaceMesh vertices the tables index into.
    public static let meshCount = 468

    /// For each dlib/iBUG 300-W landmark (index 0..<68: jaw 0–16, brows 17–26, nose 27–35, eyes 36–47,
    /// mouth 48–67, in image-left to image-right order as dlib numbers them) the FaceMesh vertex used.
    public static let dlib68: [Int] = [
        // Jaw 0–16 (face oval, image left → chin 152 → image right).
        127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356,
        // Brows 17–21 (image-left brow), 22–26 (image-right brow).
        70, 63, 105, 65, 55, 285, 295, 334, 293, 300,
        // Nose bridge 27–30 (30 = tip), lower nose 31–35 (33 = subnasale).
        168, 197, 5, 1, 75, 97, 2, 326, 305,
        // Image-left eye 36–41 (36 outer corner, 39 inner corner), image-right eye 42–47 (42 inner, 45 outer).
        33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
        // Outer lip 48–59 (48, 54 corners; 51 top centre; 57 bottom centre).
        61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91,
        // Inner lip 60–67 (60, 64 corners; 62 top centre; 66 bottom centre).
        78, 82, 13, 312, 308, 317, 14, 87,
    ]

    /// The 51 "stable" points of the 68-point layout: everything but the jaw (dlib indices 17..<68). The
    /// mean face and the alignment use these.
    public static let stableRange = 17..<68

    /// dlib's 5-point layout (`shape_predictor_5_face_landmarks`) from FaceMesh vertices: 0 outer and 1 inner
    /// corner of the image-right eye (mesh 263, 362), 2 outer and 3 inner corner of the image-left eye (mesh 33,
    /// 133), 4 the base of the nose (subnasale, mesh 2). On astronaut these are 0.58, 1.73, 0.88, 1.34 and 3.17
    /// px from dlib's golden 5 points (dlib's nose point sits ~2 px lower than the mesh's subnasale).
    public static let dlib5: [Int] = [263, 362, 33, 133, 2]

    /// The 68 dlib-layout points (image pixels) picked from 468 FaceMesh points; nil unless `mesh` has 468.
    public static func points68(fromMesh mesh: [SIMD3<Double>]) -> [SIMD2<Double>]? {
        pick(dlib68, from: mesh)
    }

    /// The 5 dlib-layout alignment points (image pixels) picked from 468 FaceMesh points; nil unless `mesh` has 468.
    public static func points5(fromMesh mesh: [SIMD3<Double>]) -> [SIMD2<Double>]? {
        pick(dlib5, from: mesh)
    }

    /// The 51 stable points (dlib indices 17..<68) of a 68-point shape; nil unless `points68` has 68 points.
    public static func stable51(_ points68: [SIMD2<Double>]) -> [SIMD2<Double>]? {
        points68.count == 68 ? Array(points68[stableRange]) : nil
    }

    private static func pick(_ table: [Int], from mesh: [SIMD3<Double>]) -> [SIMD2<Double>]? {
        guard mesh.count == meshCount else { return nil }
        return table.map { SIMD2(mesh[$0].x, mesh[$0].y) }
    }
}
