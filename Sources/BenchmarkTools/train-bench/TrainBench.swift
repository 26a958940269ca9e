import FacetCore
import ArgumentParser
import Foundation
import NN
import Tensor
import ToolSupport
import Training

/// `train-bench`: images per second of DeepFakes autoencoder training (a step of side A then of side B,
/// as `../shared/bench/peer_train_keras.py` does) and inference, printed in the peer's form so
/// `benchmarks/train/run.sh` can put them side by side, plus effective GFLOP/s and the sgemm peak.
@main
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-bench",
        abstract: "Time DeepFakes autoencoder training and inference on NN (benchmark tool, not a pipeline step).")

    /// Starts with the OpenBLAS kernel family setup measured as fastest, and freed tensors kept for reuse.
    static func main() {
        OpenBLASCoreChoice.applyRecordedChoice()
        TrainingMemory.retainFreedMemory()
        Self.main(nil)
    }

    @Option(help: "Images per side per step.")
    var batch: Int = 64

    @Option(help: "Timed iterations (each a step of A and a step of B), after one warm-up iteration.")
    var steps: Int = 5

    @Option(help: "Every filter and dense size divided by this (1 = the original architecture).")
    var widthDivisor: Int = 1

    @Option(name: .customLong("model"), help: "A model `train` offers (original, lite, df128): sets the input size and width divisor.")
    var modelName: String?

    @Flag(help: "Print milliseconds per layer (forward and backward) for one training step of side A.")
    var profile = false

    @Flag(help: "Also measure the two-core sgemm peak (2048³).")
    var peak = false

    @Option(help: "After the timed run, save a checkpoint here and load it back (times both).")
    var checkpoint: String?

    @Flag(help: "Time sgemm alone at the shapes of the convolutions' products (diagnostics).")
    var shapes = false

    @Flag(help: ArgumentHelp("Time train's step (SwapTrainer, MAE) plain, with the GAN (--gan-weight) and with the GAN and the cycle loss "
                             + "(--cycle-weight), one after the other in this process, and print each one's extra cost."))
    var adversarial = false

    /// Errors exit with the shared table (README "Exit codes"), as in the pipeline tools.
    func run() throws {
        try ToolRunner.run(tool: "train-bench") {
            try measure()
            return .ok
        }
    }

    func measure() throws {
        print("openblas kernels: \(BLAS.coreName), threads: \(Parallel.cores)")
        var configuration = DeepFakesAutoencoder.Configuration(inputSize: 64, widthDivisor: widthDivisor, seed: 0)
        if let name = modelName {
            guard let kind = SwapModelKind(rawValue: name) else { throw ValidationError("--model must be original, lite or df128") }
            configuration = kind.configuration(seed: 0, maskHead: false)
        }
        let size = configuration.inputSize
        let model = try DeepFakesAutoencoder(configuration: configuration)
        let trainer = DeepFakesTrainer(model: model)
        print("params: encoder \(model.encoder.parameterCount) decoder \(model.decoderA.parameterCount)")
        var rng = SeededRandom(seed: 0)
        let shape = [batch, size, size, 3]
        let (wa, ta, wb, tb) = (Self.random(shape, &rng), Self.random(shape, &rng), Self.random(shape, &rng), Self.random(shape, &rng))
        if profile { try Self.profile(trainer, wa, ta); return }
        if adversarial { try timeAdversarial(configuration, (wa, ta, wb, tb)); return }
        if shapes {
            for (m, n, k) in [(batch * 64, 1024, 4608), (batch * 32, 1024, 4608), (batch * 256, 256, 3200), (4608, 1024, batch * 64)] {
                Self.sgemmRate(m: m, n: n, k: k, transA: false)
            }
            Self.sgemmRate(m: 4608, n: 1024, k: batch * 64, transA: true)
            return
        }

        try trainer.iterate(inputA: wa, targetA: ta, inputB: wb, targetB: tb)   // warm-up: buffers, page faults
        var start = Self.now()
        var losses: (Float, Float) = (0, 0)
        for _ in 0..<steps { losses = try trainer.iterate(inputA: wa, targetA: ta, inputB: wb, targetB: tb) }
        var seconds = Self.now() - start
        let trainRate = Double(2 * batch * steps) / seconds
        // Forward, backward (input and weight gradients; the first layer has no input gradient).
        let forwardFlops = 2 * Double(model.forwardMultiplyAdds)
        let firstLayer = 2.0 * Double(size * size / 4) * Double(128 / configuration.widthDivisor) * 75
        let trainFlops = 3 * forwardFlops - firstLayer
        print(String(format: "model: %d px, width 1/%d, %.3f G multiply-adds per image forward", size, configuration.widthDivisor,
                     Double(model.forwardMultiplyAdds) / 1e9))
        print(String(format: "train: batch %d per side, %d iterations, %.3f s/iteration, %.1f images/s, %.1f GFLOP/s (loss %.4f %.4f)",
                     batch, steps, seconds / Double(steps), trainRate, trainRate * trainFlops / 1e9, losses.0, losses.1))

        _ = try model.forward(wa, side: .b, training: false)
        start = Self.now()
        for _ in 0..<steps { _ = try model.forward(wa, side: .b, training: false) }
        seconds = Self.now() - start
        let inferRate = Double(batch * steps) / seconds
        print(String(format: "infer: batch %d, %.1f images/s, %.1f GFLOP/s", batch, inferRate, inferRate * forwardFlops / 1e9))
        if peak { Self.sgemmPeak() }
        if let checkpoint {
            let url = URL(fileURLWithPath: checkpoint)
            start = Self.now()
            try trainer.saveCheckpoint(to: url)
            let saved = Self.now() - start
            start = Self.now()
            try DeepFakesTrainer(model: try DeepFakesAutoencoder(configuration: model.configuration)).loadCheckpoint(from: url)
            let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            print(String(format: "checkpoint: %.1f MB, saved in %.2f s, loaded (into a fresh model) in %.2f s", Double(size) / 1e6, saved,
                         Self.now() - start))
        }
    }

    /// Seconds per iteration (a step of A then of B, after a warm-up iteration) of `train`'s trainer plain,
    /// with the GAN (weight 0.1, no warm-up: the generator's term and both discriminators run every step) and
    /// with the GAN and the cycle loss (weight 1); each run on a freshly built model.
    func timeAdversarial(_ configuration: DeepFakesAutoencoder.Configuration, _ data: (Tensor, Tensor, Tensor, Tensor)) throws {
        let a = TrainingBatch(input: data.0, target: data.1), b = TrainingBatch(input: data.2, target: data.3)
        var plain = 0.0
        for (label, settings) in [("plain", nil), ("+gan", AdversarialSettings(ganWeight: 0.1, ganWarmup: 0, cycleWeight: 0)),
                                  ("+gan+cycle", AdversarialSettings(ganWeight: 0.1, ganWarmup: 0, cycleWeight: 1))] {
            let trainer = SwapTrainer(model: try DeepFakesAutoencoder(configuration: configuration), learningRate: 3e-4, loss: .mae)
            try trainer.configureAdversarial(settings, seed: 0)
            let cycle = trainer.usesCycle
            func iterate() throws {
                try trainer.step(.a, a, other: cycle ? b : nil)
                try trainer.step(.b, b, other: cycle ? a : nil)
                trainer.iteration += 1
            }
            try iterate()
            let start = Self.now()
            for _ in 0..<steps { try iterate() }
            let seconds = (Self.now() - start) / Double(steps)
            if settings == nil { plain = seconds }
            let extra = settings == nil ? "" : String(format: ", %.2f× plain (+%.0f%%)", seconds / plain, (seconds / plain - 1) * 100)
            print(String(format: "options %@: batch %d per side, %d iterations, %.3f s/iteration, %.1f images/s%@", label, batch, steps,
                         seconds, Double(2 * batch) / seconds, extra))
        }
        let probe = SwapTrainer(model: try DeepFakesAutoencoder(configuration: configuration), learningRate: 3e-4, loss: .mae)
        try probe.configureAdversarial(AdversarialSettings(ganWeight: 0.1, cycleWeight: 0), seed: 0)
        if let d = probe.discriminators.first {
            print(String(format: "discriminator: %d parameters, %.2f M multiply-adds per image forward", d.parameterCount,
                         Double(d.forwardMultiplyAdds) / 1e6))
        }
    }

    static func random(_ shape: [Int], _ rng: inout SeededRandom) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() })
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// GFLOP/s of one product shape through `BLAS.sgemm` (split over the cores), best of 3.
    static func sgemmRate(m: Int, n: Int, k: Int, transA: Bool) {
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.5, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        var best = Double.infinity
        for _ in 0..<3 {
            let start = now()
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                guard let a = ap.baseAddress, let b = bp.baseAddress, let c = cp.baseAddress else { return }
                BLAS.sgemm(transA: transA, m: m, n: n, k: k, a: a, lda: transA ? m : k, b: b, ldb: n, c: c, ldc: n)
            } } }
            best = min(best, now() - start)
        }
        print((transA ? "TN" : "NN") + String(format: " sgemm m %d n %d k %d: %.1f GFLOP/s", m, n, k, 2 * Double(m * n * k) / best / 1e9))
    }

    /// GFLOP/s of a 2048×2048×2048 product split over the cores, best of 5.
    static func sgemmPeak() {
        let n = 2048
        let a = [Float](repeating: 0.5, count: n * n), b = a
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<5 {
            let start = now()
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                guard let a = ap.baseAddress, let b = bp.baseAddress, let c = cp.baseAddress else { return }
                BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n)
            } } }
            best = min(best, now() - start)
        }
        print(String(format: "sgemm peak: %.1f GFLOP/s (%d threads, 2048^3)", 2 * pow(Double(n), 3) / best / 1e9, Parallel.cores))
    }

    /// Milliseconds per layer for one training step of side A (after a warm-up step).
    static func profile(_ trainer: DeepFakesTrainer, _ x: Tensor, _ t: Tensor) throws {
        try trainer.step(.a, input: x, target: t)
        let layers = trainer.model.encoder.layers + trainer.model.decoderA.layers
        for p in trainer.optimizerA.parameters { p.zeroGradient() }
        var y = x
        var rows: [(String, Double, Double)] = []
        for layer in layers {
            let start = now()
            y = try layer.forward(y, training: true)
            rows.append((layer.name, now() - start, 0))
        }
        var start = now()
        var (_, g) = try trainer.loss.evaluate(prediction: y, target: t)
        let lossTime = now() - start
        for (i, layer) in layers.enumerated().reversed() {
            start = now()
            g = try layer.backward(g)
            rows[i].2 = now() - start
        }
        start = now()
        try trainer.optimizerA.step()
        let adamTime = now() - start
        for (name, f, b) in rows { print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: " forward %8.1f ms  backward %8.1f ms", f * 1e3, b * 1e3)) }
        print(String(format: "loss %.1f ms, adam %.1f ms, total forward %.1f ms, backward %.1f ms", lossTime * 1e3, adamTime * 1e3,
                     rows.reduce(0) { $0 + $1.1 } * 1e3, rows.reduce(0) { $0 + $1.2 } * 1e3))
    }
}
