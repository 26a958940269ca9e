import Foundation

/// A dlib tensor as stored in a `.dat` file: `shape` is `[num_samples, k, nr, nc]` and `values` are in
/// NCHW order.
public struct DlibTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// A bounds-checked reader of dlib's binary serialization format (`dlib/serialize.h`). Every read
/// throws `ModelError.malformed(path:reason:)` naming the file and the byte offset when the bytes are
/// truncated or invalid, and every count is capped by the bytes that remain, so a corrupt file gives an
/// error, never a crash, a hang or a huge allocation.
public struct DlibReader {
    public let path: String
    public let bytes: [UInt8]
    /// Offset of the next unread byte.
    public private(set) var offset: Int = 0

    public init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// Reads the whole file. A file that is not there gives `ModelError.missing` with the setup hint.
    public init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelError.missing(path: url.path, hint: ModelStore.setupHint)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ModelError.malformed(path: url.path, reason: "cannot be read: \(error.localizedDescription)")
        }
        self.init(bytes: [UInt8](data), path: url.path)
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    /// The error for a problem at the current offset.
    public func failure(_ reason: String) -> ModelError {
        .malformed(path: path, reason: "\(reason) (at byte \(offset) of \(bytes.count))")
    }

    /// Throws unless every byte has been read.
    public func expectEnd() throws {
        if !isAtEnd { throw failure("\(remaining) unexpected trailing bytes") }
    }

    private mutating func byte(_ what: @autoclosure () -> String) throws -> UInt8 {
        guard offset < bytes.count else { throw failure("file ends while reading \(what())") }
        defer { offset += 1 }
        return bytes[offset]
    }

    // MARK: primitives

    /// An integer of any C++ integral type: a control byte `C` (`C & 0x0F` = byte count 1...8, `C & 0x80`
    /// = negative, bits `0x70` zero) then that many little-endian bytes of the magnitude.
    public mutating func readInt() throws -> Int {
        guard offset < bytes.count else { throw failure("file ends while reading an integer") }
        let control = bytes[offset]
        let count = Int(control & 0x0F)
        guard count >= 1, count <= 8, control & 0x70 == 0 else {
            throw failure(String(format: "bad integer control byte 0x%02x", control))
        }
        guard count < bytes.count - offset else { throw failure("file ends inside an integer") }
        var magnitude: UInt64 = 0
        var i = offset + count
        while i > offset { magnitude = magnitude << 8 | UInt64(bytes[i]); i -= 1 }
        guard magnitude <= UInt64(Int64.max) else { throw failure("integer out of range") }
        offset += count + 1
        let value = Int(magnitude)
        return control & 0x80 != 0 ? -value : value
    }

    /// An integer that must lie in `range` (e.g. a version, a size or an index).
    public mutating func readInt(in range: ClosedRange<Int>, _ what: String) throws -> Int {
        let start = offset
        let value = try readInt()
        guard range.contains(value) else {
            offset = start
            throw failure("\(what) is \(value), expected \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)...\(range.upperBound)")")
        }
        return value
    }

    /// A dlib `float`/`double`: an int64 mantissa, then an int16 exponent; the value is
    /// `ldexp(mantissa, exponent)`, with exponents 32000/32001/32002 meaning +inf/-inf/NaN.
    public mutating func readFloat() throws -> Double {
        let start = offset
        guard offset < bytes.count else { throw failure("file ends while reading a float") }
        guard bytes[offset] & 0x70 == 0 else {
            throw failure("float in dlib's legacy ASCII format (not supported)")
        }
        let mantissa = try readInt()
        let exponent = try readInt()
        switch exponent {
        case 32000: return .infinity
        case 32001: return -.infinity
        case 32002: return .nan
        case Int(Int16.min)...Int(Int16.max):
            return Double(sign: .plus, exponent: exponent, significand: Double(mantissa))
        default:
            offset = start
            throw failure("float exponent \(exponent) out of range")
        }
    }

    /// `bool`: one ASCII byte, `'1'` or `'0'`.
    public mutating func readBool() throws -> Bool {
        let value = try byte("a bool")
        switch value {
        case 0x31: return true
        case 0x30: return false
        default:
            offset -= 1
            throw failure(String(format: "bad bool byte 0x%02x", value))
        }
    }

    /// An element count (of a vector, string or matrix) whose elements take at least `minimumBytes`
    /// each: it must fit in what is left of the file.
    public mutating func readCount(minimumBytes: Int = 1, _ what: String = "vector") throws -> Int {
        let start = offset
        let count = try readInt()
        guard count >= 0, count <= remaining / max(minimumBytes, 1) else {
            offset = start
            throw failure("\(what) length \(count) does not fit in the \(remaining) bytes left")
        }
        return count
    }

    /// `std::string`: a length, then the raw bytes.
    public mutating func readString() throws -> String {
        let count = try readCount(minimumBytes: 1, "string")
        defer { offset += count }
        return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self)
    }

    /// `std::vector<T>`: a length, then the elements, each read by `element`. `minimumBytes` is the
    /// least any element can take (an integer 2, a float 4), which caps the length by the bytes left.
    public mutating func readVector<T>(minimumBytes: Int = 1, _ element: (inout DlibReader) throws -> T) throws -> [T] {
        let count = try readCount(minimumBytes: minimumBytes)
        var out: [T] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try element(&self)) }
        return out
    }

    /// `matrix<float>`: `-rows`, `-cols` (negated in the current format; positive in the old one), then
    /// the elements in row-major order, each a dlib float.
    public mutating func readFloatMatrix() throws -> (rows: Int, cols: Int, values: [Float]) {
        var values: [Float] = []
        let (rows, cols) = try readFloatMatrix(appendingTo: &values)
        return (rows, cols, values)
    }

    /// `readFloatMatrix`, appending the elements to `values` and returning the size.
    public mutating func readFloatMatrix(appendingTo values: inout [Float]) throws -> (rows: Int, cols: Int) {
        let start = offset
        let r = try readInt(), c = try readInt()
        let rows = abs(r), cols = abs(c)
        let (count, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard !overflow, (r < 0) == (c < 0) || rows == 0 || cols == 0, count <= remaining / 4 else {
            offset = start
            throw failure("matrix size \(rows)x\(cols) does not fit in the \(remaining) bytes left")
        }
        if values.isEmpty { values.reserveCapacity(count) }   // (not when appending: that would defeat geometric growth)
        for _ in 0..<count { values.append(Float(try readFloat())) }
        return (rows, cols)
    }

    /// `dlib::vector<float,2>`: x then y.
    public mutating func readPoint() throws -> SIMD2<Float> {
        let x = Float(try readFloat())
        return SIMD2(x, Float(try readFloat()))
    }

    /// `resizable_tensor`: version 2, the four dimensions, then the raw little-endian float32 values.
    public mutating func readTensor() throws -> DlibTensor {
        _ = try readInt(in: 2...2, "tensor version")
        let start = offset
        var shape: [Int] = []
        var count = 1
        for _ in 0..<4 {
            let d = try readInt()
            let (product, overflow) = count.multipliedReportingOverflow(by: max(d, 0))
            guard d >= 0, !overflow, product <= remaining / 4 else {
                offset = start
                throw failure("tensor dimension \(d) (of \(shape + [d])) does not fit in the \(remaining) bytes left")
            }
            shape.append(d)
            count = product
        }
        guard count * 4 <= remaining else { throw failure("tensor of \(count) floats does not fit in the \(remaining) bytes left") }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            values.withUnsafeMutableBytes { out in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * 4)]))
            }
        }
        #if _endian(big)
        for i in 0..<count { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        #endif
        offset += count * 4
        return DlibTensor(shape: shape, values: values)
    }

    /// `alias_tensor`: version 1 and the four dimensions (a view into a layer's params, no data).
    public mutating func readAliasTensor() throws -> [Int] {
        _ = try readInt(in: 1...1, "alias_tensor version")
        var shape: [Int] = []
        for _ in 0..<4 { shape.append(try readInt(in: 0...Int(Int32.max), "alias_tensor dimension")) }
        return shape
    }
}
