import Foundation

/// Facet's one image-grid composer (previews, contact sheets), and float buffers to images.
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

    /// Rows of tiles (each tile `tile`×`tile`; images of another size are area-resized to it) separated by
    /// `gap` pixels of `background`, with `margin` pixels (default: `gap`) around the whole grid. Short rows
    /// are padded with background; a nil tile is drawn in `missing` colour (or left as background).
    public static func compose(_ rows: [[RGBImage?]], tile: Int, gap: Int = 2, margin: Int? = nil,
                               background: (UInt8, UInt8, UInt8) = (32, 32, 32), missing: (UInt8, UInt8, UInt8)? = nil) -> RGBImage {
        let tile = max(1, tile), margin = margin ?? gap
        let columns = max(1, rows.map(\.count).max() ?? 1), rowCount = max(1, rows.count)
        let width = columns * tile + (columns - 1) * gap + 2 * margin, height = rowCount * tile + (rowCount - 1) * gap + 2 * margin
        var canvas = Canvas(width: width, height: height, background: background)
        for (r, row) in rows.enumerated() {
            for (c, image) in row.enumerated() {
                let x0 = margin + c * (tile + gap), y0 = margin + r * (tile + gap)
                if let image, image.width > 0, image.height > 0 {
                    canvas.draw(image.width == tile && image.height == tile ? image : image.areaResized(width: tile, height: tile), x: x0, y: y0)
                } else if let missing {
                    canvas.fill(x: x0, y: y0, width: tile, height: tile, missing)
                }
            }
        }
        return canvas.image
    }

    /// `compose` for rows without missing tiles.
    public static func compose(_ rows: [[RGBImage]], tile: Int, gap: Int = 2, margin: Int? = nil,
                               background: (UInt8, UInt8, UInt8) = (32, 32, 32)) -> RGBImage {
        compose(rows.map { $0.map(Optional.some) }, tile: tile, gap: gap, margin: margin, background: background)
    }
}
