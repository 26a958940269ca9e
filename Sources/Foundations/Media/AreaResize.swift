/// Facet's one area-average (box filter) resizer, exact for any ratio: each output pixel is the mean of
/// the input area it covers, partial pixels weighted by their overlap; enlarging repeats the nearest pixel.
/// Values are interleaved bytes (`channels` per pixel, row-major); results are rounded half up.
public enum AreaResize {
    /// A square `side`·`side`·channels buffer → `to`·`to`·channels bytes.
    public static func resize(_ values: [UInt8], side: Int, channels: Int, to out: Int) -> [UInt8] {
        resize(values, width: side, height: side, channels: channels, toWidth: out, toHeight: out)
    }

    /// `width`·`height`·channels bytes → `toWidth`·`toHeight`·channels bytes (all sides ≥ 1; a buffer of the
    /// wrong size gives zeros).
    public static func resize(_ values: [UInt8], width: Int, height: Int, channels: Int, toWidth outW: Int, toHeight outH: Int) -> [UInt8] {
        if width == outW && height == outH { return values }
        guard width > 0, height > 0, outW > 0, outH > 0, channels > 0, values.count == width * height * channels else {
            return [UInt8](repeating: 0, count: max(0, outW) * max(0, outH) * max(0, channels))
        }
        let columns = axisWeights(from: width, to: outW), lines = axisWeights(from: height, to: outH)
        var rows = [Float](repeating: 0, count: outW * height * channels)   // horizontal pass: outW columns, height rows
        for y in 0..<height {
            for (x, taps) in columns.enumerated() {
                for (i, w) in taps {
                    for c in 0..<channels { rows[(y * outW + x) * channels + c] += w * Float(values[(y * width + i) * channels + c]) }
                }
            }
        }
        var result = [UInt8](repeating: 0, count: outW * outH * channels)
        for (y, taps) in lines.enumerated() {
            for x in 0..<outW {
                for c in 0..<channels {
                    var sum: Float = 0
                    for (i, w) in taps { sum += w * rows[(i * outW + x) * channels + c] }
                    result[(y * outW + x) * channels + c] = UInt8(min(max((sum + 0.5).rounded(.down), 0), 255))
                }
            }
        }
        return result
    }

    /// For each output index, the input indices it covers and their normalised weights.
    static func axisWeights(from n: Int, to m: Int) -> [[(Int, Float)]] {
        let scale = Double(n) / Double(m)
        return (0..<m).map { j in
            let lo = Double(j) * scale, hi = Double(j + 1) * scale
            if scale <= 1 { return [(min(Int(lo + scale / 2), n - 1), 1)] }   // enlarging: nearest source pixel
            var taps: [(Int, Float)] = []
            var i = Int(lo.rounded(.down))
            while Double(i) < hi, i < n {
                let overlap = min(hi, Double(i + 1)) - max(lo, Double(i))
                if overlap > 1e-12 { taps.append((i, Float(overlap / scale))) }
                i += 1
            }
            return taps
        }
    }
}

extension RGBImage {
    /// This image area-resized to `width × height` (see `AreaResize`).
    public func areaResized(width outW: Int, height outH: Int) -> RGBImage {
        RGBImage(width: outW, height: outH,
                 pixels: AreaResize.resize(pixels, width: width, height: height, channels: 3, toWidth: outW, toHeight: outH))
    }
}
