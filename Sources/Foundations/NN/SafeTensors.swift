#if canImport(Glibc)
import Glibc
#endif
import FacetCore
import Foundation
import Tensor

/// The safetensors format (readable by PyTorch, JAX, TensorFlow and others): an 8-byte little-endian
/// header length N, N bytes of JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}, …,
/// "__metadata__": {string: string}}` padded with spaces to a multiple of 8, then the raw little-endian
/// tensor bytes, offsets relative to the end of the header. Facet writes and reads F32 only.
public enum SafeTensors {
    /// A decoded file: tensors in file order and the free-form string metadata.
    public struct Contents: Equatable {
        public var tensors: [(name: String, tensor: Tensor)]
        public var metadata: [String: String]

        public init(tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
            self.tensors = tensors
            self.metadata = metadata
        }

        public subscript(name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

        public static func == (l: Contents, r: Contents) -> Bool {
            l.metadata == r.metadata && l.tensors.map(\.name) == r.tensors.map(\.name) && l.tensors.map(\.tensor) == r.tensors.map(\.tensor)
        }
    }

    /// The file's bytes. Throws on duplicate names.
    public static func encode(_ contents: Contents) throws -> Data {
        var data = try header(contents)
        for (_, tensor) in contents.tensors {
            tensor.data.withUnsafeBytes { data.append(contentsOf: $0) }   // x86-64 and arm64 are little-endian
        }
        return data
    }

