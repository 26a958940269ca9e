import FacetCore
import Foundation

/// One unit of `fetch-frames` input: a video file, or a set of image files imported as frames.
public enum InputUnit {
    case video(URL)
    /// A folder (or a single image file): `files` in name order.
    case images(root: URL, files: [URL])

    public var url: URL {
        switch self {
        case .video(let u): return u
        case .images(let root, _): return root
        }
    }

    public var kind: String {
        if case .video = self { return "video" }
        return "images"
    }

    /// A short name for output folders: the file or folder name without extension.
    public var stem: String {
        let name = url.deletingPathExtension().lastPathComponent
        let cleaned = name.replacingOccurrences(of: "/", with: "_")
        return cleaned.isEmpty ? "input" : cleaned
    }

    /// The files of `folder` (not its subfolders' or hidden ones) whose extension `keeps`, in byte order of their names.
    public static func folderEntries(_ folder: URL, keeping keeps: (String) -> Bool) throws -> [URL] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw FileError.unreadable(path: folder.path, reason: error.localizedDescription)
        }
        return names.filter { !$0.hasPrefix(".") && keeps(($0 as NSString).pathExtension.lowercased()) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { folder.appendingPathComponent($0) }
    }

    /// The error for a folder holding no image Facet reads (exit 66); it counts the HEIC/HEIF and AVIF photos
    /// the folder holds, which need converting first.
    public static func noImages(in folder: URL) -> FileError {
        let unreadable = (try? folderEntries(folder) { unreadableStillExtensions.contains($0) })?.count ?? 0
        let hint = unreadable == 0 ? "" : "; its \(unreadable) HEIC/HEIF or AVIF photo\(unreadable == 1 ? "" : "s") cannot be read: "
            + conversionAdvice
        return FileError.unreadable(path: folder.path, reason: "folder holds no images (png, jpg, webp or bmp)" + hint)
    }

    /// Extensions of still-image formats FFmpeg 5.1 cannot decode as pictures (HEIF/HEIC from phones, AVIF).
    static let unreadableStillExtensions: Set = ["heic", "heif", "hif", "avif"]

    /// What to do with such a photo.
    static let conversionAdvice = "convert to JPEG or PNG first, e.g. with heif-convert (Debian's libheif-examples)"

    /// Classifies each path: folders become image sets, image files one-image sets, HEIC/HEIF and AVIF photos
    /// an error (`MediaError.unreadable`, exit 65) that says so, anything else video. A folder's HEIC/HEIF and AVIF
    /// photos beside readable images are left out, and `warn` gets one line saying how many.
    public static func expand(_ inputs: [URL], warn: (String) -> Void = { _ in }) throws -> [InputUnit] {
        var units: [InputUnit] = []
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input.path, isDirectory: &isDirectory) else {
                throw MediaError.missing(path: input.path)
            }
            if isDirectory.boolValue {
                let files = try folderEntries(input) { ImageFormat(fileExtension: $0) != nil }
                let unreadable = (try? folderEntries(input) { unreadableStillExtensions.contains($0) })?.count ?? 0
                if !files.isEmpty, unreadable > 0 {
                    warn("\(input.path): \(unreadable) HEIC/HEIF or AVIF photo\(unreadable == 1 ? "" : "s") left out (this FFmpeg cannot "
                         + "read them); " + conversionAdvice)
                }
                units.append(.images(root: input, files: files))
            } else if ImageFormat(fileExtension: input.pathExtension) != nil {
                units.append(.images(root: input, files: [input]))
            } else if unreadableStillExtensions.contains(input.pathExtension.lowercased()) {
                // A phone's default photo format: said plainly, not as a damaged video.
                throw MediaError.unreadable(path: input.path, reason: "HEIC/HEIF and AVIF photos cannot be read (this FFmpeg decodes "
                    + "neither as a picture); " + conversionAdvice)
            } else {
                units.append(.video(input))
            }
        }
        return units
    }
}
