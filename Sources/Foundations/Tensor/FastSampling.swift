import CKernels

/// The affine map of `FastSampling.affineRGB`: output pixel centre (cu, cv) samples the source at
/// `((tx + cu·a) + cv·b, (ty + cu·c) + cv·d)` when `originFirst` (an origin plus two axes, as
/// `ImageSampling.affineCrop` writes it), else `((a·cu + b·cv) + tx, (c·cu + d·cv) + ty)` (a 2×3 matrix applied, as
/// `FaceAlignment.crop` writes it). The association order is part of the map: each caller's vector path then rounds
/// exactly as its Swift loop does.
public struct SamplingMap: Sendable {
    public var a: Double, b: Double, tx: Double, c: Double, d: Double, ty: Double
    public var originFirst: Bool

    public init(a: Double, b: Double, tx: Double, c: Double, d: Double, ty: Double, originFirst: Bool) {
        self.a = a; self.b = b; self.tx = tx; self.c = c; self.d = d; self.ty = ty; self.originFirst = originFirst
    }
}

/// Bilinear sampling of RGB24 images through an affine map by the C kernel (`fk_affine_rgb_rows`, AVX2 or
/// AVX-512): Media's `Bilinear.rgb` on 4 or 8 output pixels at a time, equal to it bit for bit
/// (`TensorFastKernelTests.testAffineSamplerEqualsBilinearOnBothPaths`).
public enum FastSampling {
    /// Where the samples go: bytes rounded half up, or floats `scale · value + offset` (the value rounded half
    /// up first when `round`). The pointer is the output's first pixel, `[rows][outWidth][3]`.
    public enum Target {
        case bytes(UnsafeMutablePointer<UInt8>)
        case floats(UnsafeMutablePointer<Float>, scale: Float, offset: Float, round: Bool)
    }

    /// Samples output rows `rows` of `outWidth` pixels from `pixels` (`[height][width][3]`); taps outside the image
    /// replicate its edge, or read 0 with `zeroBorder`. Returns false, having written nothing, when the fast
    /// kernels are off (`FastKernels.level` portable) or the image is empty or 2 GiB or more: the caller samples
    /// in Swift.
    public static func affineRGB(_ pixels: UnsafePointer<UInt8>, width: Int, height: Int, outWidth: Int, map: SamplingMap,
                                 zeroBorder: Bool, target: Target, rows: Range<Int>) -> Bool {
        let level = FastKernels.level
        let (area, overflow) = width.multipliedReportingOverflow(by: height)
        guard level >= .avx2, width >= 1, height >= 1, outWidth >= 1, outWidth <= Int(Int32.max), !overflow, area <= Int(Int32.max) / 3,
              rows.lowerBound >= 0, rows.upperBound <= Int(Int32.max) else { return false }
        var p = fk_affine(pixels: pixels, width: Int32(width), height: Int32(height), out_w: Int32(outWidth),
                          a: map.a, b: map.b, tx: map.tx, c: map.c, d: map.d, ty: map.ty, origin_first: map.originFirst ? 1 : 0,
                          zero_border: zeroBorder ? 1 : 0, out_b: nil, out_f: nil, scale: 1, offset: 0, round: 0)
        switch target {
        case .bytes(let out): p.out_b = out
        case .floats(let out, let scale, let offset, let round):
            p.out_f = out; p.scale = scale; p.offset = offset; p.round = round ? 1 : 0
        }
        return fk_affine_rgb_rows(Int32(level.rawValue), &p, Int32(rows.lowerBound), Int32(rows.upperBound)) != 0
    }
}
