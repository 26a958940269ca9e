import Foundation

/// A manifest that lists one set of faces: a `facet.dataset` (`dedupe`) or a `facet.faces` (`detect`).
/// `train`, `warp-augment` and `dedupe audit` accept either; this is the one place that tells them apart.
public enum FaceSetManifest: Sendable {
    case dataset(DatasetManifest)
    case faces(FacesManifest)

    /// Reads the manifest at `url`, whichever of the two it is. Throws `ManifestError.missing` when the file
    /// does not exist, `.malformed` when it cannot be read or decoded, `.wrongSchema` for any other schema.
    public static func read(_ url: URL) throws -> FaceSetManifest {
        switch try schema(of: url) {
        case DatasetManifest.schemaName: return .dataset(try ManifestIO.read(DatasetManifest.self, from: url))
        case FacesManifest.schemaName: return .faces(try ManifestIO.read(FacesManifest.self, from: url))
        case let other:
            throw ManifestError.wrongSchema(path: url.path, found: other, expected: "\(DatasetManifest.schemaName) or \(FacesManifest.schemaName)")
        }
    }

    /// The `schema` field of the JSON file at `url` ("none" when it has none).
    public static func schema(of url: URL) throws -> String {
        struct Header: Decodable { let schema: String? }
        guard FileManager.default.fileExists(atPath: url.path) else { throw ManifestError.missing(path: url.path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ManifestError.malformed(path: url.path, reason: error.localizedDescription) }
        return (try? JSONDecoder().decode(Header.self, from: data))?.schema ?? "none"
    }
}
