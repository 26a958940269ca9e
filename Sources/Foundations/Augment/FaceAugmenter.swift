import Faces
import Foundation
import Media

/// A face ready for augmentation, kept at the processing size P of an `AugmentGeometry`: the crop scaled
/// down (area average), its face mask, eye and mouth masks (0…255, P×P) and 68 landmarks in processing
/// pixels (pixel centres at +0.5).
public struct AugmentSource: Sendable {
    public let size: Int
    /// P·P·3 bytes, RGB, row-major.
    public let pixels: [UInt8]
    /// The face mask: the mask image given, else the hull of the 68 landmarks, feathered.
    public let faceMask: [UInt8]
    /// The two eyes' hulls and the outer lips' hull, grown and feathered by P/50 px.
    public let eyes: [UInt8]
    public let mouth: [UInt8]
    public let landmarks: [SIMD2<Double>]

    /// `crop` (square), its 68 landmarks in crop pixels (x, y pairs) and an optional mask image of the crop's
    /// size (white = face; its red channel is used). Throws when the sizes or the point count do not fit.
    public init(crop: RGBImage, landmarks68: [Float], mask: RGBImage?, processingSize: Int) throws {
        guard crop.width == crop.height, crop.width >= 8 else {
            throw AugmentError.invalidSettings("crop is \(crop.width)×\(crop.height), not a square of at least 8 px")
        }
        guard landmarks68.count == 136, landmarks68.allSatisfy(\.isFinite) else {
            throw AugmentError.invalidSettings("\(landmarks68.count / 2) landmarks (or non-finite ones), expected 68")
        }
        if let mask, mask.width != crop.width || mask.height != crop.height {
            throw AugmentError.invalidSettings("mask is \(mask.width)×\(mask.height), the crop \(crop.width)×\(crop.height)")
        }
        let p = processingSize, ratio = Double(p) / Double(crop.width)
        size = p
        pixels = AreaResize.resize(crop.pixels, side: crop.width, channels: 3, to: p)
        let points = (0..<68).map { SIMD2(Double(landmarks68[2 * $0]), Double(landmarks68[2 * $0 + 1])) * ratio }
        landmarks = points
        if let mask {
            let red = stride(from: 0, to: mask.pixels.count, by: 3).map { mask.pixels[$0] }
            faceMask = AreaResize.resize(red, side: mask.width, channels: 1, to: p)
        } else {
            faceMask = FaceMask(hullOf: points, width: p, height: p, feather: Double(p) / 64).values
        }
        let grow = Double(p) / 50
        let left = FaceMask(hullOf: Landmarks68.leftEye.map { points[$0] }, width: p, height: p, dilation: grow, feather: grow).values
        let right = FaceMask(hullOf: Landmarks68.rightEye.map { points[$0] }, width: p, height: p, dilation: grow, feather: grow).values
        eyes = zip(left, right).map { max($0, $1) }
        mouth = FaceMask(hullOf: Landmarks68.mouth.map { points[$0] }, width: p, height: p, dilation: grow, feather: grow).values
    }
}

/// Where `FaceAugmenter.render` writes one sample; every pointer is optional. Images are S·S·3 floats
/// 0…1 (RGB interleaved), masks S·S floats 0…1.
public struct AugmentTargets {
    public var input: UnsafeMutablePointer<Float>?
    public var target: UnsafeMutablePointer<Float>?
    public var faceMask: UnsafeMutablePointer<Float>?
    public var eyes: UnsafeMutablePointer<Float>?
    public var mouth: UnsafeMutablePointer<Float>?

    public init(input: UnsafeMutablePointer<Float>? = nil, target: UnsafeMutablePointer<Float>? = nil,
                faceMask: UnsafeMutablePointer<Float>? = nil, eyes: UnsafeMutablePointer<Float>? = nil,
                mouth: UnsafeMutablePointer<Float>? = nil) {
        self.input = input; self.target = target; self.faceMask = faceMask; self.eyes = eyes; self.mouth = mouth
    }
}

/// Renders augmented training pairs: the warped input, the unwarped target and the target's masks.
public struct FaceAugmenter: Sendable {
    public let settings: AugmentSettings
    public let geometry: AugmentGeometry

    public init(settings: AugmentSettings, geometry: AugmentGeometry) throws {
        try settings.validate()
        self.settings = settings
        self.geometry = geometry
    }

    /// Draws one sample's choices and renders it. `partner` is the 68-point shape to warp onto (only read
    /// with warp-to-landmarks).
    public func render(_ source: AugmentSource, rng: inout AugmentRandom, partner: [SIMD2<Double>]? = nil, into out: AugmentTargets) {
        let draw = AugmentDraw(settings: settings, geometry: geometry, rng: &rng)
        render(source, draw: draw, partner: partner, into: out)
    }

    /// Renders a sample for a given draw (bilinear sampling, edges replicated).
    public func render(_ source: AugmentSource, draw: AugmentDraw, partner: [SIMD2<Double>]? = nil, into out: AugmentTargets) {
        let plan = WarpPlan(draw: draw, geometry: geometry, settings: settings, landmarks: source.landmarks, partner: partner)
        let s = geometry.outputSize, p = source.size
        source.pixels.withUnsafeBufferPointer { image in
            guard let image = image.baseAddress else { return }
            for v in 0..<s {
                for u in 0..<s {
                    let (uc, vc) = (Double(u) + 0.5, Double(v) + 0.5)
                    let o = (v * s + u) * 3
                    if let input = out.input {
                        Self.sampleRGB(image, side: p, at: plan.inputPoint(uc, vc), into: input + o)
                    }
                    if let target = out.target {
                        Self.sampleRGB(image, side: p, at: plan.targetPoint(uc, vc), into: target + o)
                    }
                }
            }
        }
        for (mask, destination) in [(source.faceMask, out.faceMask), (source.eyes, out.eyes), (source.mouth, out.mouth)] {
            guard let destination else { continue }
            mask.withUnsafeBufferPointer { values in
                guard let values = values.baseAddress else { return }
                for v in 0..<s {
                    for u in 0..<s {
                        destination[v * s + u] = Self.sampleGray(values, side: p, at: plan.targetPoint(Double(u) + 0.5, Double(v) + 0.5))
                    }
                }
            }
        }
        if draw.changesColour {
            let count = s * s
            let meanL: Float
            if let target = out.target { meanL = LabColour.meanLightness(target, count: count) }
            else if let input = out.input { meanL = LabColour.meanLightness(input, count: count) }
            else { return }
            if let input = out.input { LabColour.adjust(input, count: count, draw: draw, meanL: meanL) }
            if let target = out.target { LabColour.adjust(target, count: count, draw: draw, meanL: meanL) }
        }
    }

    /// One RGB sample (Media's `Bilinear`, edges replicated) as floats 0…1.
    @inline(__always)
    static func sampleRGB(_ image: UnsafePointer<UInt8>, side: Int, at point: SIMD2<Double>, into out: UnsafeMutablePointer<Float>) {
        let v = Bilinear.rgb(image, width: side, height: side, x: point.x, y: point.y)
        out[0] = Float(v.0) * (1 / 255); out[1] = Float(v.1) * (1 / 255); out[2] = Float(v.2) * (1 / 255)
    }

    /// One mask sample (edges replicated) as a float 0…1.
    @inline(__always)
    static func sampleGray(_ values: UnsafePointer<UInt8>, side: Int, at point: SIMD2<Double>) -> Float {
        Float(Bilinear.gray(values, width: side, height: side, x: point.x, y: point.y)) * (1 / 255)
    }
}
