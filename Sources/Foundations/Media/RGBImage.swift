/// An 8-bit RGB image in memory: `height` rows of `width` pixels, 3 bytes each (R, G, B), no row padding.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes, row-major, top row first.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: pixel buffer does not match \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A solid image of the given colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: p.count, by: 3) { p[i] = fill.0; p[i + 1] = fill.1; p[i + 2] = fill.2 }
        self.pixels = p
    }

    /// The image turned clockwise by `degrees` (0, 90, 180 or 270; other values are taken modulo 360 and
    /// rounded to the nearest quarter turn).
    public func rotated(clockwise degrees: Int) -> RGBImage {
        DisplayOrientation.turn(clockwise: degrees).apply(to: self)
    }

    /// The rectangle at (`x`, `y`) of `width` × `height` pixels, which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height, "cropped: rectangle outside the image")
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for row in 0..<h {
            let src = ((y + row) * width + x) * 3
            out[(row * w * 3)..<((row + 1) * w * 3)] = pixels[src..<(src + w * 3)]
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// The image mirrored left to right.
    public func mirrored() -> RGBImage {
        DisplayOrientation.mirror.apply(to: self)
    }

    /// Luma (BT.601 weights) of each pixel, 0...255, `width * height` values.
    public func luma() -> [Float] {
        var out = [Float](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            out[i] = 0.299 * Float(pixels[i * 3]) + 0.587 * Float(pixels[i * 3 + 1]) + 0.114 * Float(pixels[i * 3 + 2])
        }
        return out
    }
}

/// Peak signal-to-noise ratio between two images of equal size, in dB (`infinity` when identical).
public func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
    precondition(a.width == b.width && a.height == b.height, "psnr: images differ in size")
    var sum = 0.0
    for i in 0..<a.pixels.count {
        let d = Double(a.pixels[i]) - Double(b.pixels[i])
        sum += d * d
    }
    if sum == 0 { return .infinity }
    let mse = sum / Double(a.pixels.count)
    return 10 * log10(255 * 255 / mse)
}

#if canImport(Glibc)
import Glibc
#endif
