import Foundation
import Media

/// Resampling of RGB images into network input tensors.
public enum ImageSampling {
    /// What a sample outside the image gives.
    public enum Border: Sendable { case zero, replicate }

    /// Bilinear sample of `image` at source coordinates in pixel-centre convention (pixel (i, j) covers
    /// [j, j+1) × [i, i+1), its centre is (j+0.5, i+0.5)), writing R, G, B as Double 0...255.
    @inline(__always)
    static func sample(_ p: UnsafePointer<UInt8>, width w: Int, height h: Int, x xs: Double, y ys: Double, border: Border,
                       into out: inout (Double, Double, Double)) {
        let x = xs - 0.5, y = ys - 0.5
        let xf = Foundation.floor(x), yf = Foundation.floor(y)
        let x0 = Int(xf), y0 = Int(yf)
        let fx = x - xf, fy = y - yf
        var r = 0.0, g = 0.0, b = 0.0
        @inline(__always) func add(_ yy0: Int, _ xx0: Int, _ weight: Double) {
            var yy = yy0, xx = xx0
            if yy < 0 || yy >= h || xx < 0 || xx >= w {
                if border == .zero { return }
                yy = min(max(yy, 0), h - 1); xx = min(max(xx, 0), w - 1)
            }
            let q = p + (yy * w + xx) * 3
            r += Double(q[0]) * weight; g += Double(q[1]) * weight; b += Double(q[2]) * weight
        }
        add(y0, x0, (1 - fx) * (1 - fy))
        add(y0, x0 + 1, fx * (1 - fy))
        add(y0 + 1, x0, (1 - fx) * fy)
        add(y0 + 1, x0 + 1, fx * fy)
        out = (r, g, b)
    }

    /// Fills an `size × size × 3` tensor by sampling `image` through an affine map from output pixel
    /// centres to source coordinates: `src = origin + u·axisU + v·axisV` where (u, v) are the output
    /// pixel's centre in output pixels. Each value is `scale · round(sample) + offset` (rounding like the
    /// reference uint8 crops), or unrounded when `round` is false.
    public static func affineCrop(_ image: RGBImage, size: Int, originX: Double, originY: Double,
                                  axisU: (Double, Double), axisV: (Double, Double), border: Border,
                                  scale: Float, offset: Float, round: Bool = true, into tensor: inout [Float]) {
        precondition(tensor.count == size * size * 3, "affineCrop: tensor must hold \(size)x\(size)x3 values")
        image.pixels.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress!
            var rgb = (0.0, 0.0, 0.0)
            for v in 0..<size {
                for u in 0..<size {
                    let cu = Double(u) + 0.5, cv = Double(v) + 0.5
                    let sx = originX + cu * axisU.0 + cv * axisV.0
                    let sy = originY + cu * axisU.1 + cv * axisV.1
                    sample(p, width: image.width, height: image.height, x: sx, y: sy, border: border, into: &rgb)
                    let i = (v * size + u) * 3
                    if round {
                        tensor[i] = Float(Foundation.floor(rgb.0 + 0.5)) * scale + offset
                        tensor[i + 1] = Float(Foundation.floor(rgb.1 + 0.5)) * scale + offset
                        tensor[i + 2] = Float(Foundation.floor(rgb.2 + 0.5)) * scale + offset
                    } else {
                        tensor[i] = Float(rgb.0) * scale + offset
                        tensor[i + 1] = Float(rgb.1) * scale + offset
                        tensor[i + 2] = Float(rgb.2) * scale + offset
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
