import Foundation
import Media

/// dlib's aligned face chips: `get_face_chip_details` for 5-point landmarks and `extract_image_chip`
/// with its exact rules (bilinear sampling with a `floor` base, 0 outside the source, truncation to
/// uint8, and a `pyramid_down<2>` image pyramid when the face is more than about twice the chip size).
public enum FaceChip {
    /// dlib's `chip_details`: a rectangle (a `drectangle`, inclusive corners) turned by `angle` radians
    /// about its centre, sampled to `rows × cols` pixels.
    public struct Details: Equatable, Sendable {
        public var left: Double, top: Double, right: Double, bottom: Double
        public var angle: Double
        public var rows: Int, cols: Int

        public init(left: Double, top: Double, right: Double, bottom: Double, angle: Double, rows: Int, cols: Int) {
            self.left = left; self.top = top; self.right = right; self.bottom = bottom
            self.angle = angle; self.rows = rows; self.cols = cols
        }
    }

    /// The chip size and padding `face_recognition` and dlib's face-recognition example use.
    public static let recognitionChipSize = 150
    public static let recognitionPadding = 0.25

    /// dlib's mean positions of the 5 landmarks (outer/inner right eye corner, outer/inner left eye
    /// corner, bottom of the nose) in a unit face box.
    public static let meanFace5: [SIMD2<Double>] = [
        SIMD2(0.8595674595992, 0.2134981538014), SIMD2(0.6460604764104, 0.2289674387677),
        SIMD2(0.1205750620789, 0.2137274526848), SIMD2(0.3340850613712, 0.2290642403242),
        SIMD2(0.4901123135679, 0.6277975316475),
    ]

    /// `get_face_chip_details(det, size, padding)` for dlib's integer 5-point landmarks.
    public static func details(landmarks5 points: [SIMD2<Int>], size: Int = recognitionChipSize,
                               padding: Double = recognitionPadding) throws -> Details {
        try details(landmarks5: points.map { SIMD2(Double($0.x), Double($0.y)) }, size: size, padding: padding)
    }

    /// `get_face_chip_details(det, size, padding)` for 5 landmarks given as reals.
    public static func details(landmarks5 points: [SIMD2<Double>], size: Int = recognitionChipSize,
                               padding: Double = recognitionPadding) throws -> Details {
        guard points.count == 5 else { throw ModelError.badInput(reason: "face chip needs 5 landmarks, got \(points.count)") }
        guard size >= 2, padding >= 0, padding.isFinite else {
            throw ModelError.badInput(reason: "face chip size \(size) and padding \(padding) are not valid")
        }
        guard points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { throw ModelError.badInput(reason: "landmarks are not finite") }
        let template = meanFace5.map { ($0 + padding) / (2 * padding + 1) * Double(size) }
        let tform = DlibAffineTransform.similarity(from: template, to: points)
        // tform's image of (1, 0) gives the rotation and the scale; the rect carries scale and translation.
        let angle = atan2(tform.m10, tform.m00)
        let scale = (tform.m00 * tform.m00 + tform.m10 * tform.m10).squareRoot()
        let centre = tform.apply(SIMD2(Double(size) / 2, Double(size) / 2))
        // centered_drect subtracts 1 from the width and height (inclusive pixel convention).
        let w = Double(size) * scale - 1, h = Double(size) * scale - 1
        return Details(left: centre.x - w / 2, top: centre.y - h / 2, right: centre.x + w / 2, bottom: centre.y + h / 2,
                       angle: angle, rows: size, cols: size)
    }

