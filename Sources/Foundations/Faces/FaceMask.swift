import Foundation
import Media

/// A one-channel 8-bit face mask: `width × height` values, row-major, top row first, 0 (background) to 255
/// (face). Made from the convex hull of landmarks, optionally dilated and feathered, in the pixel grid of an
/// aligned crop (or of any image); a caller saves it beside the crop (`grayImage()` for `ImageEncoder`).
///
/// Rasterisation is exact and per pixel centre: pixel (row i, column j) is tested at (j + 0.5, i + 0.5). With
/// `d` the signed distance from that centre to the hull polygon (negative inside, 0 on the boundary), the value
/// is 255 for `d ≤ dilation`, falls linearly to 0 over the next `feather` pixels, and is 0 beyond.
public struct FaceMask: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `width * height` values 0...255.
    public private(set) var values: [UInt8]

    /// A mask from raw values; nil unless `values.count == width * height` and both sides ≥ 0.
    public init?(width: Int, height: Int, values: [UInt8]) {
        guard width >= 0, height >= 0, values.count == width * height else { return nil }
        self.width = width
        self.height = height
        self.values = values
    }

    /// The convex hull of `points` (pixels of the mask's grid) rendered into a `width × height` mask,
    /// grown by `dilation` px and feathered over `feather` px (both clamped to ≥ 0). Fewer than 3 distinct or
    /// collinear points have no inside: only their dilation (a thick segment or dot) is drawn.
    public init(hullOf points: [SIMD2<Double>], width: Int, height: Int, dilation: Double = 0, feather: Double = 0) {
        let w = max(0, width), h = max(0, height)
        self.width = w
        self.height = h
        self.values = [UInt8](repeating: 0, count: w * h)
        let hull = Self.convexHull(points)
        guard !hull.isEmpty, w > 0, h > 0 else { return }
        let grow = dilation.isFinite ? max(0, dilation) : 0
        let ramp = feather.isFinite ? max(0, feather) : 0
        let reach = grow + ramp
        // Only pixels within `reach` of the hull's bounding box can be non-zero.
        var lo = hull[0], hi = hull[0]
        for p in hull { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        let x0 = Self.clampedIndex(lo.x - reach - 1, w), x1 = Self.clampedIndex(hi.x + reach + 1, w)
        let y0 = Self.clampedIndex(lo.y - reach - 1, h), y1 = Self.clampedIndex(hi.y + reach + 1, h)
        for i in y0...y1 {
            // Pixels inside the hull (d ≤ 0 ≤ grow) are 255 whatever the dilation and feather: fill each row's
            // inside run directly, and measure distances only outside it.
            let inside = hull.count >= 3 ? Self.insideRun(row: i, hull: hull, from: x0, to: x1) : nil
            if let inside { for j in inside { values[i * w + j] = 255 } }
            if reach == 0 && hull.count >= 3 { continue }
            for j in x0...x1 where !(inside?.contains(j) ?? false) {
                let d = Self.signedDistance(SIMD2(Double(j) + 0.5, Double(i) + 0.5), toConvex: hull)
                let v: Double
                if d <= grow { v = 255 } else if ramp > 0, d < reach { v = 255 * (1 - (d - grow) / ramp) } else { v = 0 }
                values[i * w + j] = UInt8(min(max((v + 0.5).rounded(.down), 0), 255))
            }
        }
    }

    /// The hull mask of image-pixel landmarks (e.g. the 68 dlib-layout points, or all 468 mesh points dropping
    /// z) in the grid of `alignment`'s crop: points go through `alignment.matrix`; `dilation` and `feather`
    /// are in crop pixels.
    public init(landmarks: [SIMD2<Double>], alignment: FaceAlignment, dilation: Double = 0, feather: Double = 0) {
        self.init(hullOf: landmarks.map { alignment.toCrop($0) }, width: alignment.size, height: alignment.size,
                  dilation: dilation, feather: feather)
    }

    /// The fraction of the mask that is face: the mean value / 255, 0...1.
    public var coverage: Double {
        values.isEmpty ? 0 : Double(values.reduce(0) { $0 + Int($1) }) / (255 * Double(values.count))
    }

    /// The value at column `x`, row `y` (0 outside).
    public subscript(x: Int, y: Int) -> UInt8 {
        x >= 0 && y >= 0 && x < width && y < height ? values[y * width + x] : 0
    }

    /// The mask as a gray RGB image (R = G = B = value), e.g. to save beside a crop with `ImageEncoder`.
    public func grayImage() -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: values.count * 3)
        for (k, v) in values.enumerated() { pixels[3 * k] = v; pixels[3 * k + 1] = v; pixels[3 * k + 2] = v }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Bilinear sample (pixel-centre convention, edges replicated) as Double 0...255; 0 for an empty mask.
    public func sample(x: Double, y: Double) -> Double {
        guard width > 0, height > 0 else { return 0 }
        guard values.count >= width * height else { return 0 }
        return values.withUnsafeBufferPointer { p in
            p.baseAddress.map { Bilinear.gray($0, width: width, height: height, x: x, y: y) } ?? 0
        }
    }

    /// The convex hull of `points` (Andrew's monotone chain), counter-clockwise in x-right/y-up terms (clockwise
    /// on screen), without collinear points; non-finite points are ignored. 0, 1 or 2 points for degenerate input.
    public static func convexHull(_ points: [SIMD2<Double>]) -> [SIMD2<Double>] {
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        let sorted = candidates(finite).sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
        var unique: [SIMD2<Double>] = []
        for p in sorted where unique.last != p { unique.append(p) }
        guard unique.count >= 3 else { return unique }
        func cross(_ o: SIMD2<Double>, _ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        var lower: [SIMD2<Double>] = [], upper: [SIMD2<Double>] = []
        for p in unique {
            while lower.count >= 2, cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 { lower.removeLast() }
            lower.append(p)
        }
        for p in unique.reversed() {
            while upper.count >= 2, cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 { upper.removeLast() }
            upper.append(p)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }

    /// `points` without those clearly inside the octagon of their extremes in x, y, x + y and x − y (Akl–Toussaint):
    /// they cannot be hull vertices, and dropping them first spares sorting them (most of a face mesh's 468 points).
    /// Points within a hair of the octagon's edges are kept, so rounding never drops a vertex.
    private static func candidates(_ points: [SIMD2<Double>]) -> [SIMD2<Double>] {
        guard points.count > 16 else { return points }
        var extremes = [SIMD2<Double>](repeating: points[0], count: 8)
        func key(_ p: SIMD2<Double>, _ k: Int) -> Double {
            switch k { case 0: return p.x; case 1: return p.y; case 2: return p.x + p.y; default: return p.x - p.y }
        }
        for p in points {
            for k in 0..<4 {
                if key(p, k) < key(extremes[2 * k], k) { extremes[2 * k] = p }
                if key(p, k) > key(extremes[2 * k + 1], k) { extremes[2 * k + 1] = p }
            }
        }
        let octagon = convexHull(extremes)   // 8 points: no recursion into this filter
        guard octagon.count >= 3 else { return points }
        let scale = points.reduce(0) { max($0, abs($1.x), abs($1.y)) } + 1
        return points.filter { p in
            for k in octagon.indices {
                let a = octagon[k], b = octagon[(k + 1) % octagon.count]
                let e = b - a, v = p - a
                // Inside is on the left of each edge (cross ≥ 0); keep anything not clearly inside.
                if e.x * v.y - e.y * v.x <= 1e-9 * scale * scale { return true }
            }
            return false
        }
    }

    /// The columns `from...to` of row `row` whose pixel centres lie inside or on a convex hull of 3 or more
    /// vertices (exactly the pixels with `signedDistance ≤ 0`): the run the edges' half-planes leave, with its
    /// ends checked pixel by pixel. Nil when the row misses the hull.
    static func insideRun(row: Int, hull: [SIMD2<Double>], from: Int, to: Int) -> ClosedRange<Int>? {
        let y = Double(row) + 0.5
        var lo = Double(from) + 0.5, hi = Double(to) + 0.5
        var slack = 1e-7   // how far a computed crossing may be from the true one (a bound on rounding), px
        for k in hull.indices {
            let a = hull[k], b = hull[(k + 1) % hull.count]
            let e = b - a
            // Inside: e.x·(y − a.y) − e.y·(x − a.x) ≥ 0, linear in x.
            let c = e.x * (y - a.y) + e.y * a.x
            if e.y != 0 { slack = max(slack, 1e-13 * (abs(e.x * (y - a.y)) + abs(e.y * a.x)) / abs(e.y)) }
            if e.y > 0 { hi = min(hi, c / e.y) } else if e.y < 0 { lo = max(lo, c / e.y) } else if c < 0 { return nil }
        }
        guard lo.isFinite, hi.isFinite else { return nil }
        lo = min(lo, Double(to) + 1); hi = max(hi, Double(from) - 1)
        func isIn(_ j: Int) -> Bool { contains(SIMD2(Double(j) + 0.5, y), convex: hull) }
        var first = max(from, Int((lo - 0.5).rounded(.up))), last = min(to, Int((hi - 0.5).rounded(.down)))
        // The bounds are the edges' own crossings of the row; a pixel centre within rounding (`slack`) of one is decided
        // by the distance itself (`contains`), the rest by the bounds alone.
        func nearCentre(_ bound: Double) -> Bool { abs((bound - 0.5) - (bound - 0.5).rounded()) < slack }
        if first > last || nearCentre(lo) || nearCentre(hi) || hi - lo < 2 {
            while first > from, isIn(first - 1) { first -= 1 }
            while first <= last, !isIn(first) { first += 1 }
            while last < to, isIn(last + 1) { last += 1 }
            while last >= first, !isIn(last) { last -= 1 }
        }
        return first <= last ? first...last : nil
    }

    /// Whether `p` lies inside or on a convex hull of 3 or more vertices: `signedDistance(p, toConvex: hull) <= 0`,
    /// decided by the edges' half-planes alone, with the distance measured only for a point within a hair of an edge's
    /// line (where rounding could tell the two apart).
    static func contains(_ p: SIMD2<Double>, convex hull: [SIMD2<Double>]) -> Bool {
        var outside = false
        for k in hull.indices {
            let a = hull[k], b = hull[(k + 1) % hull.count]
            let e = b - a, v = p - a
            let cross = e.x * v.y - e.y * v.x
            guard cross < 0 else { continue }
            // |cross| / |e| is the distance to the edge's line: clearly outside, or too close to call.
            if cross * cross > 1e-18 * (e * e).sum() { return false }
            outside = true
        }
        return !outside || signedDistance(p, toConvex: hull) <= 0
    }

    /// Signed distance from `p` to a convex polygon from `convexHull` (negative inside, 0 on the boundary);
    /// for 1 or 2 vertices, the distance to the point or segment.
    public static func signedDistance(_ p: SIMD2<Double>, toConvex hull: [SIMD2<Double>]) -> Double {
        if hull.count == 1 { return ((p - hull[0]) * (p - hull[0])).sum().squareRoot() }
        var inside = hull.count >= 3
        var nearest = Double.infinity
        for k in hull.indices {
            let a = hull[k], b = hull[(k + 1) % hull.count]
            let e = b - a, v = p - a
            // Counter-clockwise (y up) hull: the inside is on the left of each edge, cross ≥ 0.
            if e.x * v.y - e.y * v.x < 0 { inside = false }
            let len2 = (e * e).sum()
            let t = len2 > 0 ? min(max((v * e).sum() / len2, 0), 1) : 0
            let q = v - e * t
            nearest = min(nearest, (q * q).sum().squareRoot())
            if hull.count == 2 { break }
        }
        return inside ? -nearest : nearest
    }

    private static func clampedIndex(_ v: Double, _ n: Int) -> Int {
        v.isNaN ? 0 : Int(min(max(v.rounded(.down), 0), Double(n - 1)))
    }
}
