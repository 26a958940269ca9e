import FacetCore
import Foundation
import Manifest
import Media

/// A contact sheet of a faces manifest, for checking tracks by eye: one row per track (in order of first
/// appearance), a label cell with the track id, then up to `columns` of its crops spread evenly over the
/// track's life. Each track's row has its own colour band, so a face that jumps between people stands out.
public enum ContactSheet {
    /// Renders the sheet. Crops that cannot be read are drawn as grey cells.
    public static func render(_ manifest: FacesManifest, manifestURL: URL, columns: Int = 10, cell: Int = 96, maxTracks: Int = 80) -> RGBImage {
        var order: [Int64] = []
        var byTrack: [Int64: [FaceItem]] = [:]
        for item in manifest.items {
            if byTrack[item.track] == nil { order.append(item.track) }
            byTrack[item.track, default: []].append(item)
        }
        let tracks = Array(order.prefix(maxTracks))
        let columns = max(1, columns), cell = max(16, cell)
        let width = (columns + 1) * cell, height = max(1, tracks.count) * cell
        var sheet = RGBImage(width: width, height: height, fill: (24, 24, 24))
        for (row, track) in tracks.enumerated() {
            let faces = byTrack[track] ?? []
            let colour = palette(row)
            fill(&sheet, x: 0, y: row * cell, width: cell, height: cell, colour: colour)
            drawNumber(&sheet, String(track), x: 6, y: row * cell + 8, scale: max(2, cell / 24))
            drawNumber(&sheet, String(faces.count), x: 6, y: row * cell + cell / 2 + 8, scale: max(1, cell / 48))
            let picks = faces.count <= columns ? Array(faces.indices)
                : (0..<columns).map { $0 * (faces.count - 1) / max(1, columns - 1) }
            for (column, index) in picks.enumerated() {
                let url = ManifestIO.resolve(faces[index].crop, relativeToManifest: manifestURL)
                let x = (column + 1) * cell, y = row * cell
                if let crop = try? ImageDecoder.decode(fileAt: url) {
                    blit(&sheet, resized(crop, to: cell - 4), x: x + 2, y: y + 2)
                } else {
                    fill(&sheet, x: x + 2, y: y + 2, width: cell - 4, height: cell - 4, colour: (90, 90, 90))
                }
                fill(&sheet, x: x, y: y + cell - 3, width: cell, height: 3, colour: colour)
            }
        }
        return sheet
    }

    /// Renders the sheet of the faces manifest at `manifestURL` and writes it as PNG (atomically).
    public static func write(manifestAt manifestURL: URL, to url: URL) throws {
        let manifest = try ManifestIO.read(FacesManifest.self, from: manifestURL)
        let image = render(manifest, manifestURL: manifestURL)
        let data = try ImageEncoder(format: .png).encode(image)
        try AtomicFile.write(data, to: url)
    }

    /// A grid of crops (e.g. one cluster's faces) under a header band showing `number` and the crop count:
    /// `columns` crops per row, at most `maxCrops` spread evenly over `crops`. Unreadable crops are grey cells.
    public static func grid(crops: [URL], number: Int, columns: Int = 8, cell: Int = 96, maxCrops: Int = 48) -> RGBImage {
        let columns = max(1, columns), cell = max(16, cell)
        let picks = crops.count <= maxCrops ? Array(crops.indices) : (0..<maxCrops).map { $0 * (crops.count - 1) / max(1, maxCrops - 1) }
        let rows = max(1, (picks.count + columns - 1) / columns)
        let header = cell / 2
        var sheet = RGBImage(width: columns * cell, height: header + rows * cell, fill: (24, 24, 24))
        fill(&sheet, x: 0, y: 0, width: columns * cell, height: header, colour: palette(number))
        drawNumber(&sheet, String(number), x: 8, y: 8, scale: max(2, header / 12))
        drawNumber(&sheet, String(crops.count), x: columns * cell / 2, y: 8, scale: max(2, header / 12))
        for (k, index) in picks.enumerated() {
            let x = (k % columns) * cell, y = header + (k / columns) * cell
            if let crop = try? ImageDecoder.decode(fileAt: crops[index]) {
                blit(&sheet, resized(crop, to: cell - 4), x: x + 2, y: y + 2)
            } else {
                fill(&sheet, x: x + 2, y: y + 2, width: cell - 4, height: cell - 4, colour: (90, 90, 90))
            }
        }
        return sheet
    }

    static func palette(_ i: Int) -> (UInt8, UInt8, UInt8) {
        let colours: [(UInt8, UInt8, UInt8)] = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                                                (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]
        return colours[i % colours.count]
    }

    /// Area-averaged square resize.
    static func resized(_ image: RGBImage, to side: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            let y0 = y * image.height / side, y1 = max(y0 + 1, (y + 1) * image.height / side)
            for x in 0..<side {
                let x0 = x * image.width / side, x1 = max(x0 + 1, (x + 1) * image.width / side)
                var sum = (0, 0, 0), n = 0
                for yy in y0..<min(y1, image.height) {
                    for xx in x0..<min(x1, image.width) {
                        let o = (yy * image.width + xx) * 3
                        sum.0 += Int(image.pixels[o]); sum.1 += Int(image.pixels[o + 1]); sum.2 += Int(image.pixels[o + 2]); n += 1
                    }
                }
                let o = (y * side + x) * 3
                if n > 0 { out[o] = UInt8(sum.0 / n); out[o + 1] = UInt8(sum.1 / n); out[o + 2] = UInt8(sum.2 / n) }
            }
        }
        return RGBImage(width: side, height: side, pixels: out)
    }

    static func blit(_ sheet: inout RGBImage, _ image: RGBImage, x: Int, y: Int) {
        for row in 0..<image.height where y + row < sheet.height {
            for column in 0..<image.width where x + column < sheet.width {
                let s = (row * image.width + column) * 3, d = ((y + row) * sheet.width + x + column) * 3
                sheet.pixels[d] = image.pixels[s]; sheet.pixels[d + 1] = image.pixels[s + 1]; sheet.pixels[d + 2] = image.pixels[s + 2]
            }
        }
    }

    static func fill(_ sheet: inout RGBImage, x: Int, y: Int, width: Int, height: Int, colour: (UInt8, UInt8, UInt8)) {
        for row in max(0, y)..<min(sheet.height, y + height) {
            for column in max(0, x)..<min(sheet.width, x + width) {
                let d = (row * sheet.width + column) * 3
                sheet.pixels[d] = colour.0; sheet.pixels[d + 1] = colour.1; sheet.pixels[d + 2] = colour.2
            }
        }
    }

    /// 3×5 pixel digits, one row of 3 bits per line, top first.
    static let digits: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// Draws decimal digits in black on white blocks.
    static func drawNumber(_ sheet: inout RGBImage, _ text: String, x: Int, y: Int, scale: Int) {
        var cursor = x
        for character in text {
            guard let value = character.wholeNumberValue else { continue }
            fill(&sheet, x: cursor - scale, y: y - scale, width: 5 * scale, height: 7 * scale, colour: (255, 255, 255))
            for (line, bits) in digits[value].enumerated() {
                for bit in 0..<3 where bits & (4 >> bit) != 0 {
                    fill(&sheet, x: cursor + bit * scale, y: y + line * scale, width: scale, height: scale, colour: (0, 0, 0))
                }
            }
            cursor += 4 * scale + scale
        }
    }
}
