import FacetCore
import Faces
import Foundation
import Media
import NN
import Tensor

/// A face to replace in a frame held by the caller.
struct FaceJob {
    /// Position of the frame in the caller's buffer and of the face in the frame's face list.
    var frame: Int
    var face: Int
    /// The track-smoothed alignment, frame pixels → crop pixels of the model's crop size.
    var alignment: AffineMatrix2x3
    var landmarks68: [SIMD2<Double>]
    var faceSize: Double
    var track: Int
}

/// What happened to one face.
struct FaceResult {
    var changedPixels: Int
    /// Share of the model square the blend mask covers (0...1), its support in the frame, and the hull outline.
    var maskCoverage: Double
    var maskBox: (x: Int, y: Int, width: Int, height: Int)?
    var hull: [SIMD2<Double>]
    var failure: String?
    /// Landmark hulls (frame pixels) of the hands found in front of the face and kept there.
    var occluders: [[SIMD2<Double>]] = []
}

/// Swaps faces a batch at a time: cuts each face out at the model's framing, runs the shared encoder and the
/// chosen decoder on the whole batch (faces of several frames together), matches colour, builds the blend
/// mask (hull, learned, or both; minus occlusions), and composites the new face back with the one warp
/// (`FaceWarp`), touching only the face's region of the frame.
final class FaceRenderer {
    let model: TrainedModel
    let framing: ModelFraming
    let decoder: DeepFakesAutoencoder.Side
    let options: SwapOptions
    let mask: SwapMaskChoice
    let colour: ColourMatcher
    let clock: StageClock
    /// Hand occlusion (`--occlusion hands|both`), else nil.
    let hands: HandOcclusion?

    init(model: TrainedModel, framing: ModelFraming, decoder: DeepFakesAutoencoder.Side, options: SwapOptions, clock: StageClock,
         hands: HandOcclusion?) {
        self.clock = clock
        self.hands = hands
        self.model = model
        self.framing = framing
        self.decoder = decoder
        self.options = options
        mask = options.mask ?? (model.hasMaskHead ? .intersection : .hull)
        colour = ColourMatcher(choice: options.color)
    }

