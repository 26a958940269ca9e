/// Facet's one drawing surface: an `RGBImage` with filled and outlined rectangles, lines, pasted images and
/// text in a 5×7 pixel font (digits, upper case letters and some punctuation; lower case is drawn upper case,
/// unknown characters as blanks). Coordinates are pixels, (0, 0) the top-left corner; drawing outside the
/// image is clipped. Used by `dedupe audit`'s plots, `train`'s loss curve, contact sheets, and reports.
public struct Canvas: Sendable {
    public typealias Colour = (UInt8, UInt8, UInt8)
    public var image: RGBImage

    public static let white: Colour = (255, 255, 255), black: Colour = (20, 20, 20), grey: Colour = (150, 150, 150)
    public static let light: Colour = (232, 232, 232)

    /// A `width × height` canvas (at least 1×1) filled with `background`.
    public init(width: Int, height: Int, background: Colour = Canvas.white) {
        image = RGBImage(width: max(1, width), height: max(1, height), fill: background)
    }

    public mutating func fill(x: Int, y: Int, width: Int, height: Int, _ colour: Colour) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(image.width, x + width), y1 = min(image.height, y + height)
        guard x0 < x1, y0 < y1 else { return }
        let w = image.width
        image.pixels.withUnsafeMutableBufferPointer { p in
            for row in y0..<y1 {
                var o = (row * w + x0) * 3
                for _ in x0..<x1 {
                    p[o] = colour.0; p[o + 1] = colour.1; p[o + 2] = colour.2
                    o += 3
                }
            }
        }
    }

    public mutating func outline(x: Int, y: Int, width: Int, height: Int, thickness: Int = 1, _ colour: Colour) {
        fill(x: x, y: y, width: width, height: thickness, colour)
        fill(x: x, y: y + height - thickness, width: width, height: thickness, colour)
        fill(x: x, y: y, width: thickness, height: height, colour)
        fill(x: x + width - thickness, y: y, width: thickness, height: height, colour)
    }

    /// Bresenham's line from (x0, y0) to (x1, y1) with a `thickness` pixels square pen.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ colour: Colour, thickness: Int = 1) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var error = dx + dy
        while true {
            fill(x: x, y: y, width: thickness, height: thickness, colour)
            if x == x1 && y == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// Pastes `picture` with its top-left corner at (`x`, `y`), clipped to the canvas.
    public mutating func draw(_ picture: RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), x1 = min(image.width, x + picture.width)
        guard x0 < x1 else { return }
        for row in max(0, y)..<max(max(0, y), min(image.height, y + picture.height)) {
            let s = ((row - y) * picture.width + (x0 - x)) * 3, d = (row * image.width + x0) * 3, n = (x1 - x0) * 3
            image.pixels.replaceSubrange(d..<(d + n), with: picture.pixels[s..<(s + n)])
        }
    }

    /// Width in pixels of `text` at `scale` (6 font pixels a character, less the last one's spacing).
    public static func textWidth(_ text: String, scale: Int = 1) -> Int { max(0, text.count * 6 * scale - scale) }

    /// Draws `text` with its top-left corner at (`x`, `y`); each character is 5×7 font pixels of `scale` px.
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 1, _ colour: Colour = Canvas.black) {
        var cursor = x
        for character in text.uppercased() {
            if let rows = Self.glyphs[character] {
                for (line, bits) in rows.enumerated() {
                    for bit in 0..<5 where bits & (0x10 >> UInt8(bit)) != 0 {
                        fill(x: cursor + bit * scale, y: y + line * scale, width: scale, height: scale, colour)
                    }
                }
            }
            cursor += 6 * scale
        }
    }

    /// Draws `text` centred on `x`.
    public mutating func centredText(_ text: String, x: Int, y: Int, scale: Int = 1, _ colour: Colour = Canvas.black) {
        self.text(text, x: x - Self.textWidth(text, scale: scale) / 2, y: y, scale: scale, colour)
    }

    /// `text` on a `background` box one font pixel wider than the text on every side.
    public mutating func label(_ text: String, x: Int, y: Int, scale: Int = 1, _ colour: Colour = Canvas.black,
                               background: Colour = Canvas.white) {
        fill(x: x - scale, y: y - scale, width: Self.textWidth(text, scale: scale) + 2 * scale, height: 9 * scale, background)
        self.text(text, x: x, y: y, scale: scale, colour)
    }

    /// A white → dark blue ramp; `t` in 0...1.
    public static func heat(_ t: Double) -> Colour {
        let s = t.isNaN ? 0 : min(max(t, 0), 1)
        return (UInt8(255 - 247 * s), UInt8(255 - 207 * s), UInt8(255 - 148 * s))
    }

    /// 5×7 glyphs: one byte a row, bit 4 the leftmost column.
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        "-": [0, 0, 0, 0x1F, 0, 0, 0], ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08], "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0],
        "<": [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02], ">": [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        "°": [0x0C, 0x12, 0x12, 0x0C, 0, 0, 0], "×": [0, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0], "_": [0, 0, 0, 0, 0, 0, 0x1F],
        "'": [0x04, 0x04, 0x08, 0, 0, 0, 0], "·": [0, 0, 0, 0x04, 0, 0, 0],
    ]

    /// Ten distinguishable colours for plot series (matplotlib's `tab10`), cycled by `index`.
    public static func series(_ index: Int) -> Colour {
        let palette: [Colour] = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
        return palette[((index % palette.count) + palette.count) % palette.count]
    }
}
