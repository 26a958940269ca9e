import Foundation
import Tensor

/// Adam with Keras 3's update, step t = iterations + 1, all in Float:
/// ```
/// m += (g - m)·(1 - β1);  v += (g² - v)·(1 - β2)
/// α = lr · sqrt(1 - β2^t) / (1 - β1^t);  w -= α·m / (sqrt(v) + ε)
/// ```
/// Optional clipping first: `clipValue` clamps each gradient entry, `clipNorm` rescales each gradient
/// tensor to at most that L2 norm, `globalClipNorm` rescales all of them together (Keras' `clipvalue`,
/// `clipnorm`, `global_clipnorm`). `step()` reads `Parameter.gradient` and leaves it as it is; zero the
/// gradients before the next accumulation.
public final class Adam {
    public struct Configuration: Equatable, Sendable, Codable {
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
        public var clipValue: Float?
        public var clipNorm: Float?
        public var globalClipNorm: Float?

        public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7,
                    clipValue: Float? = nil, clipNorm: Float? = nil, globalClipNorm: Float? = nil) {
            self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
            self.clipValue = clipValue; self.clipNorm = clipNorm; self.globalClipNorm = globalClipNorm
        }
    }

    /// Names this optimizer's state in checkpoints (`optimizer.<label>.m.<parameter>`).
    public let label: String
    public var configuration: Configuration
    public let parameters: [Parameter]
    /// First and second moments, one per parameter, same shapes.
    public internal(set) var firstMoments: [Tensor]
    public internal(set) var secondMoments: [Tensor]
    /// Steps taken so far.
    public internal(set) var iterations: Int = 0

    public init(label: String, parameters: [Parameter], configuration: Configuration = Configuration()) {
        self.label = label
        self.parameters = parameters
        self.configuration = configuration
        firstMoments = parameters.map { Tensor(zeros: $0.value.shape) }
        secondMoments = firstMoments
    }

    /// One update of every parameter from its accumulated gradient. Throws (updating nothing) when a
    /// parameter's value, gradient or moments no longer have one shape.
    public func step() throws {
        for (index, p) in parameters.enumerated() {
            try p.check(firstMoments[index].shape)
            if secondMoments[index].shape != p.value.shape {
                throw NNError.shapeMismatch(layer: "optimizer \(label) \(p.name)", expected: "\(p.value.shape)", got: secondMoments[index].shape)
            }
        }
        let cfg = configuration
        let t = Float(iterations + 1)
        let alpha = cfg.learningRate * (1 - Foundation.pow(cfg.beta2, t)).squareRoot() / (1 - Foundation.pow(cfg.beta1, t))
        var globalScale: Float = 1
        if let limit = cfg.globalClipNorm {
            let norm = parameters.reduce(0.0) { $0 + squaredNorm($1.gradient) }.squareRoot()
            if norm > Double(limit) { globalScale = Float(Double(limit) / norm) }
        }
        for (index, parameter) in parameters.enumerated() {
            var scale = globalScale
            if let limit = cfg.clipNorm {
                let norm = squaredNorm(parameter.gradient).squareRoot()
                if norm > Double(limit) { scale *= Float(Double(limit) / norm) }
            }
            let count = parameter.value.count
            parameter.gradient.withPointer { gp in
                parameter.value.withMutablePointer { wp in
                    firstMoments[index].withMutablePointer { mp in
                        secondMoments[index].withMutablePointer { vp in
                            let g = SendablePointer(gp), w = SendableMutablePointer(wp)
                            let m = SendableMutablePointer(mp), v = SendableMutablePointer(vp)
                            Parallel.ranges(count, work: count * 8, threshold: 200_000) { range in
                                Self.update(range, g: g.pointer, w: w.pointer, m: m.pointer, v: v.pointer, scale: scale,
                                            clip: cfg.clipValue, alpha: alpha, cfg: cfg)
                            }
                        }
                    }
                }
            }
        }
        iterations += 1
    }

    private func squaredNorm(_ t: Tensor) -> Double {
        t.data.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    private static func update(_ range: Range<Int>, g: UnsafePointer<Float>, w: UnsafeMutablePointer<Float>,
                               m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, scale: Float, clip: Float?,
                               alpha: Float, cfg: Configuration) {
        typealias V = SIMD8<Float>
        let oneMinusB1 = V(repeating: 1 - cfg.beta1), oneMinusB2 = V(repeating: 1 - cfg.beta2)
        let a = V(repeating: alpha), eps = V(repeating: cfg.epsilon), s = V(repeating: scale)
        let hi = V(repeating: clip ?? .infinity), lo = -hi
        var i = range.lowerBound
        while i &+ 8 <= range.upperBound {
            var gv = V.load(g + i)
            if scale != 1 { gv *= s }
            if clip != nil { gv = gv.clamped(lowerBound: lo, upperBound: hi) }
            var mv = V.load(m + i), vv = V.load(v + i)
            mv += (gv - mv) * oneMinusB1
            vv += (gv * gv - vv) * oneMinusB2
            mv.store(m + i); vv.store(v + i)
            (V.load(w + i) - (mv * a) / (vv.squareRoot() + eps)).store(w + i)
            i &+= 8
        }
        while i < range.upperBound {
            var gs = g[i]
            if scale != 1 { gs *= scale }
            if let c = clip { gs = min(max(gs, -c), c) }
            m[i] += (gs - m[i]) * (1 - cfg.beta1)
            v[i] += (gs * gs - v[i]) * (1 - cfg.beta2)
            w[i] -= (m[i] * alpha) / (v[i].squareRoot() + cfg.epsilon)
            i &+= 1
        }
    }
}
