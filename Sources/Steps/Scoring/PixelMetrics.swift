import Faces
import Foundation
import Media

/// The pixel-level measures `score` takes straight from decoded frames (no networks): frame-to-frame change
/// in a box (flicker), change in a bystander's box, the seam along a blend mask's outline, and the skin colour
/// inside it. Frames are `RGBImage`s of equal size; boxes and polygons in frame pixels, origin top-left.
public enum PixelMetrics {
    /// An integer pixel rectangle clipped to a `width × height` frame (empty when nothing is left).
    public struct Rect: Equatable, Sendable {
        public var x0: Int, y0: Int, x1: Int, y1: Int
        public var isEmpty: Bool { x0 >= x1 || y0 >= y1 }
        public var area: Int { isEmpty ? 0 : (x1 - x0) * (y1 - y0) }

        public init(x: Double, y: Double, width: Double, height: Double, frameWidth: Int, frameHeight: Int, margin: Double = 0) {
            func clamp(_ v: Double, _ hi: Int) -> Int { Int(max(0, min(Double(hi), v.isFinite ? v : 0)).rounded()) }
            x0 = clamp(x - margin, frameWidth); y0 = clamp(y - margin, frameHeight)
            x1 = clamp(x + width + margin, frameWidth); y1 = clamp(y + height + margin, frameHeight)
        }
    }

    /// Rec. 601 luma of an 8-bit RGB pixel, 0…255.
    @inline(__always) static func luma(_ p: UnsafePointer<UInt8>, _ o: Int) -> Float {
        0.299 * Float(p[o]) + 0.587 * Float(p[o + 1]) + 0.114 * Float(p[o + 2])
    }

    /// Mean absolute luma change (0…255) between two frames inside `rect`: the flicker measure of one
    /// frame step. `nil` for an empty rectangle or frames of different sizes.
    public static func meanLumaChange(_ a: RGBImage, _ b: RGBImage, in rect: Rect) -> Double? {
        guard !rect.isEmpty, a.width == b.width, a.height == b.height else { return nil }
        var sum: Float = 0
        a.pixels.withUnsafeBufferPointer { pa in
            b.pixels.withUnsafeBufferPointer { pb in
                guard let ba = pa.baseAddress, let bb = pb.baseAddress else { return }
                for y in rect.y0..<rect.y1 {
                    var rowSum: Float = 0
                    var o = (y * a.width + rect.x0) * 3
                    for _ in rect.x0..<rect.x1 {
                        rowSum += abs(luma(ba, o) - luma(bb, o))
                        o += 3
                    }
                    sum += rowSum
                }
            }
        }
        return Double(sum) / Double(rect.area)
    }

    /// Mean absolute RGB change (0…255, over the three channels) between two frames inside `rect`: how much a
    /// face that was not swapped changed. `nil` for an empty rectangle or frames of different sizes.
    public static func meanAbsoluteChange(_ a: RGBImage, _ b: RGBImage, in rect: Rect) -> Double? {
        guard !rect.isEmpty, a.width == b.width, a.height == b.height else { return nil }
        var sum = 0
        for y in rect.y0..<rect.y1 {
            var o = (y * a.width + rect.x0) * 3
            for _ in 0..<(3 * (rect.x1 - rect.x0)) {
                sum += abs(Int(a.pixels[o]) - Int(b.pixels[o]))
                o += 1
            }
        }
        return Double(sum) / Double(3 * rect.area)
    }

