import Foundation
import Media

/// Small image helpers for previews: float buffers to images, and grids of equal-size tiles.
public enum ImageGrid {
    /// `side`·`side`·3 floats 0…1 (RGB interleaved) → an image, rounded half up and clamped.
    public static func image(_ values: UnsafePointer<Float>, side: Int) -> RGBImage {
        let count = side * side * 3
        var pixels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let v = values[i]
            pixels[i] = v.isNaN ? 0 : UInt8(min(max((v * 255 + 0.5).rounded(.down), 0), 255))
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    /// A one-channel `side`·`side` float mask 0…1 as a grey image.
    public static func grayImage(_ values: UnsafePointer<Float>, side: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for i in 0..<(side * side) {
            let v = values[i]
            let byte = v.isNaN ? 0 : UInt8(min(max((v * 255 + 0.5).rounded(.down), 0), 255))
            pixels[3 * i] = byte; pixels[3 * i + 1] = byte; pixels[3 * i + 2] = byte
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    /// `side`·`side`·3 floats (RGB) → an image; black when the count does not fit.
    public static func image(_ values: [Float], side: Int) -> RGBImage {
        guard values.count == side * side * 3 else { return RGBImage(width: side, height: side) }
        return values.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { image($0, side: side) } ?? RGBImage(width: side, height: side)
        }
    }

    /// `side`·`side` floats → a grey image; black when the count does not fit.
    public static func grayImage(_ values: [Float], side: Int) -> RGBImage {
        guard values.count == side * side else { return RGBImage(width: side, height: side) }
        return values.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { grayImage($0, side: side) } ?? RGBImage(width: side, height: side)
        }
    }

    /// Rows of tiles (each tile `tile`×`tile`; smaller or larger images are area-resized) separated by `gap`
    /// pixels of `background`. Short rows are padded with background.
    public static func compose(_ rows: [[RGBImage]], tile: Int, gap: Int = 2, background: (UInt8, UInt8, UInt8) = (32, 32, 32)) -> RGBImage {
        let columns = max(1, rows.map(\.count).max() ?? 1), rowCount = max(1, rows.count)
        let width = columns * tile + (columns + 1) * gap, height = rowCount * tile + (rowCount + 1) * gap
        var canvas = RGBImage(width: width, height: height, fill: background)
        for (r, row) in rows.enumerated() {
            for (c, image) in row.enumerated() {
                let fitted = image.width == tile && image.height == tile ? image.pixels
                    : image.width == image.height ? AreaResize.resize(image.pixels, side: image.width, channels: 3, to: tile) : nil
                guard let fitted else { continue }
                let x0 = gap + c * (tile + gap), y0 = gap + r * (tile + gap)
                for y in 0..<tile {
                    let d = ((y0 + y) * width + x0) * 3
                    canvas.pixels.replaceSubrange(d..<(d + tile * 3), with: fitted[(y * tile * 3)..<((y + 1) * tile * 3)])
                }
            }
        }
        return canvas
    }
}