    /// The 8-byte length and the padded JSON header.
    static func header(_ contents: Contents) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, tensor) in contents.tensors {
            guard header[name] == nil, name != "__metadata__" else {
                throw NNError.invalidConfiguration("safetensors: duplicate or reserved tensor name \(name)")
            }
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + tensor.count * 4]] as [String: Any]
            offset += tensor.count * 4
        }
        if !contents.metadata.isEmpty { header["__metadata__"] = contents.metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var data = Data(capacity: 8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        return data
    }

    /// One tensor's place in a file: F32, `shape`, bytes `begin..<end` after the header.
    public struct Entry: Equatable, Sendable {
        public let name: String
        public let shape: [Int]
        let begin: Int, end: Int
    }

    /// A file's header: its tensors in file order and its metadata.
    public struct Header: Sendable {
        public let entries: [Entry]
        public let metadata: [String: String]
        /// Where the tensor bytes start (8 + the JSON header's length).
        let bodyStart: Int
    }

    /// Parses the JSON header; checks every entry's dtype, shape and offsets against `bodyLength` data bytes.
    static func parseHeader(_ json: Data, bodyStart: Int, bodyLength: Int, path: String) throws -> Header {
        func fail(_ reason: String) -> NNError { .checkpointUnreadable(path: path, reason: reason) }
        guard let header = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let dictionary = raw as? [String: String] else { throw fail("__metadata__ is not a map of strings") }
            metadata = dictionary
        }
        var entries: [Entry] = []
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor \(name): entry lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw fail("tensor \(name): dtype \(dtype) (only F32 is supported)") }
            // Element count, refusing negative sizes and products that overflow.
            var elements: Int? = 1
            for size in shape {
                guard let soFar = elements, size >= 0 else { elements = nil; break }
                let (product, overflow) = soFar.multipliedReportingOverflow(by: size)
                elements = overflow || product > Int(Int32.max) ? nil : product
            }
            guard let elements else { throw fail("tensor \(name): invalid shape \(shape)") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= bodyLength else {
                throw fail("tensor \(name): bytes \(begin)..<\(end) lie outside the \(bodyLength) data bytes (truncated?)")
            }
            guard end - begin == elements * 4 else {
                throw fail("tensor \(name): \(end - begin) bytes do not hold shape \(shape) of F32")
            }
            entries.append(Entry(name: name, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        return Header(entries: entries, metadata: metadata, bodyStart: bodyStart)
    }

    /// The header length from the first 8 bytes, checked against the file size.
    static func headerLength(_ prefix: Data, fileSize: Int, path: String) throws -> Int {
        guard fileSize >= 8, prefix.count >= 8 else {
            throw NNError.checkpointUnreadable(path: path, reason: "\(fileSize) bytes, shorter than the 8-byte header length")
        }
        let length = prefix.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length <= UInt64(fileSize - 8) else {
            throw NNError.checkpointUnreadable(path: path, reason: "header of \(length) bytes runs past the end of the \(fileSize)-byte file (truncated?)")
        }
        return Int(length)
    }

    /// Decodes a file's bytes; `path` names the file in errors. Every offset and shape is checked.
    public static func decode(_ data: Data, path: String) throws -> Contents {
        let length = try headerLength(data, fileSize: data.count, path: path)
        let bodyStart = 8 + length
        let json = data.subdata(in: data.startIndex + 8 ..< data.startIndex + bodyStart)
        let header = try parseHeader(json, bodyStart: bodyStart, bodyLength: data.count - bodyStart, path: path)
        let tensors: [(name: String, tensor: Tensor)] = header.entries.map { entry in
            let count = (entry.end - entry.begin) / 4
            let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                data.withUnsafeBytes { raw in
                    let source = UnsafeRawBufferPointer(rebasing: raw[(bodyStart + entry.begin)..<(bodyStart + entry.end)])
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
                }
                initialized = count
            }
            return (entry.name, Tensor(shape: entry.shape, data: values))
        }
        return Contents(tensors: tensors, metadata: header.metadata)
    }

    /// An open file: the header is read and checked at once, tensors are read on demand straight into the
    /// caller's memory (loading a checkpoint needs no second copy of it).
    public final class Reader {
        public let header: Header
        public let path: String
        private let fd: Int32

        public init(_ url: URL) throws {
            path = url.path
            guard FileManager.default.fileExists(atPath: path) else { throw NNError.checkpointMissing(path: path) }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw NNError.checkpointUnreadable(path: path, reason: String(cString: strerror(errno))) }
            var info = stat()
            let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
            do {
                var prefix = [UInt8](repeating: 0, count: 8)
                let got = try Self.read(fd, path: path, into: &prefix, at: 0)
                let length = try headerLength(Data(prefix[0..<got]), fileSize: size, path: path)
                var json = [UInt8](repeating: 0, count: length)
                _ = try Self.read(fd, path: path, into: &json, at: 8)
                header = try parseHeader(Data(json), bodyStart: 8 + length, bodyLength: size - 8 - length, path: path)
            } catch {
                close(fd)
                throw error
            }
        }

        deinit { close(fd) }

        /// Reads `entry`'s values into `destination` (room for all of them).
        public func read(_ entry: Entry, into destination: UnsafeMutablePointer<Float>) throws {
            let buffer = UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(destination), count: entry.end - entry.begin)
            let got = try Self.read(fd, path: path, into: buffer, at: header.bodyStart + entry.begin)
            guard got == buffer.count else {
                throw NNError.checkpointUnreadable(path: path, reason: "tensor \(entry.name): file ended after \(got) of \(buffer.count) bytes")
            }
        }

        /// Reads the entry as a new tensor.
        public func tensor(_ entry: Entry) throws -> Tensor {
            var tensor = Tensor(zeros: entry.shape)
            try tensor.withMutablePointer { try read(entry, into: $0) }
            return tensor
        }

        private static func read(_ fd: Int32, path: String, into bytes: inout [UInt8], at offset: Int) throws -> Int {
            try bytes.withUnsafeMutableBytes { try read(fd, path: path, into: $0, at: offset) }
        }

        /// `pread` until the buffer is full or the file ends; returns the bytes read.
        private static func read(_ fd: Int32, path: String, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
            var done = 0
            while done < buffer.count, let base = buffer.baseAddress {
                let n = pread(fd, base + done, min(buffer.count - done, 1 << 26), off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw NNError.checkpointUnreadable(path: path, reason: String(cString: strerror(errno)))
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
    }

    /// Reads a whole file.
    public static func read(_ url: URL) throws -> Contents {
        let reader = try Reader(url)
        return Contents(tensors: try reader.header.entries.map { ($0.name, try reader.tensor($0)) }, metadata: reader.header.metadata)
    }

    /// Writes atomically, as `AtomicFile` does (temporary file in the same folder, fsync, rename; on any
    /// failure the temporary file is removed and the destination left as it was), but streams the tensors
    /// straight from memory: a 1.5 GB checkpoint needs no 1.5 GB copy.
    public static func write(_ contents: Contents, to url: URL) throws {
        let head = try header(contents)
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw FileError.writeFailed(path: directory.path, reason: "cannot create folder: \(error.localizedDescription)")
        }
        let path = url.path
        let temporary: TemporaryFile.Handle
        do { temporary = try TemporaryFile.create(for: url) } catch let error as TemporaryFile.OpenError { throw writeError(path, error.code) }
        let fd = temporary.fd
        var failure: Error?
        func put(_ bytes: UnsafeRawBufferPointer) {
            var offset = 0
            while failure == nil, offset < bytes.count, let base = bytes.baseAddress {
                let written = Glibc.write(fd, base + offset, min(bytes.count - offset, 1 << 26))
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = writeError(path, errno)
                } else {
                    offset += written
                }
            }
        }
        head.withUnsafeBytes { put($0) }
        for (_, tensor) in contents.tensors where failure == nil { tensor.data.withUnsafeBytes { put($0) } }
        if failure == nil, fsync(fd) != 0 { failure = writeError(path, errno) }
        // Renamed while still open and locked (see `TemporaryFile`).
        if failure == nil, rename(temporary.path, path) != 0 { failure = writeError(path, errno) }
        if let failure {
            TemporaryFile.discard(temporary)
            throw failure
        }
        if TemporaryFile.finish(temporary) != 0 { throw writeError(path, errno) }
    }

    private static func writeError(_ path: String, _ code: Int32) -> FileError {
        code == ENOSPC || code == EDQUOT ? .diskFull(path: path) : .writeFailed(path: path, reason: String(cString: strerror(code)))
    }
}
