import Foundation

/// A square 2-D complex FFT of side `n` (a power of two), radix-2, in place, unnormalised both ways.
/// Used by the detector for cyclic cross-correlation of a folded frame with the reference tile.
struct FFT2D {
    let n: Int
    private let cosTable: [Double]
    private let sinTable: [Double]
    private let reversed: [Int]

    init(n: Int) {
        precondition(n >= 2 && n & (n - 1) == 0, "FFT2D: side must be a power of two")
        self.n = n
        cosTable = (0..<(n / 2)).map { cos(2 * Double.pi * Double($0) / Double(n)) }
        sinTable = (0..<(n / 2)).map { sin(2 * Double.pi * Double($0) / Double(n)) }
        var bits = 0
        while 1 << bits < n { bits += 1 }
        reversed = (0..<n).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return r
        }
    }

    /// Transforms `re` + i·`im` (each `n * n`, row-major): forward uses e^(-2πi·k·x/n), inverse e^(+…),
    /// neither divides by n².
    func transform(_ re: inout [Double], _ im: inout [Double], inverse: Bool) {
        precondition(re.count == n * n && im.count == n * n, "FFT2D: buffers must hold n*n values")
        var rowRe = [Double](repeating: 0, count: n), rowIm = [Double](repeating: 0, count: n)
        for y in 0..<n {
            for x in 0..<n { rowRe[x] = re[y * n + x]; rowIm[x] = im[y * n + x] }
            transform1D(&rowRe, &rowIm, inverse: inverse)
            for x in 0..<n { re[y * n + x] = rowRe[x]; im[y * n + x] = rowIm[x] }
        }
        for x in 0..<n {
            for y in 0..<n { rowRe[y] = re[y * n + x]; rowIm[y] = im[y * n + x] }
            transform1D(&rowRe, &rowIm, inverse: inverse)
            for y in 0..<n { re[y * n + x] = rowRe[y]; im[y * n + x] = rowIm[y] }
        }
    }

    private func transform1D(_ re: inout [Double], _ im: inout [Double], inverse: Bool) {
        for i in 0..<n {
            let j = reversed[i]
            if j > i { re.swapAt(i, j); im.swapAt(i, j) }
        }
        let sign: Double = inverse ? 1 : -1
        var size = 2
        while size <= n {
            let half = size / 2, step = n / size
            var start = 0
            while start < n {
                for k in 0..<half {
                    let wr = cosTable[k * step], wi = sign * sinTable[k * step]
                    let a = start + k, b = a + half
                    let tr = re[b] * wr - im[b] * wi
                    let ti = re[b] * wi + im[b] * wr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                }
                start += size
            }
            size *= 2
        }
    }

    /// The spectrum of a real `n × n` signal (row-major).
    func spectrum(of signal: [Double]) -> (re: [Double], im: [Double]) {
        var re = signal, im = [Double](repeating: 0, count: n * n)
        transform(&re, &im, inverse: false)
        return (re, im)
    }

    /// Cyclic cross-correlation of a real `n × n` signal, given by its spectrum (`spectrum(of:)`, possibly filtered
    /// by real, even gains), with the real signal whose spectrum is `reference`: the real part of
    /// IFFT(signal · conj(reference)), unnormalised; index (dy · n + dx) is the shift.
    func crossCorrelation(spectrum signal: (re: [Double], im: [Double]), with reference: (re: [Double], im: [Double])) -> [Double] {
        var (re, im) = signal
        for i in 0..<(n * n) {
            let r = re[i] * reference.re[i] + im[i] * reference.im[i]
            let j = im[i] * reference.re[i] - re[i] * reference.im[i]
            re[i] = r; im[i] = j
        }
        transform(&re, &im, inverse: true)
        return re
    }
}
