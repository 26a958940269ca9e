import Foundation

/// sRGB ↔ CIE L*a*b* (D65, 2°), the one implementation of it in Facet, with two paths sharing the matrix and
/// the white point:
/// - the exact path (`exactLab`, Double, the transfer curve and cube root computed), for metrics: `score`'s
///   skin colour and its CIEDE2000 difference (`ciede2000`);
/// - the table path (`lab`, `rgb`, `toLab`, `toRGB`, Float, the sRGB transfer curve both ways and L*a*b*'s f
///   through 4097-entry lookup tables), for per-pixel work on Float images: swap's colour matching and
///   Augment's colour changes. It stays within `tableTolerance` of the exact path on 8-bit colours
///   (`ScoringUnitTests.testLabTablePathStaysNearTheExactPath`), and on 0…1 Float pixels it is 4–10×
///   faster than the exact path (31–65 against 180–420 ns per pixel, swiftc -O, 2²⁰ random pixels, AMD EPYC with
///   2 cores shared at load 5–8: `benchmarks/score/lab-speed/run.sh`).
/// The white point is the sum of the sRGB matrix's rows, so sRGB white is L* 100, a* = b* = 0 (to 1e-4) on both paths.
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
    /// D65 white in XYZ (Y = 1): the row sums of the sRGB → XYZ matrix in `xyz`.
    public static let white = SIMD3<Double>(0.9504700, 1, 1.0888300)
    public static let whiteX = Float(white.x)
    public static let whiteZ = Float(white.z)

    /// Linear sRGB → CIE XYZ (D65), Y of white 1: the matrix both paths use.
    @inlinable @inline(__always)
    public static func xyz<T: BinaryFloatingPoint>(_ r: T, _ g: T, _ b: T) -> (x: T, y: T, z: T) {
        (0.4124564 * r + 0.3575761 * g + 0.1804375 * b, 0.2126729 * r + 0.7151522 * g + 0.0721750 * b, 0.0193339 * r + 0.1191920 * g + 0.9503041 * b)
    }

    @inlinable @inline(__always)
    public static func lookup(_ table: UnsafeBufferPointer<Float>, _ x: Float, range: Float = 1) -> Float {
        let position = min(max(x / range, 0), 1) * Float(tableSize)
        let i = min(Int(position), tableSize - 1)
        let f = position - Float(i)
        return table[i] + (table[i + 1] - table[i]) * f
    }

    @inlinable @inline(__always)
    public static func lab(_ r: Float, _ g: Float, _ b: Float, _ lin: UnsafeBufferPointer<Float>, _ ft: UnsafeBufferPointer<Float>) -> (Float, Float, Float) {
        let (x, y, z) = xyz(lookup(lin, r), lookup(lin, g), lookup(lin, b))
        let fx = lookup(ft, x / whiteX, range: fRange), fy = lookup(ft, y, range: fRange), fz = lookup(ft, z / whiteZ, range: fRange)
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

    // MARK: The exact path (Double), for metrics

    /// sRGB-encoded 0…1 → linear light 0…1 (IEC 61966-2-1).
    public static func linear(_ v: Double) -> Double { v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4) }

    /// L*a*b*'s f(t).
    public static func f(_ t: Double) -> Double { t > delta * delta * delta ? cbrt(t) : t / (3 * delta * delta) + 4.0 / 29.0 }

    /// `linear` of every 8-bit value v / 255.
    static let linear8: [Double] = (0..<256).map { linear(Double($0) / 255) }

    /// CIE L*a*b* (L* 0…100) of linear-light RGB 0…1, exactly.
    public static func exactLab(linearRed r: Double, green g: Double, blue b: Double) -> SIMD3<Double> {
        let (x, y, z) = xyz(r, g, b)
        let fx = f(x / white.x), fy = f(y), fz = f(z / white.z)
        return SIMD3(116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    }

    /// CIE L*a*b* of an 8-bit sRGB colour, exactly.
    public static func exactLab(red: UInt8, green: UInt8, blue: UInt8) -> SIMD3<Double> {
        exactLab(linearRed: linear8[Int(red)], green: linear8[Int(green)], blue: linear8[Int(blue)])
    }

    /// CIE L*a*b* of an sRGB-encoded colour 0…1 (clamped), exactly.
    public static func exactLab(encodedRed red: Double, green: Double, blue: Double) -> SIMD3<Double> {
        func clamp(_ v: Double) -> Double { min(max(v, 0), 1) }
        return exactLab(linearRed: linear(clamp(red)), green: linear(clamp(green)), blue: linear(clamp(blue)))
    }

    /// The most the table path's L*, a* or b* differs from the exact path's on any 8-bit colour (L*a*b* units).
    public static let tableTolerance = 0.01

    /// CIEDE2000 ΔE₀₀ between two L*a*b* colours with kL = kC = kH = 1 (Sharma, Wu & Dalal, Color Research &
    /// Application 30(1), 2005; checked against their Table 1 in `ScoringUnitTests`).
    public static func ciede2000(_ lab1: SIMD3<Double>, _ lab2: SIMD3<Double>) -> Double {
        let (l1, a1, b1) = (lab1.x, lab1.y, lab1.z), (l2, a2, b2) = (lab2.x, lab2.y, lab2.z)
        let c1 = (a1 * a1 + b1 * b1).squareRoot(), c2 = (a2 * a2 + b2 * b2).squareRoot()
        let cBar = (c1 + c2) / 2
        let cBar7 = pow(cBar, 7)
        let g = 0.5 * (1 - (cBar7 / (cBar7 + pow(25, 7))).squareRoot())
        let a1p = (1 + g) * a1, a2p = (1 + g) * a2
        let c1p = (a1p * a1p + b1 * b1).squareRoot(), c2p = (a2p * a2p + b2 * b2).squareRoot()
        func hue(_ b: Double, _ a: Double) -> Double {
            if a == 0 && b == 0 { return 0 }
            let h = atan2(b, a) * 180 / .pi
            return h < 0 ? h + 360 : h
        }
        let h1p = hue(b1, a1p), h2p = hue(b2, a2p)
        let dLp = l2 - l1, dCp = c2p - c1p
        var dhp = 0.0
        if c1p * c2p != 0 {
            dhp = h2p - h1p
            if dhp > 180 { dhp -= 360 } else if dhp < -180 { dhp += 360 }
        }
        let dHp = 2 * (c1p * c2p).squareRoot() * sin(dhp / 2 * .pi / 180)
        let lBarP = (l1 + l2) / 2, cBarP = (c1p + c2p) / 2
        var hBarP = h1p + h2p
        if c1p * c2p != 0 {
            if abs(h1p - h2p) <= 180 { hBarP /= 2 } else if h1p + h2p < 360 { hBarP = (hBarP + 360) / 2 } else { hBarP = (hBarP - 360) / 2 }
        }
        let rad = Double.pi / 180
        let t = 1 - 0.17 * cos((hBarP - 30) * rad) + 0.24 * cos(2 * hBarP * rad) + 0.32 * cos((3 * hBarP + 6) * rad)
            - 0.20 * cos((4 * hBarP - 63) * rad)
        let dTheta = 30 * exp(-pow((hBarP - 275) / 25, 2))
        let cBarP7 = pow(cBarP, 7)
        let rc = 2 * (cBarP7 / (cBarP7 + pow(25, 7))).squareRoot()
        let l50 = (lBarP - 50) * (lBarP - 50)
        let sl = 1 + 0.015 * l50 / (20 + l50).squareRoot()
        let sc = 1 + 0.045 * cBarP, sh = 1 + 0.015 * cBarP * t
        let rt = -sin(2 * dTheta * rad) * rc
        let tl = dLp / sl, tc = dCp / sc, th = dHp / sh
        return (tl * tl + tc * tc + th * th + rt * tc * th).squareRoot()
    }
}
