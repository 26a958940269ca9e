import Foundation
import Media
import Models
import Tensor

/// A located face made ready to store: aligned crop, optional mask, pose, expression and image measures.
public struct FinishedFace: Sendable {
    public var located: LocatedFace
    public var alignment: FaceAlignment
    public var crop: RGBImage
    /// Present when masks were asked for.
    public var mask: FaceMask?
    public var pose: HeadPose
    public var expression: ExpressionMeasures
    public var quality: ImageQuality
}

/// Aligns a located face and measures it.
public struct FaceFinisher: Sendable {
    public var size: Int
    public var centering: FaceCentering
    public var writeMasks: Bool
    /// Split the aligned crop's rows across the cores (`Parallel`), for callers whose cores are otherwise idle while a
    /// face is finished (one frame at a time); false: the calling thread alone (`Parallel.serially`), for callers that
    /// keep the other cores busy meanwhile (one analyzer per core). The result is the same either way.
    public var spreadOverCores: Bool

    public init(size: Int, centering: FaceCentering, writeMasks: Bool, spreadOverCores: Bool = false) {
        self.size = size; self.centering = centering; self.writeMasks = writeMasks; self.spreadOverCores = spreadOverCores
    }

    /// The finished face, or nil when its landmarks are degenerate (no alignment, pose or expression).
    public func finish(_ face: LocatedFace, in image: RGBImage) -> FinishedFace? {
        spreadOverCores ? finishHere(face, in: image) : Parallel.serially { finishHere(face, in: image) }
    }

    private func finishHere(_ face: LocatedFace, in image: RGBImage) -> FinishedFace? {
        guard let alignment = FaceAlignment(mesh: face.mesh, size: size, centering: centering),
              let pose = HeadPose(mesh: face.mesh), let expression = ExpressionMeasures(mesh: face.mesh) else { return nil }
        let crop = alignment.crop(image: image)
        let flat = face.mesh.map { SIMD2($0.x, $0.y) }
        let hull = FaceMask(landmarks: flat, alignment: alignment)
        let measured = (try? ImageQuality(image: crop, mask: hull.values)) ?? (try? ImageQuality(image: crop))
        guard let quality = measured else { return nil }
        let mask = writeMasks ? FaceMask(landmarks: flat, alignment: alignment, dilation: 0, feather: Double(size) / 32) : nil
        return FinishedFace(located: face, alignment: alignment, crop: crop, mask: mask, pose: pose, expression: expression, quality: quality)
    }
}

/// Centred moving average of each track's mesh over `radius` analysed frames on each side. The window is
/// symmetric and shrinks to what the track has on both sides (its ends, a cut, a gap, or frames not yet
/// seen), so a straight, evenly paced motion is left unchanged.
public struct MeshSmoother: Sendable {
    public let radius: Int

    public init(radius: Int) { self.radius = radius }

    /// The smoothed mesh of `track` in `frames[index]`, where `frames[i].meshes[track]` is that track's
    /// mesh in frame i (frames consecutive in analysis order).
    public func smoothed(track: Int, at index: Int, in frames: [[Int: [SIMD3<Double>]]]) -> [SIMD3<Double>]? {
        guard let centre = frames[index][track] else { return nil }
        guard radius > 0 else { return centre }
        var before = 0, after = 0
        while before < radius, index - before - 1 >= 0, frames[index - before - 1][track] != nil { before += 1 }
        while after < radius, index + after + 1 < frames.count, frames[index + after + 1][track] != nil { after += 1 }
        let reach = min(before, after)
        guard reach > 0 else { return centre }
        var sum = [SIMD3<Double>](repeating: .zero, count: centre.count)
        for i in (index - reach)...(index + reach) {
            guard let mesh = frames[i][track], mesh.count == sum.count else { return centre }
            for p in 0..<sum.count { sum[p] += mesh[p] }
        }
        let n = Double(2 * reach + 1)
        return sum.map { $0 / n }
    }
}
