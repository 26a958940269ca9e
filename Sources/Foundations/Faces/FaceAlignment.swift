import FacetCore
import Foundation
import Media
import Models
import Tensor

extension AffineMatrix2x3 {
    /// The same map as dlib's `point_transform_affine`.
    public init(_ t: DlibAffineTransform) {
        self.init(a: t.m00, b: t.m01, tx: t.b.x, c: t.m10, d: t.m11, ty: t.b.y)
    }
}

/// How much of the head an aligned crop shows. Both are squares in mean-face units (`MeanFace.points51`
/// spans x 0…1, y 0.036…0.964: outer brow ends to bottom of the lower lip), mapped onto the whole crop.
///
/// * `.face`: the square of side 1.6 centred on (0.5, 0.55), i.e. x −0.3…1.3, y −0.25…1.35. The 51 stable
///   points fill the central 62.5 % of the crop's width; the mesh's face oval (x −0.12…1.13, chin y ≈ 1.21,
///   top of the mesh's forehead y ≈ −0.18, measured on astronaut) fits with ≥ 0.07 units (≈ 11 px at 256) to spare.
/// * `.head`: the square of side 2.4 centred on (0.5, 0.3), i.e. x −0.7…1.7, y −0.9…1.5: shifted up to take in
///   forehead, hair and the top of the skull, plus ears and some neck. The stable points fill 41.7 % of the width.
public enum FaceCentering: String, Sendable, Codable, CaseIterable {
    case face, head

    /// Side of the crop square, in mean-face units.
    public var side: Double { self == .face ? 1.6 : 2.4 }
    /// Centre of the crop square, in mean-face units.
    public var centre: SIMD2<Double> { self == .face ? SIMD2(0.5, 0.55) : SIMD2(0.5, 0.3) }
}

/// An aligned face crop: the similarity transform (rotation, uniform scale, translation; least squares,
/// Umeyama) that takes a face's 51 stable landmarks onto `MeanFace.points51` placed in a `size × size` crop
/// according to `centering`, stored as a 2×3 matrix from image pixels to crop pixels plus its inverse.
public struct FaceAlignment: Equatable, Sendable {
    /// The crop side faceswap-style models train on.
    public static let defaultSize = 256

    /// Crop side in pixels.
    public let size: Int
    public let centering: FaceCentering
    /// Image pixels → crop pixels.
    public let matrix: AffineMatrix2x3
    /// Crop pixels → image pixels.
    public let inverse: AffineMatrix2x3

    /// The mean face's 51 points in crop pixels for a crop of `size` and the given centering.
    public static func template(size: Int = defaultSize, centering: FaceCentering = .face) -> [SIMD2<Double>] {
        let s = Double(size) / centering.side
        return MeanFace.points51.map { ($0 - centering.centre) * s + SIMD2(repeating: Double(size) / 2) }
    }

    /// The alignment of a face given its 68 dlib-layout landmarks in image pixels (only the 51 stable points
    /// 17..<68 are used). Nil for a wrong point count, `size` < 1, or degenerate (coincident) landmarks.
    public init?(landmarks68: [SIMD2<Double>], size: Int = defaultSize, centering: FaceCentering = .face) {
        guard let stable = LandmarkSubsets.stable51(landmarks68) else { return nil }
        self.init(stable51: stable, size: size, centering: centering)
    }

    /// The alignment of a face given FaceMesh's 468 points (image pixels; see `LandmarkSubsets.dlib68`).
    public init?(mesh: [SIMD3<Double>], size: Int = defaultSize, centering: FaceCentering = .face) {
        guard let points = LandmarkSubsets.points68(fromMesh: mesh) else { return nil }
        self.init(landmarks68: points, size: size, centering: centering)
    }

    /// The alignment of a face given its 51 stable landmarks (dlib 17..<68) in image pixels.
    public init?(stable51: [SIMD2<Double>], size: Int = defaultSize, centering: FaceCentering = .face) {
        guard stable51.count == 51, size >= 1, stable51.allSatisfy({ $0.x.isFinite && $0.y.isFinite }),
              stable51.contains(where: { $0 != stable51[0] }) else { return nil }
        let t = DlibAffineTransform.similarity(from: stable51, to: Self.template(size: size, centering: centering))
        self.init(matrix: AffineMatrix2x3(t), size: size, centering: centering)
    }

    /// An alignment from an explicit image → crop matrix; nil when it is singular or `size` < 1.
    public init?(matrix: AffineMatrix2x3, size: Int = defaultSize, centering: FaceCentering = .face) {
        guard size >= 1, let inverse = matrix.inverse else { return nil }
        self.size = size
        self.centering = centering
        self.matrix = matrix
        self.inverse = inverse
    }

    /// Crop pixels per image pixel.
    public var scale: Double { abs(matrix.determinant).squareRoot() }
    /// The crop's rotation relative to the image, radians (positive turns the image content clockwise on screen).
    public var rotation: Double { atan2(matrix.c, matrix.a) }

    /// An image point (px) in crop pixels.
    public func toCrop(_ p: SIMD2<Double>) -> SIMD2<Double> { matrix.apply(p) }
    /// A crop point (px) in image pixels.
    public func toImage(_ p: SIMD2<Double>) -> SIMD2<Double> { inverse.apply(p) }

