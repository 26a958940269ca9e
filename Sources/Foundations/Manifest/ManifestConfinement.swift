#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FacetCore
import Foundation

/// A manifest whose fields name files that tools open (crops, masks, frames, weights). `ManifestIO.read`
/// refuses a manifest when one of them resolves, symlinks followed, outside the manifest's tree: a manifest
/// from another machine must not make a tool read (and copy into a dataset) `/etc/passwd` or `../../secret`.
///
/// Fields that only record where an *original* input came from (`inputs[].path`, a dataset's `sources`, a
/// face's `frame` when it was found in an image file given on the command line) are not confined: they name
/// the user's own media, which live anywhere. Labels and clusters manifests only record crops (no tool reads
/// files through them), and may be written anywhere the user asks, so they are not checked either.
public protocol ManifestFileReferences {
    /// Every file path a reader may open, with the item it belongs to (for the error message).
    var referencedFiles: [(item: String, path: String)] { get }
}

extension FramesManifest: ManifestFileReferences {
    public var referencedFiles: [(item: String, path: String)] {
        items.enumerated().map { ("items[\($0.offset)].path", $0.element.path) }
    }
}

extension FacesManifest: ManifestFileReferences {
    public var referencedFiles: [(item: String, path: String)] {
        var files: [(item: String, path: String)] = []
        for (i, item) in items.enumerated() {
            files.append(("items[\(i)].crop", item.crop))
            if let mask = item.mask { files.append(("items[\(i)].mask", mask)) }
        }
        return files
    }
}

extension DatasetManifest: ManifestFileReferences {
    public var referencedFiles: [(item: String, path: String)] {
        var files: [(item: String, path: String)] = []
        for (i, item) in items.enumerated() {
            files.append(("items[\(i)].crop", item.crop))
            if let mask = item.mask { files.append(("items[\(i)].mask", mask)) }
        }
        return files
    }
}

extension ModelManifest: ManifestFileReferences {
    public var referencedFiles: [(item: String, path: String)] { [("weights.path", weights.path)] }
}

extension ManifestIO {
    /// The folder a manifest's file references must stay inside: the nearest folder at or above the
    /// manifest's own that holds a `catalog.sqlite` (the workspace it was written in); without one, the
    /// manifest's folder (its parent when that folder is a workspace's `Manifests/`). Symlinks resolved.
    public static func confinementRoot(forManifest manifest: URL) -> URL {
        let folder = URL(fileURLWithPath: realPath(manifest.deletingLastPathComponent().standardizedFileURL.path))
        var candidate = folder
        while true {
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("catalog.sqlite").path) { return candidate }
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path || candidate.path == "/" { break }
            candidate = parent
        }
        return folder.lastPathComponent == "Manifests" ? folder.deletingLastPathComponent() : folder
    }

    /// Checks that every file `manifest` references resolves (symlinks followed) inside
    /// `confinementRoot(forManifest:)` or one of `TrustedFolders` (the tool's workspace); throws `ManifestError.outsideWorkspace` naming the first that does not.
    public static func checkConfined(_ manifest: ManifestFileReferences, at url: URL) throws {
        let files = manifest.referencedFiles
        guard !files.isEmpty else { return }
        let root = confinementRoot(forManifest: url).path
        let prefixes = ([root] + TrustedFolders.all.map { realPath($0.path) }).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        for (item, path) in files {
            guard !path.isEmpty, !path.contains("\0") else {
                throw ManifestError.outsideWorkspace(path: url.path, item: item, target: path, root: root)
            }
            let resolved = realPath(resolve(path, relativeToManifest: url).path)
            guard prefixes.contains(where: { resolved.hasPrefix($0) }) else {
                throw ManifestError.outsideWorkspace(path: url.path, item: item, target: path, root: root)
            }
        }
    }

    /// `path` with every symlink in its longest existing prefix resolved (`realpath`), the missing rest
    /// appended as written (already standardized: no `.` or `..`).
    static func realPath(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        var existing = URL(fileURLWithPath: path).standardizedFileURL
        var rest: [String] = []
        while true {
            if let resolved = realpath(existing.path, nil) {
                defer { free(resolved) }
                var url = URL(fileURLWithPath: String(cString: resolved))
                for part in rest.reversed() { url.appendPathComponent(part) }
                return url.standardizedFileURL.path
            }
            let parent = existing.deletingLastPathComponent()
            if parent.path == existing.path { return path }
            rest.append(existing.lastPathComponent)
            existing = parent
        }
    }
}