    /// Signed distance (pixels) from `p` to the border of the convex or simple `polygon`: positive inside.
    static func signedDistance(_ px: Double, _ py: Double, polygon: [SIMD2<Double>]) -> Double {
        var best = Double.infinity
        var inside = false
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let a = polygon[j], b = polygon[i]
            let ex = b.x - a.x, ey = b.y - a.y
            let wx = px - a.x, wy = py - a.y
            let len2 = ex * ex + ey * ey
            let t = len2 > 0 ? max(0, min(1, (wx * ex + wy * ey) / len2)) : 0
            let dx = wx - t * ex, dy = wy - t * ey
            best = min(best, dx * dx + dy * dy)
            if (a.y > py) != (b.y > py), px < (b.x - a.x) * (py - a.y) / (b.y - a.y) + a.x { inside.toggle() }
            j = i
        }
        return inside ? best.squareRoot() : -best.squareRoot()
    }

    /// The polygon from a flat `[x0, y0, x1, y1, …]` list (nil for fewer than 3 points or non-finite values).
    public static func polygon(_ flat: [Float]?) -> [SIMD2<Double>]? {
        guard let flat, flat.count >= 6, flat.count % 2 == 0, flat.allSatisfy({ $0.isFinite }) else { return nil }
        return stride(from: 0, to: flat.count, by: 2).map { SIMD2(Double(flat[$0]), Double(flat[$0 + 1])) }
    }

    /// Band widths of the seam measure, pixels: the border band is |d| ≤ `border`; the reference bands are
    /// `near` ≤ |d| ≤ `far` on each side.
    public static let seamBorder = 1.5, seamNear = 3.0, seamFar = 6.0

    /// Gradient energy along the polygon's outline relative to just inside and outside it:
    /// mean |∇luma| over pixels within `seamBorder` of the outline, divided by the mean over the pixels
    /// `seamNear…seamFar` inside and outside. A step edge along the outline (a hard paste) raises it; a
    /// feathered blend keeps it near the image's own ratio. `nil` when a band is empty or flat.
    public static func seamRatio(_ image: RGBImage, polygon: [SIMD2<Double>]) -> Double? {
        let xs = polygon.map(\.x), ys = polygon.map(\.y)
        guard let minX = xs.min(), let maxX = xs.max(), let minY = ys.min(), let maxY = ys.max() else { return nil }
        let rect = Rect(x: minX, y: minY, width: maxX - minX, height: maxY - minY, frameWidth: image.width, frameHeight: image.height,
                        margin: seamFar + 2)
        let x0 = max(rect.x0, 1), y0 = max(rect.y0, 1), x1 = min(rect.x1, image.width - 1), y1 = min(rect.y1, image.height - 1)
        guard x0 < x1, y0 < y1 else { return nil }
        // Distance to the outline by stamping each edge over the pixels within `seamFar` of its bounding box
        // (the same per-edge formula as `signedDistance`, whose sign the measure does not need).
        let rw = x1 - x0, rh = y1 - y0
        var nearest = [Double](repeating: .infinity, count: rw * rh)
        let reach = seamFar + 1
        func column(_ v: Double) -> Int { Int(max(Double(x0), min(Double(x1), v))) }
        func row(_ v: Double) -> Int { Int(max(Double(y0), min(Double(y1), v))) }
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let a = polygon[j], b = polygon[i]
            j = i
            let ex = b.x - a.x, ey = b.y - a.y, len2 = ex * ex + ey * ey
            let cx0 = column((min(a.x, b.x) - reach).rounded(.down)), cx1 = column((max(a.x, b.x) + reach).rounded(.up))
            let cy0 = row((min(a.y, b.y) - reach).rounded(.down)), cy1 = row((max(a.y, b.y) + reach).rounded(.up))
            guard cx0 < cx1, cy0 < cy1 else { continue }
            nearest.withUnsafeMutableBufferPointer { d in
                for y in cy0..<cy1 {
                    let py = Double(y) + 0.5, wy = py - a.y
                    var k = (y - y0) * rw + (cx0 - x0)
                    for x in cx0..<cx1 {
                        let wx = Double(x) + 0.5 - a.x
                        let t = len2 > 0 ? max(0, min(1, (wx * ex + wy * ey) / len2)) : 0
                        let dx = wx - t * ex, dy = wy - t * ey
                        let d2 = dx * dx + dy * dy
                        if d2 < d[k] { d[k] = d2 }
                        k += 1
                    }
                }
            }
        }
        var border = 0.0, borderN = 0, bands = 0.0, bandsN = 0
        let w = image.width
        image.pixels.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let d2 = nearest[(y - y0) * rw + (x - x0)]
                    guard d2 <= seamFar * seamFar else { continue }
                    let a = d2.squareRoot()
                    let inBorder = a <= seamBorder, inBand = a >= seamNear && a <= seamFar
                    guard inBorder || inBand else { continue }
                    let gx = luma(base, (y * w + x + 1) * 3) - luma(base, (y * w + x - 1) * 3)
                    let gy = luma(base, ((y + 1) * w + x) * 3) - luma(base, ((y - 1) * w + x) * 3)
                    let g = Double((gx * gx + gy * gy).squareRoot()) / 2
                    if inBorder { border += g; borderN += 1 } else { bands += g; bandsN += 1 }
                }
            }
        }
        guard borderN > 0, bandsN > 0, bands > 0 else { return nil }
        return (border / Double(borderN)) / (bands / Double(bandsN))
    }

    /// Mean CIE L*a*b* of the skin inside the polygon: pixels inside it shrunk by `shrink` towards its centroid
    /// (which keeps the hair line and the outline out), every `stride`-th pixel each way. `nil` when none.
    public static func meanSkinLab(_ image: RGBImage, polygon: [SIMD2<Double>], shrink: Double = 0.15, stride step: Int = 2) -> SIMD3<Double>? {
        let centroid = polygon.reduce(SIMD2<Double>.zero, +) / Double(polygon.count)
        let inner = polygon.map { centroid + ($0 - centroid) * (1 - shrink) }
        let xs = inner.map(\.x), ys = inner.map(\.y)
        guard let minX = xs.min(), let maxX = xs.max(), let minY = ys.min(), let maxY = ys.max() else { return nil }
        let rect = Rect(x: minX, y: minY, width: maxX - minX, height: maxY - minY, frameWidth: image.width, frameHeight: image.height)
        guard !rect.isEmpty else { return nil }
        var sum = SIMD3<Double>.zero
        var n = 0
        for y in Swift.stride(from: rect.y0, to: rect.y1, by: step) {
            for x in Swift.stride(from: rect.x0, to: rect.x1, by: step) where signedDistance(Double(x) + 0.5, Double(y) + 0.5, polygon: inner) > 0 {
                let o = (y * image.width + x) * 3
                sum += LabColour.exactLab(red: image.pixels[o], green: image.pixels[o + 1], blue: image.pixels[o + 2])
                n += 1
            }
        }
        return n > 0 ? sum / Double(n) : nil
    }
}