    /// The `size × size` aligned crop: each crop pixel centre `(j + 0.5, i + 0.5)` is mapped through `inverse`
    /// and `image` is sampled there bilinearly (pixel-centre convention, edges replicated), rounded to UInt8.
    public func crop(image: RGBImage) -> RGBImage {
        var out = [UInt8](repeating: 0, count: size * size * 3)
        guard image.width > 0, image.height > 0 else { return RGBImage(width: size, height: size, pixels: out) }
        let m = inverse, width = image.width, height = image.height, size = size
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let base = src.baseAddress, let first = dst.baseAddress else { return }
                let source = SendableBytes(base), target = SendableMutableBytes(first)
                // Rows split across cores; each pixel's value does not depend on the split. The C kernel computes the
                // same values (FastSampling); this loop runs when the fast kernels are off.
                let map = SamplingMap(a: m.a, b: m.b, tx: m.tx, c: m.c, d: m.d, ty: m.ty, originFirst: false)
                Parallel.ranges(size, work: size * size * 40) { rows in
                    if FastSampling.affineRGB(source.pointer, width: width, height: height, outWidth: size, map: map, zeroBorder: false,
                                              target: .bytes(target.pointer), rows: rows) { return }
                    var o = target.pointer + rows.lowerBound * size * 3
                    for i in rows {
                        let y = Double(i) + 0.5
                        for j in 0..<size {
                            let x = Double(j) + 0.5   // inverse.apply((x, y)), written out so it inlines across modules
                            let v = Bilinear.rgb(source.pointer, width: width, height: height,
                                                 x: m.a * x + m.b * y + m.tx, y: m.c * x + m.d * y + m.ty)
                            o[0] = Bilinear.byte(v.0); o[1] = Bilinear.byte(v.1); o[2] = Bilinear.byte(v.2)
                            o += 3
                        }
                    }
                }
            }
        }
        return RGBImage(width: size, height: size, pixels: out)
    }

    /// Composites `crop` back into a copy of `frame` through the inverse transform. Every frame pixel whose
    /// centre maps inside the crop square takes `α·crop + (1 − α)·frame`, where the crop is sampled bilinearly
    /// (edges replicated) and α is `mask` sampled bilinearly / 255, or 1 without a mask; other pixels are
    /// unchanged. `crop` and `mask` may have any resolution: they are taken to cover the same square as this
    /// alignment's `size × size` crop (so a 128 px model output composites like a 256 px crop).
    public func warpBack(crop: RGBImage, into frame: RGBImage, mask: FaceMask? = nil) -> RGBImage {
        guard crop.width > 0, crop.height > 0, frame.width > 0, frame.height > 0 else { return frame }
        let n = Double(size)
        // The crop square's footprint in the frame.
        let corners = [SIMD2(0, 0), SIMD2(n, 0), SIMD2(0, n), SIMD2(n, n)].map { inverse.apply($0) }
        let xs = corners.map(\.x), ys = corners.map(\.y)
        guard let minX = xs.min(), let maxX = xs.max(), let minY = ys.min(), let maxY = ys.max(),
              minX.isFinite, maxX.isFinite, minY.isFinite, maxY.isFinite else { return frame }
        // Clamp to the frame before converting, so far-away footprints cannot trap.
        func index(_ v: Double, _ n: Int) -> Int { Int(min(max(v, 0), Double(n - 1))) }
        let x0 = index(minX.rounded(.down), frame.width), x1 = index(maxX.rounded(.up), frame.width)
        let y0 = index(minY.rounded(.down), frame.height), y1 = index(maxY.rounded(.up), frame.height)
        guard x0 <= x1, y0 <= y1 else { return frame }
        let cropScale = SIMD2(Double(crop.width) / n, Double(crop.height) / n)
        let maskScale = mask.map { SIMD2(Double($0.width) / n, Double($0.height) / n) } ?? .zero
        let maskUsable = mask.map { $0.width > 0 && $0.height > 0 } ?? false
        var out = frame.pixels
        crop.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let base = src.baseAddress else { return }
                for y in y0...y1 {
                    for x in x0...x1 {
                        let q = matrix.apply(SIMD2(Double(x) + 0.5, Double(y) + 0.5))
                        guard q.x >= 0, q.y >= 0, q.x < n, q.y < n else { continue }
                        var alpha = 1.0
                        if let mask {
                            alpha = maskUsable ? mask.sample(x: q.x * maskScale.x, y: q.y * maskScale.y) / 255 : 0
                            if alpha <= 0 { continue }
                        }
                        let c = q * cropScale
                        let v = Bilinear.rgb(base, width: crop.width, height: crop.height, x: c.x, y: c.y)
                        let o = (y * frame.width + x) * 3
                        dst[o] = Bilinear.byte(alpha * v.0 + (1 - alpha) * Double(dst[o]))
                        dst[o + 1] = Bilinear.byte(alpha * v.1 + (1 - alpha) * Double(dst[o + 1]))
                        dst[o + 2] = Bilinear.byte(alpha * v.2 + (1 - alpha) * Double(dst[o + 2]))
                    }
                }
            }
        }
        return RGBImage(width: frame.width, height: frame.height, pixels: out)
    }
}
