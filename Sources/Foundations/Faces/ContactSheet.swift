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
        var sheet = Canvas(width: (columns + 1) * cell, height: max(1, tracks.count) * cell, background: (24, 24, 24))
        for (row, track) in tracks.enumerated() {
            let faces = byTrack[track] ?? []
            let colour = palette(row)
            sheet.fill(x: 0, y: row * cell, width: cell, height: cell, colour)
            sheet.label(String(track), x: 6, y: row * cell + 8, scale: max(2, cell / 32), Canvas.black)
            sheet.label(String(faces.count), x: 6, y: row * cell + cell / 2 + 8, scale: max(1, cell / 64), Canvas.black)
            let picks = faces.count <= columns ? Array(faces.indices)
                : (0..<columns).map { $0 * (faces.count - 1) / max(1, columns - 1) }
            let crops = picks.map { try? ImageDecoder.decode(fileAt: ManifestIO.resolve(faces[$0].crop, relativeToManifest: manifestURL)) }
            let strip = ImageGrid.compose([crops], tile: cell - 4, gap: 4, margin: 2, background: (24, 24, 24), missing: (90, 90, 90))
            sheet.draw(strip, x: cell, y: row * cell)
            for column in picks.indices { sheet.fill(x: (column + 1) * cell, y: row * cell + cell - 3, width: cell, height: 3, colour) }
        }
        return sheet.image
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
        let images = picks.map { try? ImageDecoder.decode(fileAt: crops[$0]) }
        let rows = stride(from: 0, to: max(1, images.count), by: columns).map { Array(images[$0..<min($0 + columns, images.count)]) }
        let header = cell / 2
        let body = ImageGrid.compose(rows.isEmpty ? [[]] : rows, tile: cell - 4, gap: 4, margin: 2, background: (24, 24, 24), missing: (90, 90, 90))
        var sheet = Canvas(width: columns * cell, height: header + body.height, background: (24, 24, 24))
        sheet.fill(x: 0, y: 0, width: columns * cell, height: header, palette(number))
        sheet.label(String(number), x: 8, y: 8, scale: max(2, header / 16), Canvas.black)
        sheet.label(String(crops.count), x: columns * cell / 2, y: 8, scale: max(2, header / 16), Canvas.black)
        sheet.draw(body, x: 0, y: header)
        return sheet.image
    }

    static func palette(_ i: Int) -> (UInt8, UInt8, UInt8) {
        let colours: [(UInt8, UInt8, UInt8)] = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                                                (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]
        return colours[i % colours.count]
    }
}