    /// dlib's `extract_image_chip(img, details, chip)` with bilinear interpolation.
    public static func extract(from image: RGBImage, details d: Details) -> RGBImage {
        guard d.rows >= 1, d.cols >= 1 else { return RGBImage(width: 0, height: 0, pixels: []) }
        let rect = DRect(l: d.left, t: d.top, r: d.right, b: d.bottom)
        let chipArea = Double(d.rows * d.cols)
        // No rotation or scaling: a plain copy of the (rounded) rectangle.
        if d.angle == 0 && Double(d.rows) == rect.height && Double(d.cols) == rect.width {
            return copyRect(image, rect.rounded())
        }
        // How deep the pyramid must go, and the part of the image the chip can touch.
        var depth = 0
        var grow = 2.0
        var down = rect.pyramidDown()
        while down.area > chipArea {
            down = down.pyramidDown()
            depth += 1
            grow = grow * 2 + 2
        }
        let centre = rect.center
        let corners = [rect.tl, rect.tr, rect.bl, rect.br].map { rotate($0, about: centre, by: d.angle) }
        let rotated = DRect(l: corners.map(\.x).min()!, t: corners.map(\.y).min()!, r: corners.map(\.x).max()!, b: corners.map(\.y).max()!)
        let imageRect = DRect(l: 0, t: 0, r: Double(image.width - 1), b: Double(image.height - 1))
        let box = rotated.grown(by: grow).intersect(imageRect).rounded()   // empty when the chip misses the image

        var source = box.isEmpty ? RGBImage(width: 0, height: 0, pixels: []) : crop(image, box)
        // Pick the pyramid level whose scale is closest above the chip's, then map the chip onto it.
        var local = DRect(l: rect.l - Double(box.l), t: rect.t - Double(box.t), r: rect.r - Double(box.l), b: rect.b - Double(box.t))
        var level = -1
        while local.pyramidDown().area > chipArea && level + 1 < depth {
            level += 1
            local = local.pyramidDown()
        }
        if level >= 0 { for _ in 0...level { source = pyramidDown(source) } }

        let c = local.center
        let tl = rotate(local.tl, about: c, by: d.angle), tr = rotate(local.tr, about: c, by: d.angle)
        let bl = rotate(local.bl, about: c, by: d.angle)
        let sx = d.cols > 1 ? Double(d.cols - 1) : 1, sy = d.rows > 1 ? Double(d.rows - 1) : 1
        let map = DlibAffineTransform(m00: (tr.x - tl.x) / sx, m01: (bl.x - tl.x) / sy,
                                      m10: (tr.y - tl.y) / sx, m11: (bl.y - tl.y) / sy, b: tl)
        return sampleBilinear(source, map: map, rows: d.rows, cols: d.cols)
    }

    /// The chip for 5 integer landmarks in one call: `details` then `extract`.
    public static func extract(from image: RGBImage, landmarks5 points: [SIMD2<Int>], size: Int = recognitionChipSize,
                               padding: Double = recognitionPadding) throws -> RGBImage {
        extract(from: image, details: try details(landmarks5: points, size: size, padding: padding))
    }

    /// dlib's `pyramid_down<2>` on an RGB image: a separable [1 4 6 4 1] filter on integers, keeping every
    /// other row and column; `(n − 3) / 2` pixels on each side (empty when a side is 8 or less).
    public static func pyramidDown(_ img: RGBImage) -> RGBImage {
        guard img.width > 8, img.height > 8 else { return RGBImage(width: 0, height: 0, pixels: []) }
        let tw = (img.width - 3) / 2, outH = (img.height - 3) / 2
        var temp = [UInt16](repeating: 0, count: img.height * tw * 3)
        var out = [UInt8](repeating: 0, count: outH * tw * 3)
        img.pixels.withUnsafeBufferPointer { src in
            temp.withUnsafeMutableBufferPointer { tmp in
                for r in 0..<img.height {
                    let row = src.baseAddress! + r * img.width * 3
                    let dst = tmp.baseAddress! + r * tw * 3
                    for c in 0..<tw {
                        let p = row + 2 * c * 3
                        for ch in 0..<3 {
                            dst[c * 3 + ch] = UInt16(p[ch]) + 4 * UInt16(p[3 + ch]) + 6 * UInt16(p[6 + ch])
                                + 4 * UInt16(p[9 + ch]) + UInt16(p[12 + ch])
                        }
                    }
                }
                out.withUnsafeMutableBufferPointer { o in
                    var dr = 0
                    var r = 2
                    while r < img.height - 2 {
                        for i in 0..<(tw * 3) {
                            let t = tmp.baseAddress! + i
                            let s = Int(t[(r - 2) * tw * 3]) + 4 * Int(t[(r - 1) * tw * 3]) + 6 * Int(t[r * tw * 3])
                                + 4 * Int(t[(r + 1) * tw * 3]) + Int(t[(r + 2) * tw * 3])
                            o[dr * tw * 3 + i] = UInt8(truncatingIfNeeded: UInt16(truncatingIfNeeded: s) / 256)
                        }
                        dr += 1
                        r += 2
                    }
                }
            }
        }
        return RGBImage(width: tw, height: outH, pixels: out)
    }

    // MARK: internals

