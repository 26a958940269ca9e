import Faces
import Foundation
import Media
import Models

/// Hands in front of a face stay in front: MediaPipe's palm detector looks at a square around the face
/// (`reach` × the face size, centred on the landmarks' box), the hand landmark model finds each palm's 21
/// points, and the blend mask is cut wherever a hand is — weight 0 within `margin` × the face size of the
/// hand's landmark hull, rising (smoothstep) to untouched over the next `feather` px. Where the weight is 0
/// the composite leaves the frame's pixel exactly as it was.
final class HandOcclusion {
    let finder: HandFinder
    /// How far past the landmark hull the original stays, a fraction of the face size.
    let margin: Double
    /// Side of the searched square, in face sizes: a hand over the mouth or chin has its palm well below the face's centre.
    let reach = 3.5

    init(store: ModelStore, margin: Double) throws {
        finder = try HandFinder(store: store)
        self.margin = margin
    }

    /// The landmark hulls (frame pixels, convex, in order) of the hands near a face.
    func hands(in image: RGBImage, landmarks68: [SIMD2<Double>], faceSize: Double) -> [[SIMD2<Double>]] {
        guard let first = landmarks68.first, faceSize.isFinite, faceSize > 0 else { return [] }
        var lo = first, hi = first
        for p in landmarks68 { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        let centre = (lo + hi) / 2, side = reach * faceSize
        let palms = finder.detector.detect(image, squareX: centre.x - side / 2, y: centre.y - side / 2, side: side).prefix(2)
        // The landmark model runs only for a palm whose hand region (its rotated square's circumscribed circle)
        // reaches the face's landmark box grown by the margin: a hand elsewhere in the square cannot cover the face.
        let grow = margin * faceSize
        return palms.compactMap { palm -> [SIMD2<Double>]? in
            guard let roi = HandDetector.roi(for: palm) else { return nil }
            let dx = max(lo.x - grow - roi.centerX, 0, roi.centerX - hi.x - grow)
            let dy = max(lo.y - grow - roi.centerY, 0, roi.centerY - hi.y - grow)
            guard (dx * dx + dy * dy).squareRoot() <= roi.width * 0.7072 else { return nil }
            let hand = finder.landmarker.landmarks(in: image, roi: roi)
            guard hand.presence >= finder.minPresence else { return nil }
            return FaceMask.convexHull(hand.points.map { SIMD2($0.x, $0.y) })
        }
    }

    /// Multiplies `alpha` by (1 − hand weight) for every hull; returns how many of `alpha`'s weighted pixels a hand
    /// took away entirely.
    func cut(_ alpha: inout AlphaPlane, hands: [[SIMD2<Double>]], faceSize: Double, feather: Double, frameWidth: Int, frameHeight: Int) -> Int {
        var removed = 0
        for hull in hands {
            let f = max(feather, 0.5)
            let plane = AlphaPlane.hull(hull, erosion: -(margin * faceSize + f), feather: f, frameWidth: frameWidth, frameHeight: frameHeight)
            guard plane.width > 0, plane.height > 0 else { continue }
            let xs = max(alpha.x0, plane.x0), xe = min(alpha.x0 + alpha.width, plane.x0 + plane.width)
            let ys = max(alpha.y0, plane.y0), ye = min(alpha.y0 + alpha.height, plane.y0 + plane.height)
            guard xs < xe, ys < ye else { continue }
            for y in ys..<ye {
                for x in xs..<xe {
                    let k = (y - alpha.y0) * alpha.width + (x - alpha.x0)
                    guard alpha.values[k] > 0 else { continue }
                    let w = plane[x, y]
                    if w >= 1 { alpha.values[k] = 0; removed += 1 } else { alpha.values[k] *= 1 - w }
                }
            }
        }
        return removed
    }
}
