import FacetCore
import Foundation

/// A manifest format version, `MAJOR.MINOR`. Readers accept any minor version of the major they know
/// (minor versions only add optional fields) and refuse other majors.
public struct ManifestVersion: Codable, Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(string: String) {
        let parts = string.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0 else { return nil }
        self.init(major, minor)
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (a: ManifestVersion, b: ManifestVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = ManifestVersion(string: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "version '\(text)' is not MAJOR.MINOR"))
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// The tool run that produced a manifest.
public struct ToolInfo: Codable, Equatable, Sendable {
    /// Executable name, e.g. `fetch-frames`.
    public var name: String
    /// Facet's version.
    public var version: String
    /// The options that shaped the output, by their command-line names.
    public var parameters: [String: JSONValue]

    public init(name: String, version: String = FacetVersion.current, parameters: [String: JSONValue]) {
        self.name = name
        self.version = version
        self.parameters = parameters
    }
}

/// An input file a manifest was made from, with its content hash.
public struct InputFile: Codable, Equatable, Sendable {
    /// Path relative to the manifest's folder.
    public var path: String
    /// SHA-256 of the file's bytes, lowercase hex (for a folder of images: of its sorted file hashes).
    public var sha256: String
    /// Size in bytes (for a folder: the sum of its images).
    public var bytes: Int64
    /// `video` or `images` for media; `faces` for a faces manifest (the sources of a dataset).
    public var kind: String

    public init(path: String, sha256: String, bytes: Int64, kind: String) {
        self.path = path
        self.sha256 = sha256
        self.bytes = bytes
        self.kind = kind
    }
}

/// Facet's release version, recorded in manifests and the catalog.
public enum FacetVersion {
    public static let current = "0.1.0"
}

/// What every manifest kind shares: a schema name, a version, and the coding rules.
public protocol ManifestDocument: Codable {
    /// The schema name written in the `schema` field, e.g. `facet.frames`.
    static var schemaName: String { get }
    /// The version this build writes; it reads every minor version of the same major.
    static var currentVersion: ManifestVersion { get }
    var schema: String { get }
    var version: ManifestVersion { get }
}

/// Errors reading a manifest; each names the file.
public enum ManifestError: FacetError, Equatable {
    case missing(path: String)
    case malformed(path: String, reason: String)
    case wrongSchema(path: String, found: String, expected: String)
    case unsupportedVersion(path: String, found: String, supported: String)
    /// A file the manifest names resolves outside its workspace (absolute path, `..`, or a symlink).
    case outsideWorkspace(path: String, item: String, target: String, root: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .missing: return .noInput
        case .malformed, .wrongSchema, .unsupportedVersion, .outsideWorkspace: return .dataError
        }
    }

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such manifest"
        case .malformed(let p, let r): return "\(p): not a valid manifest: \(r)"
        case .wrongSchema(let p, let f, let e): return "\(p): is a '\(f)' manifest, expected '\(e)'"
        case .unsupportedVersion(let p, let f, let s):
            return "\(p): manifest version \(f) is not supported by this Facet (it reads \(s)); upgrade Facet or re-create the manifest"
        case .outsideWorkspace(let p, let item, let target, let root):
            return "\(p): \(item) '\(target)' is outside the manifest's workspace \(root); refusing to read it"
        }
    }
}

/// Reading and writing manifests.
public enum ManifestIO {
    private struct Header: Decodable {
        let schema: String
        let version: String
    }

    /// Reads a manifest, checking its schema name and major version before decoding the rest.
    public static func read<M: ManifestDocument>(_ type: M.Type, from url: URL) throws -> M {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw ManifestError.missing(path: path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ManifestError.malformed(path: path, reason: error.localizedDescription) }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: data) } catch {
            throw ManifestError.malformed(path: path, reason: "no 'schema' and 'version' fields (\(describe(error)))")
        }
        guard header.schema == M.schemaName else {
            throw ManifestError.wrongSchema(path: path, found: header.schema, expected: M.schemaName)
        }
        guard let version = ManifestVersion(string: header.version) else {
            throw ManifestError.malformed(path: path, reason: "version '\(header.version)' is not MAJOR.MINOR")
        }
        guard version.major == M.currentVersion.major else {
            throw ManifestError.unsupportedVersion(path: path, found: header.version, supported: "\(M.currentVersion.major).x")
        }
        let manifest: M
        do { manifest = try JSONDecoder().decode(M.self, from: data) } catch {
            throw ManifestError.malformed(path: path, reason: describe(error))
        }
        if let referencing = manifest as? ManifestFileReferences { try checkConfined(referencing, at: url) }
        return manifest
    }

    /// Writes a manifest atomically (temporary file, fsync, rename), pretty-printed with sorted keys.
    public static func write<M: ManifestDocument>(_ manifest: M, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(manifest)
        try AtomicFile.write(data + Data("\n".utf8), to: url)
    }

    /// Writes a manifest atomically with its `items` produced page by page, so memory does not grow with
    /// their number: `manifest` (whose own items should be empty) is encoded compactly with sorted keys, and
    /// each page that `pages` hands to its callback is encoded and spliced into the `items` array in turn.
    public static func write<M: ManifestDocument, Item: Encodable>(
        _ manifest: M, to url: URL, itemType: Item.Type, pages: (_ emit: ([Item]) throws -> Void) throws -> Void
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let shell = String(decoding: try encoder.encode(manifest), as: UTF8.self)
        guard let slot = shell.range(of: "\"items\":[]") else {
            throw ManifestError.malformed(path: url.path, reason: "manifest has no empty 'items' array to stream into")
        }
        try AtomicFile.write(to: url) { sink in
            try sink.append(Data(shell[..<slot.lowerBound].utf8) + Data("\"items\":[".utf8))
            var first = true
            try pages { items in
                var chunk = Data()
                for item in items {
                    if !first { chunk.append(UInt8(ascii: ",")) }
                    chunk.append(contentsOf: Data("\n".utf8))
                    chunk.append(try encoder.encode(item))
                    first = false
                }
                try sink.append(chunk)
            }
            try sink.append(Data("]".utf8) + Data(shell[slot.upperBound...].utf8) + Data("\n".utf8))
        }
    }

    /// `file` expressed relative to the folder holding `manifest` (both absolute file URLs).
    public static func relativePath(of file: URL, fromManifest manifest: URL) -> String {
        let base = manifest.deletingLastPathComponent().standardizedFileURL.pathComponents
        let target = file.standardizedFileURL.pathComponents
        var common = 0
        while common < base.count, common < target.count, base[common] == target[common] { common += 1 }
        let ups = Array(repeating: "..", count: base.count - common)
        let rest = Array(target[common...])
        let parts = ups + rest
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The absolute location of `path`, read relative to the folder holding `manifest`.
    public static func resolve(_ path: String, relativeToManifest manifest: URL) -> URL {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path) }
        return manifest.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let at = context.codingPath.map(\.stringValue).joined(separator: ".")
            return at.isEmpty ? context.debugDescription : "field '\(at)': \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