    /// dlib's `drectangle` (inclusive: width = r − l + 1).
    struct DRect {
        var l: Double, t: Double, r: Double, b: Double
        var isEmpty: Bool { t > b || l > r }
        var width: Double { isEmpty ? 0 : r - l + 1 }
        var height: Double { isEmpty ? 0 : b - t + 1 }
        var area: Double { width * height }
        var center: SIMD2<Double> { SIMD2(l + r, t + b) / 2 }
        var tl: SIMD2<Double> { SIMD2(l, t) }
        var tr: SIMD2<Double> { SIMD2(r, t) }
        var bl: SIMD2<Double> { SIMD2(l, b) }
        var br: SIMD2<Double> { SIMD2(r, b) }
        /// `pyramid_down<2>::rect_down`: each corner `p / 2 − (1.25, 0.75)`.
        func pyramidDown() -> DRect { DRect(l: l / 2 - 1.25, t: t / 2 - 0.75, r: r / 2 - 1.25, b: b / 2 - 0.75) }
        func grown(by n: Double) -> DRect { DRect(l: l - n, t: t - n, r: r + n, b: b + n) }
        func intersect(_ o: DRect) -> DRect { DRect(l: max(l, o.l), t: max(t, o.t), r: min(r, o.r), b: min(b, o.b)) }
        /// The conversion to dlib's integer `rectangle` (`std::lround` of each side).
        func rounded() -> IRect { IRect(l: lround(l), t: lround(t), r: lround(r), b: lround(b)) }
    }

    /// dlib's integer `rectangle` (inclusive).
    struct IRect {
        var l: Int, t: Int, r: Int, b: Int
        var isEmpty: Bool { t > b || l > r }
    }

    static func lround(_ v: Double) -> Int {
        v.isNaN ? 0 : Int(max(min(v.rounded(.toNearestOrAwayFromZero), 4.0e18), -4.0e18))
    }

    /// `rotate_point(center, p, angle)`.
    static func rotate(_ p: SIMD2<Double>, about c: SIMD2<Double>, by angle: Double) -> SIMD2<Double> {
        let s = sin(angle), co = cos(angle)
        let x = p.x - c.x, y = p.y - c.y
        return SIMD2(co * x - s * y + c.x, s * x + co * y + c.y)
    }

    /// The pixels of `box` (inside the image).
    static func crop(_ img: RGBImage, _ box: IRect) -> RGBImage {
        let w = box.r - box.l + 1, h = box.b - box.t + 1
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let src = ((box.t + y) * img.width + box.l) * 3
            out.replaceSubrange((y * w * 3)..<((y + 1) * w * 3), with: img.pixels[src..<(src + w * 3)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// dlib's `basic_extract_image_chip`: a copy of `box`, zero where it leaves the image.
    static func copyRect(_ img: RGBImage, _ box: IRect) -> RGBImage {
        let w = max(box.r - box.l + 1, 0), h = max(box.b - box.t + 1, 0)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let sy = box.t + y
            guard sy >= 0, sy < img.height else { continue }
            for x in 0..<w {
                let sx = box.l + x
                guard sx >= 0, sx < img.width else { continue }
                for ch in 0..<3 { out[(y * w + x) * 3 + ch] = img.pixels[(sy * img.width + sx) * 3 + ch] }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// `transform_image(src, chip, interpolate_bilinear(), map)`: each chip pixel `(c, r)` samples
    /// `map(c, r)` bilinearly (0 when its 2×2 neighbourhood leaves `src`), truncated to uint8.
    static func sampleBilinear(_ src: RGBImage, map: DlibAffineTransform, rows: Int, cols: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: rows * cols * 3)
        let maxLeft = Double(src.width - 2), maxTop = Double(src.height - 2)
        src.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows {
                    for c in 0..<cols {
                        let p = map.apply(SIMD2(Double(c), Double(r)))
                        let fl = p.x.rounded(.down), ft = p.y.rounded(.down)
                        guard fl >= 0, ft >= 0, fl <= maxLeft, ft <= maxTop else { continue }
                        let left = Int(fl), top = Int(ft)
                        let lr = p.x - fl, tb = p.y - ft
                        let i00 = (top * src.width + left) * 3, i10 = i00 + src.width * 3
                        let d = (r * cols + c) * 3
                        for ch in 0..<3 {
                            let tl = Double(s[i00 + ch]), tr = Double(s[i00 + 3 + ch])
                            let bl = Double(s[i10 + ch]), br = Double(s[i10 + 3 + ch])
                            let v = (1 - tb) * ((1 - lr) * tl + lr * tr) + tb * ((1 - lr) * bl + lr * br)
                            o[d + ch] = UInt8(min(v, 255))
                        }
                    }
                }
            }
        }
        return RGBImage(width: cols, height: rows, pixels: out)
    }
}