    /// Renders and composites `jobs` into `frames` (in place). A face that fails is left untouched and reported.
    func render(_ jobs: [FaceJob], into frames: inout [RGBImage]) throws -> [FaceResult] {
        guard !jobs.isEmpty else { return [] }
        let s = framing.inputSize, pixels = s * s
        var input = [Float](repeating: 0, count: jobs.count * pixels * 3)
        var toModel: [AffineMatrix2x3?] = []
        clock.measure(\.sample) { input.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for (j, job) in jobs.enumerated() {
                let m = framing.modelMatrix(alignment: job.alignment)
                guard let inverse = m.inverse else { toModel.append(nil); continue }
                toModel.append(m)
                FaceWarp.sample(frames[job.frame], width: s, height: s, toImage: inverse, into: base + j * pixels * 3)
            }
        } }
        // Hands are looked for in the frames as they came in (before any face of the batch is composited).
        let handHulls: [[[SIMD2<Double>]]] = clock.measure(\.hands) {
            jobs.map { job in hands?.hands(in: frames[job.frame], landmarks68: job.landmarks68, faceSize: job.faceSize) ?? [] }
        }
        let batch = Tensor(shape: [jobs.count, s, s, 3], data: input)
        let output = try clock.measure(\.inference) { try model.render(batch, decoder: decoder) }
        var rendered = output.rgb
        let learned = output.mask
        var reconstruction: Tensor?
        if options.occlusion.usesReconstruction {
            reconstruction = try clock.measure(\.inference) { try model.render(batch, decoder: decoder == .a ? .b : .a).rgb }
        }
        var results: [FaceResult] = []
        for (j, job) in jobs.enumerated() {
            guard let m = toModel[j] else {
                results.append(FaceResult(changedPixels: 0, maskCoverage: 0, maskBox: nil, hull: [], failure: "degenerate alignment"))
                continue
            }
            let offset = j * pixels * 3
            // The face's hull in model pixels: colour statistics come from inside it.
            clock.measure(\.colour) {
                let hullModel = FaceMask(hullOf: job.landmarks68.map { m.apply($0) }, width: s, height: s)
                let inside = hullModel.values.map { Float($0) / 255 }
                rendered.data.withUnsafeMutableBufferPointer { r in
                    input.withUnsafeBufferPointer { o in
                        guard let rb = r.baseAddress, let ob = o.baseAddress else { return }
                        colour.match(render: rb + offset, original: ob + offset, mask: inside, track: job.track)
                    }
                }
            }
            // Blend mask over the frame.
            let maskStart = DispatchTime.now()
            let frame = frames[job.frame]
            // The learned mask alone may reach past the landmarks (forehead, hair line): let it, within the hull grown
            // by a quarter of the face size; otherwise the hull, eroded and feathered.
            var alpha = mask == .learned
                ? AlphaPlane.hull(job.landmarks68, erosion: -0.25 * job.faceSize, feather: 0, frameWidth: frame.width, frameHeight: frame.height)
                : AlphaPlane.hull(job.landmarks68, erosion: options.erosion * job.faceSize, feather: max(options.feather * job.faceSize, 0.5),
                                  frameWidth: frame.width, frameHeight: frame.height)
            let learnedMap: ArraySlice<Float>? = (mask != .hull) ? learned.map { $0.data[(j * pixels)..<((j + 1) * pixels)] } : nil
            let occlusion = reconstruction.map { occlusionMap(input: input[offset..<(offset + pixels * 3)],
                                                              reconstruction: $0.data[offset..<(offset + pixels * 3)], size: s) }
            if learnedMap != nil || occlusion != nil {
                for y in 0..<alpha.height {
                    for x in 0..<alpha.width {
                        let k = y * alpha.width + x
                        guard alpha.values[k] > 0 else { continue }
                        let q = m.apply(SIMD2(Double(alpha.x0 + x) + 0.5, Double(alpha.y0 + y) + 0.5))
                        var a = alpha.values[k]
                        if let learnedMap { a = min(a, sampleGray(learnedMap, size: s, x: q.x, y: q.y)) }
                        if let occlusion { a *= 1 - sampleGray(occlusion[...], size: s, x: q.x, y: q.y) }
                        alpha.values[k] = a
                    }
                }
            }
            if let hands, !handHulls[j].isEmpty {
                _ = hands.cut(&alpha, hands: handHulls[j], faceSize: job.faceSize, feather: options.feather * job.faceSize,
                              frameWidth: frame.width, frameHeight: frame.height)
            }
            clock.add(\.mask, seconds: milliseconds(since: maskStart) / 1000)
            let changed: Int = clock.measure(\.composite) { rendered.data.withUnsafeBufferPointer { r in
                guard let rb = r.baseAddress else { return 0 }
                switch options.blend {
                case .alpha:
                    return FaceWarp.composite(rb + offset, size: s, toRender: m, alpha: alpha, into: &frames[job.frame])
                case .poisson:
                    return PoissonBlend.composite(rb + offset, size: s, toRender: m, alpha: alpha, into: &frames[job.frame])
                }
            } }
            let hullFrame = FaceMask.convexHull(job.landmarks68)
            let modelArea = Double(pixels) / max(abs(m.determinant), 1e-12)
            let weighted = alpha.values.reduce(0.0) { $0 + ($1 > 0 ? 1 : 0) }
            results.append(FaceResult(changedPixels: changed, maskCoverage: min(1, weighted / max(modelArea, 1)), maskBox: alpha.support,
                                      hull: hullFrame, failure: nil, occluders: handHulls[j]))
        }
        return results
    }

    /// Where the model's reconstruction of the input face disagrees strongly with it: per model pixel, the
    /// mean absolute RGB difference after a 5×5 box blur, mapped to 0 (agrees) ... 1 (covered) over
    /// [threshold, 1.5 × threshold].
    private func occlusionMap(input: ArraySlice<Float>, reconstruction: ArraySlice<Float>, size s: Int) -> [Float] {
        let i0 = input.startIndex, r0 = reconstruction.startIndex
        var diff = [Float](repeating: 0, count: s * s)
        for k in 0..<(s * s) {
            let a = abs(input[i0 + 3 * k] - reconstruction[r0 + 3 * k]) + abs(input[i0 + 3 * k + 1] - reconstruction[r0 + 3 * k + 1])
                + abs(input[i0 + 3 * k + 2] - reconstruction[r0 + 3 * k + 2])
            diff[k] = a / 3
        }
        var out = [Float](repeating: 0, count: s * s)
        let t = Float(options.occlusionThreshold)
        for y in 0..<s {
            for x in 0..<s {
                var sum: Float = 0, n: Float = 0
                for v in max(0, y - 2)...min(s - 1, y + 2) { for u in max(0, x - 2)...min(s - 1, x + 2) { sum += diff[v * s + u]; n += 1 } }
                out[y * s + x] = min(max((sum / n - t) / (0.5 * t), 0), 1)
            }
        }
        return out
    }

    /// Bilinear tap of an S×S single-channel map (edges replicated).
    private func sampleGray(_ map: ArraySlice<Float>, size s: Int, x: Double, y: Double) -> Float {
        let b = map.startIndex
        let xs = x.isFinite ? min(max(x - 0.5, 0), Double(s - 1)) : 0, ys = y.isFinite ? min(max(y - 0.5, 0), Double(s - 1)) : 0
        let x0 = Int(xs), y0 = Int(ys), x1 = min(x0 + 1, s - 1), y1 = min(y0 + 1, s - 1)
        let fx = Float(xs - Double(x0)), fy = Float(ys - Double(y0))
        let top = map[b + y0 * s + x0] * (1 - fx) + map[b + y0 * s + x1] * fx
        let bottom = map[b + y1 * s + x0] * (1 - fx) + map[b + y1 * s + x1] * fx
        return top * (1 - fy) + bottom * fy
    }
}

