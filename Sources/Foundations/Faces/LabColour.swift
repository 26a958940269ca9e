import Foundation

/// sRGB ↔ CIE L*a*b* (D65) for colour augmentation and colour matching, through lookup tables (the sRGB transfer curve both
/// ways and the cube root of L*a*b*'s f), accurate to about 1e-4 on 0…1 values.
public enum LabColour {
    public static let tableSize = 4096
    public static let delta = 6.0 / 29.0
    /// sRGB-encoded 0…1 → linear, sampled at i / tableSize.
    public static let toLinearTable: [Float] = (0...tableSize).map { i in
        let v = Double(i) / Double(tableSize)
        return Float(v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4))
    }
    /// Linear 0…1 → sRGB-encoded, sampled at i / tableSize.
    public static let toEncodedTable: [Float] = (0...tableSize).map { i in
        let v = Double(i) / Double(tableSize)
        return Float(v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055)
    }
    /// L*a*b*'s f(t) on 0…fRange, sampled at i·fRange / tableSize.
    public static let fRange: Float = 1.125
    public static let fTable: [Float] = (0...tableSize).map { i in
        let t = Double(i) / Double(tableSize) * Double(fRange)
        return Float(t > delta * delta * delta ? cbrt(t) : t / (3 * delta * delta) + 4.0 / 29.0)
    }
    public static let whiteX: Float = 0.950489
    public static let whiteZ: Float = 1.088840

    @inlinable @inline(__always)
    public static func lookup(_ table: UnsafeBufferPointer<Float>, _ x: Float, range: Float = 1) -> Float {
        let position = min(max(x / range, 0), 1) * Float(tableSize)
        let i = min(Int(position), tableSize - 1)
        let f = position - Float(i)
        return table[i] + (table[i + 1] - table[i]) * f
    }

    @inlinable @inline(__always)
    public static func lab(_ r: Float, _ g: Float, _ b: Float, _ lin: UnsafeBufferPointer<Float>, _ ft: UnsafeBufferPointer<Float>) -> (Float, Float, Float) {
        let rl = lookup(lin, r), gl = lookup(lin, g), bl = lookup(lin, b)
        let x = (0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl) / whiteX
        let y = 0.2126729 * rl + 0.7151522 * gl + 0.0721750 * bl
        let z = (0.0193339 * rl + 0.1191920 * gl + 0.9503041 * bl) / whiteZ
        let fx = lookup(ft, x, range: fRange), fy = lookup(ft, y, range: fRange), fz = lookup(ft, z, range: fRange)
        return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    }

    /// L*a*b* → sRGB 0…1 (clamped), with the encoding table `toEncodedTable`.
    @inlinable @inline(__always)
    public static func rgb(_ l: Float, _ a: Float, _ b: Float, _ enc: UnsafeBufferPointer<Float>) -> (Float, Float, Float) {
        let fy = (l + 16) / 116, fx = fy + a / 500, fz = fy - b / 200
        let d = Float(delta)
        func inverse(_ f: Float) -> Float { f > d ? f * f * f : 3 * d * d * (f - 4.0 / 29.0) }
        let x = inverse(fx) * whiteX, y = inverse(fy), z = inverse(fz) * whiteZ
        let rl = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z
        let gl = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z
        let bl = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z
        return (lookup(enc, rl), lookup(enc, gl), lookup(enc, bl))
    }

    /// `count` interleaved RGB pixels (0…1) → interleaved L*, a*, b*.
    public static func toLab(_ rgb: UnsafePointer<Float>, count: Int, into lab: UnsafeMutablePointer<Float>) {
        toLinearTable.withUnsafeBufferPointer { lin in fTable.withUnsafeBufferPointer { ft in
            for k in 0..<count {
                let v = Self.lab(rgb[3 * k], rgb[3 * k + 1], rgb[3 * k + 2], lin, ft)
                lab[3 * k] = v.0; lab[3 * k + 1] = v.1; lab[3 * k + 2] = v.2
            }
        } }
    }

    /// `count` interleaved L*, a*, b* pixels → interleaved RGB 0…1 (clamped).
    public static func toRGB(_ lab: UnsafePointer<Float>, count: Int, into rgb: UnsafeMutablePointer<Float>) {
        toEncodedTable.withUnsafeBufferPointer { enc in
            for k in 0..<count {
                let v = Self.rgb(lab[3 * k], lab[3 * k + 1], lab[3 * k + 2], enc)
                rgb[3 * k] = v.0; rgb[3 * k + 1] = v.1; rgb[3 * k + 2] = v.2
            }
        }
    }

    /// sRGB 0…1 → (L*, a*, b*), for tests and tools.
    public static func lab(red: Float, green: Float, blue: Float) -> (l: Float, a: Float, b: Float) {
        toLinearTable.withUnsafeBufferPointer { lin in fTable.withUnsafeBufferPointer { ft in lab(red, green, blue, lin, ft) } }
    }

    /// (L*, a*, b*) → sRGB 0…1, clamped.
    public static func rgb(l: Float, a: Float, b: Float) -> (red: Float, green: Float, blue: Float) {
        toEncodedTable.withUnsafeBufferPointer { enc in rgb(l, a, b, enc) }
    }
}
