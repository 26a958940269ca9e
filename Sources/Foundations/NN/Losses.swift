import Foundation
import Tensor

/// Image reconstruction losses, each returning its value and its gradient with respect to the prediction.
///
/// prediction and target `[n, h, w, c]`; optional weights `[n, h, w, 1]` (a mask, or `regionWeights`),
/// applied to every channel of a pixel. With weights w the loss is `Σ w·ℓ / (c · Σ w)`; without, the plain
/// mean over every element (Keras' `mean_absolute_error` / `mean_squared_error` on images). An all-zero
/// weight map gives loss 0 and a zero gradient.
public enum Loss: Equatable, Sendable, Codable {
    /// |p - t| (gradient sign(p - t), 0 where equal, as TensorFlow).
    case mae
    /// (p - t)².
    case mse
    /// Structural dissimilarity (1 - SSIM) / 2, per channel, Gaussian window `window`×`window` with
    /// standard deviation `sigma`, over the VALID window positions (SSIM's K1 0.01, K2 0.03, range 1).
    /// Weights are read at each window's centre.
    case dssim(window: Int, sigma: Double)

    /// The usual DSSIM: 11×11 window, σ 1.5.
    public static let standardDSSIM = Loss.dssim(window: 11, sigma: 1.5)

    /// Value and gradient. Throws when shapes disagree or the image is smaller than the SSIM window.
    public func evaluate(prediction: Tensor, target: Tensor, weights: Tensor? = nil) throws -> (value: Float, gradient: Tensor) {
        let (n, h, w, c) = try imageShape(prediction.shape, layer: "loss")
        guard target.shape == prediction.shape else {
            throw NNError.shapeMismatch(layer: "loss target", expected: "\(prediction.shape)", got: target.shape)
        }
        if let weights, weights.shape != [n, h, w, 1] {
            throw NNError.shapeMismatch(layer: "loss weights", expected: "\([n, h, w, 1])", got: weights.shape)
        }
        switch self {
        case .mae, .mse:
            return pointwise(prediction, target, weights, pixels: n * h * w, channels: c)
        case .dssim(let window, let sigma):
            guard window >= 1, window <= h, window <= w, sigma > 0 else {
                throw NNError.shapeMismatch(layer: "dssim (window \(window))", expected: "images at least \(window)×\(window)",
                                            got: prediction.shape)
            }
            return SSIM.dssim(prediction, target, weights, window: window, sigma: sigma)
        }
    }

    private func pointwise(_ p: Tensor, _ t: Tensor, _ weights: Tensor?, pixels: Int, channels c: Int) -> (value: Float, gradient: Tensor) {
        var gradient = Tensor.uninitialized(p.shape)
        let weightSum = weights.map { $0.data.reduce(0.0) { $0 + Double($1) } } ?? Double(pixels)
        guard weightSum > 0 else { return (0, Tensor(zeros: p.shape)) }
        let scale = 1 / (Double(c) * weightSum)
        let squared = self == .mse
        var total = 0.0
        p.withPointer { pp in t.withPointer { tp in gradient.withMutablePointer { gp in
            for pixel in 0..<pixels {
                let wt = weights.map { Double($0.data[pixel]) } ?? 1
                var sum: Float = 0
                let gScale = Float(wt * scale)
                for ch in 0..<c {
                    let i = pixel &* c &+ ch
                    let d = pp[i] - tp[i]
                    if squared {
                        sum += d * d
                        gp[i] = 2 * d * gScale
                    } else {
                        sum += abs(d)
                        gp[i] = (d > 0 ? 1 : (d < 0 ? -1 : 0)) * gScale
                    }
                }
                total += Double(sum) * wt
            }
        } } }
        return (Float(total * scale), gradient)
    }
}

/// Per-pixel loss weights from masks `[n, h, w, 1]` with values in [0, 1]:
/// `face · (1 + (eyeMultiplier - 1)·eyes + (mouthMultiplier - 1)·mouth)`. No face mask means 1 everywhere;
/// multipliers of 1 (or no region mask) leave the face weighting as it is. Shapes must agree.
public func regionWeights(face: Tensor?, eyes: Tensor?, eyeMultiplier: Float = 1, mouth: Tensor?,
                          mouthMultiplier: Float = 1) throws -> Tensor {
    guard let shape = face?.shape ?? eyes?.shape ?? mouth?.shape else {
        throw NNError.invalidConfiguration("regionWeights needs at least one mask")
    }
    for (label, mask) in [("face", face), ("eyes", eyes), ("mouth", mouth)] {
        if let mask, mask.shape != shape || shape.count != 4 || shape[3] != 1 {
            throw NNError.shapeMismatch(layer: "\(label) mask", expected: "\(shape) [n, h, w, 1]", got: mask.shape)
        }
    }
    var out = Tensor(zeros: shape)
    for i in 0..<out.count {
        var w: Float = 1
        if let eyes { w += (eyeMultiplier - 1) * eyes.data[i] }
        if let mouth { w += (mouthMultiplier - 1) * mouth.data[i] }
        out.data[i] = w * (face?.data[i] ?? 1)
    }
    return out
}
