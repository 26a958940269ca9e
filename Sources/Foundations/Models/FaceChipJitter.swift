import FacetCore
import Foundation
import Media

/// A small random perturbation of a face chip, the idea of dlib's `jitter_image` (what its `num_jitters`
/// averages over): the chip re-cut a few pixels off centre, over a span 1-4 % smaller (the face shows
/// slightly larger), turned by up to 3°, and mirrored half of the time. dlib resamples the finished 150 px chip; here the perturbation is folded into
/// the chip's `Details` so the jittered chip is sampled once, from the source image, by `FaceChip.extract`.
public struct FaceChipJitter: Equatable, Sendable {
    /// Shift of the chip's centre, in chip pixels (x right, y down).
    public var dx: Double, dy: Double
    /// The jittered chip spans `zoom` times the original's side (< 1: the face shows larger).
    public var zoom: Double
    /// Extra rotation, radians.
    public var angle: Double
    /// Mirror the chip left to right after cutting it.
    public var mirror: Bool

    public init(dx: Double = 0, dy: Double = 0, zoom: Double = 1, angle: Double = 0, mirror: Bool = false) {
        self.dx = dx; self.dy = dy; self.zoom = zoom; self.angle = angle; self.mirror = mirror
    }

    /// dlib's ranges for a chip of `size` pixels: the face region is the chip less 3 px a side; the shift is
    /// uniform within ±2 % of that region, the new chip's side is the region ÷ U(0.97, 1) (so `zoom` is
    /// 0.96-0.99 for 150 px), the angle uniform within ±3°, the mirror a fair coin.
    public static func random(chipSize size: Int = FaceChip.recognitionChipSize, using rng: inout SeededRandom) -> FaceChipJitter {
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.next() >> 11) * 0x1p-53 }
        let region = Double(size - 6)
        let dx = uniform(-0.02, 0.02) * region, dy = uniform(-0.02, 0.02) * region
        let shown = uniform(0.97, 0.99999)
        let angle = uniform(-3, 3) * Double.pi / 180
        let mirror = uniform(0, 1) > 0.5
        // The region (size − 6 px) shown at `shown` of the new chip's side: that side is region / shown.
        return FaceChipJitter(dx: dx, dy: dy, zoom: region / shown / Double(size), angle: angle, mirror: mirror)
    }

    /// `count` jitters drawn from one generator seeded with `seed`: every face jittered with one seed gets the
    /// same perturbations, so a descriptor does not depend on which faces were processed before it.
    public static func series(count: Int, seed: UInt64) -> [FaceChipJitter] {
        var rng = SeededRandom(seed: seed)
        return (0..<max(count, 0)).map { _ in random(using: &rng) }
    }

    /// The chip details of the jittered chip, in the source image's pixels: the chip's centre moved by
    /// (`dx`, `dy`) chip pixels along the chip's own axes, its side scaled by `zoom`, its angle increased
    /// by `angle`. The identity jitter returns `details` unchanged.
    public func apply(to d: FaceChip.Details) -> FaceChip.Details {
        // One chip pixel spans `s` source pixels (col 0 and col cols−1 sample left and right).
        let cols = Double(max(d.cols - 1, 1)), rows = Double(max(d.rows - 1, 1))
        let sx = (d.right - d.left) / cols, sy = (d.bottom - d.top) / rows
        let centre = SIMD2((d.left + d.right) / 2, (d.top + d.bottom) / 2)
        let c = cos(d.angle), s = sin(d.angle)
        let shift = SIMD2(c * dx * sx - s * dy * sy, s * dx * sx + c * dy * sy)
        let moved = centre + shift
        let halfW = (d.right - d.left) / 2 * zoom, halfH = (d.bottom - d.top) / 2 * zoom
        return FaceChip.Details(left: moved.x - halfW, top: moved.y - halfH, right: moved.x + halfW, bottom: moved.y + halfH,
                                angle: d.angle + angle, rows: d.rows, cols: d.cols)
    }

    /// The jittered chip of a face whose chip is `details` in `image`.
    public func chip(from image: RGBImage, details: FaceChip.Details) -> RGBImage {
        let chip = FaceChip.extract(from: image, details: apply(to: details))
        return mirror ? chip.mirrored() : chip
    }
}
