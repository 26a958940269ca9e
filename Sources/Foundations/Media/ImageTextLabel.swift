import Foundation

/// Writes a text label into an encoded image's own metadata: a PNG `tEXt` chunk (keyword `Comment`) right
/// after the header chunk, or a JPEG comment (`COM`) segment right after the start-of-image marker. Image
/// viewers and `exiftool`/`identify -verbose` show it; the pixels are not touched.
public enum ImageTextLabel {
    /// `data` (PNG or JPEG, as `format` says) with `text` added; unchanged when it is not a well-formed file of
    /// that format. Text longer than a JPEG segment allows (65,533 bytes) is cut.
    public static func insert(_ text: String, into data: Data, format: ImageFormat, keyword: String = "Comment") -> Data {
        let bytes = [UInt8](data)
        switch format {
        case .png:
            // Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC = 25).
            guard bytes.count >= 33, bytes[12...15].elementsEqual(Array("IHDR".utf8)) else { return data }
            let body = Array(keyword.utf8.prefix(79)) + [0] + Array(text.utf8)
            let type = Array("tEXt".utf8)
            var chunk = bigEndian(UInt32(body.count)) + type + body
            chunk += bigEndian(crc32(type + body))
            return Data(bytes[0..<33] + chunk + bytes[33...])
        case .jpeg:
            guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return data }
            let payload = Array(Array(text.utf8).prefix(65_533))
            let length = UInt16(payload.count + 2)
            let segment: [UInt8] = [0xFF, 0xFE, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
            return Data(bytes[0..<2] + segment + bytes[2...])
        default:
            return data
        }
    }

    /// The text of the first PNG `tEXt` chunk or JPEG `COM` segment, if any.
    public static func read(from data: Data) -> String? {
        let bytes = [UInt8](data)
        if bytes.count > 8, bytes[1...3].elementsEqual(Array("PNG".utf8)) {
            var i = 8
            while i + 8 <= bytes.count {
                let n = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
                guard n >= 0, i + 12 + n <= bytes.count else { return nil }
                if bytes[(i + 4)..<(i + 8)].elementsEqual(Array("tEXt".utf8)) {
                    let body = bytes[(i + 8)..<(i + 8 + n)]
                    guard let zero = body.firstIndex(of: 0) else { return nil }
                    return String(decoding: body[(zero + 1)...], as: UTF8.self)
                }
                i += 12 + n
            }
            return nil
        }
        if bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8 {
            var i = 2
            while i + 4 <= bytes.count, bytes[i] == 0xFF {
                let marker = bytes[i + 1], n = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
                guard n >= 2, i + 2 + n <= bytes.count else { return nil }
                if marker == 0xFE { return String(decoding: bytes[(i + 4)..<(i + 2 + n)], as: UTF8.self) }
                if marker == 0xDA { return nil }
                i += 2 + n
            }
        }
        return nil
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// PNG's CRC-32 (ISO 3309).
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
