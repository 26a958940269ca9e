import FacetCore

/// Errors from loading a model file; each names the file.
public enum ModelError: FacetError, Equatable {
    /// The model file is not where it was looked for.
    case missing(path: String, hint: String)
    /// The file is not a valid model of the expected kind (truncated, corrupt, wrong format).
    case malformed(path: String, reason: String)
    /// The file's checksum is not the pinned one.
    case checksumMismatch(path: String, expected: String, found: String, hint: String)
    /// The model uses an operator Facet does not implement.
    case unsupportedOperator(path: String, name: String)
    /// The input given to a model has the wrong size.
    case badInput(reason: String)

    public var exitStatus: ExitStatus {
        switch self {
        case .missing: return .noInput
        case .malformed, .checksumMismatch, .unsupportedOperator, .badInput: return .dataError
        }
    }

    public var description: String {
        switch self {
        case .missing(let p, let hint): return "\(p): model file not found; \(hint)"
        case .malformed(let p, let r): return "\(p): not a valid model file: \(r)"
        case .checksumMismatch(let p, let e, let f, let hint): return "\(p): model file is corrupt (SHA-256 \(f), expected \(e)); \(hint)"
        case .unsupportedOperator(let p, let n): return "\(p): uses the operator \(n), which Facet does not implement"
        case .badInput(let r): return "bad model input: \(r)"
        }
    }
}

/// A read-only, bounds-checked view of a FlatBuffers buffer. Every accessor throws on an offset outside
/// the buffer, so a truncated or bit-flipped file gives an error, never a crash.
struct FlatBuffer {
    let bytes: [UInt8]
    let path: String

    func fail(_ reason: String) -> ModelError { .malformed(path: path, reason: reason) }

    func u8(_ at: Int) throws -> UInt8 {
        guard at >= 0, at < bytes.count else { throw fail("offset \(at) is past the end of the file (\(bytes.count) bytes)") }
        return bytes[at]
    }

    func u16(_ at: Int) throws -> UInt16 {
        guard at >= 0, at + 2 <= bytes.count else { throw fail("offset \(at) is past the end of the file (\(bytes.count) bytes)") }
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    func u32(_ at: Int) throws -> UInt32 {
        guard at >= 0, at + 4 <= bytes.count else { throw fail("offset \(at) is past the end of the file (\(bytes.count) bytes)") }
        return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    func i32(_ at: Int) throws -> Int32 { Int32(bitPattern: try u32(at)) }

    func u64(_ at: Int) throws -> UInt64 { UInt64(try u32(at)) | UInt64(try u32(at + 4)) << 32 }

    func f32(_ at: Int) throws -> Float { Float(bitPattern: try u32(at)) }

    /// The root table's position.
    func root() throws -> Table {
        let offset = Int(try u32(0))
        return try Table(buffer: self, position: offset)
    }

    /// A table: its position and its vtable.
    struct Table {
        let buffer: FlatBuffer
        let position: Int
        let vtable: Int
        let vtableSize: Int

        init(buffer: FlatBuffer, position: Int) throws {
            self.buffer = buffer
            self.position = position
            let soffset = Int(try buffer.i32(position))
            vtable = position - soffset
            vtableSize = Int(try buffer.u16(vtable))
            guard vtableSize >= 4, vtableSize % 2 == 0 else { throw buffer.fail("bad vtable at \(vtable)") }
            _ = try buffer.u16(vtable + vtableSize - 2)
        }

        /// Absolute position of field `index`, or nil when absent.
        func field(_ index: Int) throws -> Int? {
            let entry = 4 + 2 * index
            guard entry < vtableSize else { return nil }
            let offset = Int(try buffer.u16(vtable + entry))
            return offset == 0 ? nil : position + offset
        }

        func int32(_ index: Int, default value: Int32 = 0) throws -> Int32 {
            guard let at = try field(index) else { return value }
            return try buffer.i32(at)
        }

        func uint32(_ index: Int, default value: UInt32 = 0) throws -> UInt32 {
            guard let at = try field(index) else { return value }
            return try buffer.u32(at)
        }

        func uint8(_ index: Int, default value: UInt8 = 0) throws -> UInt8 {
            guard let at = try field(index) else { return value }
            return try buffer.u8(at)
        }

        func bool(_ index: Int) throws -> Bool { try uint8(index) != 0 }

        func float(_ index: Int, default value: Float = 0) throws -> Float {
            guard let at = try field(index) else { return value }
            return try buffer.f32(at)
        }

        /// Position of the object a reference field points to.
        private func reference(_ index: Int) throws -> Int? {
            guard let at = try field(index) else { return nil }
            return at + Int(try buffer.u32(at))
        }

        func table(_ index: Int) throws -> Table? {
            guard let at = try reference(index) else { return nil }
            return try Table(buffer: buffer, position: at)
        }

        func string(_ index: Int) throws -> String? {
            guard let at = try reference(index) else { return nil }
            let length = Int(try buffer.u32(at))
            guard at + 4 + length <= buffer.bytes.count else { throw buffer.fail("string at \(at) runs past the end") }
            return String(decoding: buffer.bytes[(at + 4)..<(at + 4 + length)], as: UTF8.self)
        }

        /// A vector field: its element count and the position of its first element.
        func vector(_ index: Int, elementSize: Int) throws -> (count: Int, start: Int)? {
            guard let at = try reference(index) else { return nil }
            let count = Int(try buffer.u32(at))
            guard count >= 0, at + 4 + count * elementSize <= buffer.bytes.count else {
                throw buffer.fail("vector at \(at) with \(count) elements runs past the end")
            }
            return (count, at + 4)
        }

        func int32Vector(_ index: Int) throws -> [Int32] {
            guard let (count, start) = try vector(index, elementSize: 4) else { return [] }
            return try (0..<count).map { try buffer.i32(start + 4 * $0) }
        }

        func tableVector(_ index: Int) throws -> [Table] {
            guard let (count, start) = try vector(index, elementSize: 4) else { return [] }
            return try (0..<count).map { i in
                let at = start + 4 * i
                return try Table(buffer: buffer, position: at + Int(try buffer.u32(at)))
            }
        }

        /// A `[ubyte]` field as a range of the buffer.
        func byteRange(_ index: Int) throws -> Range<Int>? {
            guard let (count, start) = try vector(index, elementSize: 1) else { return nil }
            return start..<(start + count)
        }
    }
}
