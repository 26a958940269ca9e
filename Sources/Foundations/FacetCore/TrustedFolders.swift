import Foundation

/// Folders whose files manifests may name besides their own tree: the tool's `--workspace` (registered by
/// `CommonOptions`). `Manifest.ManifestIO.read` confines every file path a manifest lists to these folders
/// and the manifest's own workspace.
public enum TrustedFolders {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var folders: [URL] = []

    /// Adds `folder` (absolute) to the trusted folders of this process.
    public static func add(_ folder: URL) {
        lock.lock()
        defer { lock.unlock() }
        let url = folder.standardizedFileURL
        if !folders.contains(url) { folders.append(url) }
    }

    /// The trusted folders, in the order added.
    public static var all: [URL] {
        lock.lock()
        defer { lock.unlock() }
        return folders
    }
}