/// Poisson (seamless) cloning: inside the blend mask (α > 0) the result keeps the rendered face's gradients
/// (its discrete Laplacian) while meeting the frame's own pixels at the mask's border, so skin tone and
/// lighting flow in from the surroundings; solved by successive over-relaxation (ω = 1.9, 400 sweeps at
/// most, until the largest change is below 0.05 grey levels). Pixels with α = 0 are untouched.
enum PoissonBlend {
    static func composite(_ render: UnsafePointer<Float>, size: Int, toRender m: AffineMatrix2x3, alpha: AlphaPlane,
                          into frame: inout RGBImage) -> Int {
        let w = alpha.width, h = alpha.height
        guard w >= 3, h >= 3 else { return 0 }
        // The render warped onto the region (the guidance field), and the region's own pixels.
        var guide = RGBImage(width: frame.width, height: frame.height, pixels: frame.pixels)
        var full = alpha
        for k in full.values.indices where full.values[k] > 0 { full.values[k] = 1 }
        FaceWarp.composite(render, size: size, toRender: m, alpha: full, into: &guide)
        let fw = frame.width, gp = guide.pixels
        var inside = [Bool](repeating: false, count: w * h)
        for y in 1..<(h - 1) {
            for x in 1..<(w - 1) {
                let fx = alpha.x0 + x, fy = alpha.y0 + y
                inside[y * w + x] = alpha.values[y * w + x] > 0 && fx > 0 && fy > 0 && fx < frame.width - 1 && fy < frame.height - 1
            }
        }
        var changed = 0
        for c in 0..<3 {
            var f = [Double](repeating: 0, count: w * h), lap = [Double](repeating: 0, count: w * h)
            for y in 0..<h {
                for x in 0..<w {
                    let fx = min(max(alpha.x0 + x, 0), frame.width - 1), fy = min(max(alpha.y0 + y, 0), frame.height - 1)
                    f[y * w + x] = Double(frame.pixels[(fy * frame.width + fx) * 3 + c])
                }
            }
            for y in 1..<(h - 1) {
                for x in 1..<(w - 1) where inside[y * w + x] {
                    let g = { (dx: Int, dy: Int) -> Double in Double(gp[((alpha.y0 + y + dy) * fw + alpha.x0 + x + dx) * 3 + c]) }
                    lap[y * w + x] = 4 * g(0, 0) - g(-1, 0) - g(1, 0) - g(0, -1) - g(0, 1)
                    f[y * w + x] = g(0, 0)
                }
            }
            for _ in 0..<400 {
                var largest = 0.0
                for y in 1..<(h - 1) {
                    for x in 1..<(w - 1) where inside[y * w + x] {
                        let k = y * w + x
                        let target = (f[k - 1] + f[k + 1] + f[k - w] + f[k + w] + lap[k]) / 4
                        let delta = 1.9 * (target - f[k])
                        f[k] += delta
                        largest = max(largest, abs(delta))
                    }
                }
                if largest < 0.05 { break }
            }
            for y in 1..<(h - 1) {
                for x in 1..<(w - 1) where inside[y * w + x] {
                    let o = ((alpha.y0 + y) * frame.width + alpha.x0 + x) * 3 + c
                    let v = UInt8(min(max(f[y * w + x].rounded(), 0), 255))
                    if c == 0 && frame.pixels[o] != v { changed += 1 }
                    frame.pixels[o] = v
                }
            }
        }
        return changed
    }
}
