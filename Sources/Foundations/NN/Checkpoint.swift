import FacetCore
import Foundation
import Tensor

/// Training checkpoints in safetensors: the weights under their parameter names, each optimizer's moments
/// as `optimizer.<label>.m.<parameter>` and `optimizer.<label>.v.<parameter>`, and `__metadata__` with
/// `format` (`facet-nn-checkpoint/1`), `architecture`, `configuration` (the architecture's configuration
/// as JSON), `iteration`, and per optimizer `optimizer.<label>.iterations` and `.configuration` (JSON).
/// Other frameworks read the weights by name; loading checks every name and shape and lists every problem.
public enum Checkpoint {
    public static let format = "facet-nn-checkpoint/1"
    /// Names of a GAN run's discriminator tensors start with this (`discriminatorA.conv1.kernel`); their Adam
    /// states are the optimizers `DA` and `DB`. Model files keep the discriminators for `--init-from`;
    /// inference ignores them.
    public static let discriminatorPrefix = "discriminator"

    /// Writes weights, optimizer state and iteration atomically. `extraMetadata` adds the caller's own
    /// string entries to `__metadata__` (a key the format itself uses is refused).
    public static func save(to url: URL, architecture: String, configurationJSON: String, iteration: Int,
                            parameters: [Parameter], optimizers: [Adam], extraMetadata: [String: String] = [:]) throws {
        var metadata = ["format": format, "architecture": architecture, "configuration": configurationJSON,
                        "iteration": String(iteration)]
        for (key, value) in extraMetadata {
            guard metadata[key] == nil, !key.hasPrefix("optimizer.") else {
                throw NNError.invalidConfiguration("checkpoint metadata key \(key) is reserved")
            }
            metadata[key] = value
        }
        var tensors = parameters.map { (name: $0.name, tensor: $0.value) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for adam in optimizers {
            metadata["optimizer.\(adam.label).iterations"] = String(adam.iterations)
            metadata["optimizer.\(adam.label).configuration"] = String(decoding: try encoder.encode(adam.configuration), as: UTF8.self)
            for (index, p) in adam.parameters.enumerated() {
                tensors.append((name: "optimizer.\(adam.label).m.\(p.name)", tensor: adam.firstMoments[index]))
                tensors.append((name: "optimizer.\(adam.label).v.\(p.name)", tensor: adam.secondMoments[index]))
            }
        }
        try SafeTensors.write(SafeTensors.Contents(tensors: tensors, metadata: metadata), to: url)
    }

    /// Reads a checkpoint into `parameters` and `optimizers` (moments, step counts, configurations) and
    /// returns its iteration. Nothing is changed unless everything fits: a wrong format or architecture,
    /// a different configuration, missing, unexpected or wrongly shaped tensors all throw
    /// `NNError.checkpointMismatch` listing each problem (or `checkpointUnreadable` / `checkpointMissing`),
    /// all checked from the header before any tensor is read. Tensors are then read straight into place;
    /// only an I/O error during that read (reported as `checkpointUnreadable`) can leave a partial load.
    /// Keys of the configuration in `ignoringConfigurationKeys` (e.g. the initialisation seed) may differ.
    /// `optionalParameters` are loaded when the file holds them all and left as they are when it holds none
    /// (some but not all is a mismatch); tensors whose names start with one of `ignoringTensorPrefixes` may be
    /// in the file without being loaded (a model file's discriminators, which `swap` does not need).
    @discardableResult
    public static func load(from url: URL, architecture: String, configurationJSON: String,
                            ignoringConfigurationKeys: Set<String> = [],
                            parameters: [Parameter], optimizers: [Adam], optionalParameters: [Parameter] = [],
                            ignoringTensorPrefixes: [String] = []) throws -> Int {
        let reader = try SafeTensors.Reader(url)
        var problems: [String] = []
        let meta = reader.header.metadata
        if meta["format"] != format { problems.append("format \(meta["format"] ?? "missing"), expected \(format)") }
        if meta["architecture"] != architecture {
            problems.append("architecture \(meta["architecture"] ?? "missing"), expected \(architecture)")
        }
        if let stored = meta["configuration"], !sameJSON(stored, configurationJSON, ignoring: ignoringConfigurationKeys) {
            problems.append("configuration \(stored), model has \(configurationJSON)")
        }
        let iteration = Int(meta["iteration"] ?? "")
        if iteration == nil { problems.append("iteration missing or not a number") }
        if let iteration, iteration < 0 { problems.append("iteration \(iteration) is negative") }

        var expected: [(name: String, shape: [Int])] = parameters.map { ($0.name, $0.value.shape) }
        var optimizerSettings: [(Adam, Int, Adam.Configuration)] = []
        for adam in optimizers {
            for p in adam.parameters {
                expected.append(("optimizer.\(adam.label).m.\(p.name)", p.value.shape))
                expected.append(("optimizer.\(adam.label).v.\(p.name)", p.value.shape))
            }
            let steps = Int(meta["optimizer.\(adam.label).iterations"] ?? "")
            let config = meta["optimizer.\(adam.label).configuration"].flatMap {
                try? JSONDecoder().decode(Adam.Configuration.self, from: Data($0.utf8))
            }
            if let steps, steps < 0 { problems.append("optimizer \(adam.label): iterations \(steps) is negative") }
            if let steps, steps >= 0, let config { optimizerSettings.append((adam, steps, config)) } else if steps.map({ $0 >= 0 }) ?? true {
                problems.append("optimizer \(adam.label): iterations or configuration missing")
            }
        }
        var stored: [String: SafeTensors.Entry] = [:]
        for entry in reader.header.entries { stored[entry.name] = entry }
        let presentOptional = optionalParameters.filter { stored[$0.name] != nil }
        if !presentOptional.isEmpty {
            expected += optionalParameters.map { ($0.name, $0.value.shape) }
        }
        for (name, shape) in expected {
            guard let entry = stored[name] else { problems.append("missing tensor \(name) \(shape)"); continue }
            if entry.shape != shape { problems.append("\(name): shape \(entry.shape) in the file, the model has \(shape)") }
        }
        let expectedNames = Set(expected.map(\.name))
        for entry in reader.header.entries where !expectedNames.contains(entry.name)
            && !ignoringTensorPrefixes.contains(where: { entry.name.hasPrefix($0) }) {
            problems.append("unexpected tensor \(entry.name)")
        }
        guard problems.isEmpty, let iteration else { throw NNError.checkpointMismatch(path: url.path, problems: problems) }

        // Everything fits: read each tensor straight into the model and optimizer memory.
        func load(_ name: String, into tensor: inout Tensor) throws {
            if let entry = stored[name] { try tensor.withMutablePointer { try reader.read(entry, into: $0) } }
        }
        for p in parameters { try load(p.name, into: &p.value) }
        if !presentOptional.isEmpty { for p in optionalParameters { try load(p.name, into: &p.value) } }
        for (adam, steps, config) in optimizerSettings {
            for (index, p) in adam.parameters.enumerated() {
                try load("optimizer.\(adam.label).m.\(p.name)", into: &adam.firstMoments[index])
                try load("optimizer.\(adam.label).v.\(p.name)", into: &adam.secondMoments[index])
            }
            adam.iterations = steps
            adam.configuration = config
        }
        return iteration
    }

    /// Equal JSON objects apart from the `ignoring` keys, whatever the key order and spacing.
    static func sameJSON(_ a: String, _ b: String, ignoring: Set<String>) -> Bool {
        guard var x = try? JSONSerialization.jsonObject(with: Data(a.utf8)) as? [String: Any],
              var y = try? JSONSerialization.jsonObject(with: Data(b.utf8)) as? [String: Any] else { return a == b }
        for key in ignoring { x[key] = nil; y[key] = nil }
        // Compared as canonical JSON: NSDictionary equality misses equal booleans on Linux.
        guard let cx = try? JSONSerialization.data(withJSONObject: x, options: [.sortedKeys]),
              let cy = try? JSONSerialization.data(withJSONObject: y, options: [.sortedKeys]) else { return false }
        return cx == cy
    }
}

extension DeepFakesTrainer {
    var configurationJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(model.configuration)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Saves the model's weights, both optimizers and the iteration, atomically.
    public func saveCheckpoint(to url: URL) throws {
        try Checkpoint.save(to: url, architecture: DeepFakesAutoencoder.architecture, configurationJSON: configurationJSON,
                            iteration: iteration, parameters: model.allParameters, optimizers: [optimizerA, optimizerB])
    }

    /// Restores weights, both optimizers and the iteration; throws (changing nothing) when the file does not
    /// fit. The stored initialisation seed may differ from the model's (the weights replace it anyway).
    public func loadCheckpoint(from url: URL) throws {
        iteration = try Checkpoint.load(from: url, architecture: DeepFakesAutoencoder.architecture,
                                        configurationJSON: configurationJSON, ignoringConfigurationKeys: ["seed"],
                                        parameters: model.allParameters,
                                        optimizers: [optimizerA, optimizerB])
    }
}
