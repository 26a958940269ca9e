import FacetCore
import Foundation

/// What every tool run derives from its inputs and options the same way: the canonical form of its
/// parameters (hashed into catalog keys) and its default manifest location.
public enum ToolRunNaming {
    /// `parameters` as canonical JSON (sorted keys, unescaped slashes): the form stored in the catalog.
    public static func canonicalJSON(_ parameters: [String: JSONValue]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(parameters)) ?? Data(), as: UTF8.self)
    }

    /// `<workspace>/Manifests/<kind>-<name>[.shard-K-of-N].json`: `<name>` is the single input's name
    /// without extension (and without `dropPrefix`, e.g. a frames manifest's `frames-`), or `multi-` and a
    /// hash of all input paths when there are several.
    public static func defaultManifestURL(kind: String, inputs: [URL], workspace: URL, shardIndex: Int, shardCount: Int,
                                          dropPrefix: String? = nil) -> URL {
        var name: String
        if inputs.count == 1 {
            name = inputs[0].deletingPathExtension().lastPathComponent
            if let dropPrefix, name.hasPrefix(dropPrefix) { name.removeFirst(dropPrefix.count) }
        } else {
            name = "multi-" + String(SHA256.hex(Data(inputs.map(\.path).joined(separator: "\n").utf8)).prefix(8))
        }
        if shardCount > 1 { name += ".shard-\(shardIndex)-of-\(shardCount)" }
        return workspace.appendingPathComponent("Manifests").appendingPathComponent("\(kind)-\(name).json")
    }
}
