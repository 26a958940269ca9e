import Foundation
import Media
import Tensor

/// Resampling of RGB images into network input tensors (bilinear sampling: Media's `Bilinear`).
public enum ImageSampling {
    /// What a sample outside the image gives (Media's `Bilinear.Border`).
    public typealias Border = Bilinear.Border

    /// Fills an `size × size × 3` tensor by sampling `image` through an affine map from output pixel
    /// centres to source coordinates: `src = origin + u·axisU + v·axisV` where (u, v) are the output
    /// pixel's centre in output pixels. Each value is `scale · round(sample) + offset` (rounding like the
    /// reference uint8 crops), or unrounded when `round` is false.
    public static func affineCrop(_ image: RGBImage, size: Int, originX: Double, originY: Double,
                                  axisU: (Double, Double), axisV: (Double, Double), border: Border,
                                  scale: Float, offset: Float, round: Bool = true, into tensor: inout [Float]) {
        precondition(tensor.count == size * size * 3, "affineCrop: tensor must hold \(size)x\(size)x3 values")
        guard size > 0 else { return }
        image.pixels.withUnsafeBufferPointer { buffer in
            tensor.withUnsafeMutableBufferPointer { out in
                guard let p = buffer.baseAddress, let o = out.baseAddress, image.width > 0, image.height > 0 else { return }
                let src = SendableBytes(p), dst = SendableMutablePointer(o)
                // Rows split across cores (each row is independent; the values do not depend on the split). The C
                // kernel computes the same values (FastSampling); this loop runs when the fast kernels are off.
                let map = SamplingMap(a: axisU.0, b: axisV.0, tx: originX, c: axisU.1, d: axisV.1, ty: originY, originFirst: true)
                let target = FastSampling.Target.floats(o, scale: scale, offset: offset, round: round)
                Parallel.ranges(size, work: size * size * 40) { rows in
                    if FastSampling.affineRGB(src.pointer, width: image.width, height: image.height, outWidth: size, map: map,
                                              zeroBorder: border == .zero, target: target, rows: rows) { return }
                    for v in rows {
                        let cv = Double(v) + 0.5
                        var d = dst.pointer + v * size * 3
                        for u in 0..<size {
                            let cu = Double(u) + 0.5
                            let sx = originX + cu * axisU.0 + cv * axisV.0
                            let sy = originY + cu * axisU.1 + cv * axisV.1
                            let rgb = Bilinear.rgb(src.pointer, width: image.width, height: image.height, x: sx, y: sy, border: border)
                            if round {
                                d[0] = Float((rgb.0 + 0.5).rounded(.down)) * scale + offset
                                d[1] = Float((rgb.1 + 0.5).rounded(.down)) * scale + offset
                                d[2] = Float((rgb.2 + 0.5).rounded(.down)) * scale + offset
                            } else {
                                d[0] = Float(rgb.0) * scale + offset
                                d[1] = Float(rgb.1) * scale + offset
                                d[2] = Float(rgb.2) * scale + offset
                            }
                            d += 3
                        }
                    }
                }
            }
        }
    }

    /// Shrinks by an integer factor `k` with a k×k box filter, rounding half up (partial edge blocks are
    /// dropped). Reduced pixel (i, j) covers original pixels [k·j, k·j+k) × [k·i, k·i+k).
    public static func boxDownsample(_ image: RGBImage, factor k: Int) -> RGBImage {
        guard k > 1 else { return image }
        let w = image.width / k, h = image.height / k
        guard w > 0, h > 0 else { return image }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let area = Double(k * k)
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<h {
                for x in 0..<w {
                    var r = 0, g = 0, b = 0
                    for dy in 0..<k {
                        let row = ((y * k + dy) * image.width + x * k) * 3
                        for dx in 0..<k {
                            r += Int(src[row + dx * 3]); g += Int(src[row + dx * 3 + 1]); b += Int(src[row + dx * 3 + 2])
                        }
                    }
                    let o = (y * w + x) * 3
                    out[o] = UInt8(Foundation.floor(Double(r) / area + 0.5))
                    out[o + 1] = UInt8(Foundation.floor(Double(g) / area + 0.5))
                    out[o + 2] = UInt8(Foundation.floor(Double(b) / area + 0.5))
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
