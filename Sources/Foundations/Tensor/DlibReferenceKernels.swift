import Foundation

// Naive twins of the kernels in DlibKernels.swift (`conv2dBatched`'s twin is `ReferenceKernels.conv2d`).
extension ReferenceKernels {
    /// `x = (x + bias[c]) · scale[c] + shift[c]` per channel (last dimension), then `max(x, 0)` if `relu`.
    public static func channelAffine(_ x: Tensor, bias: [Float], scale: [Float], shift: [Float], relu: Bool) -> Tensor {
        var out = x
        let c = x.shape.last ?? 1
        for i in 0..<x.count {
            let v = (Double(x.data[i]) + Double(bias[i % c])) * Double(scale[i % c]) + Double(shift[i % c])
            out.data[i] = Float(relu ? max(v, 0) : v)
        }
        return out
    }

    /// dlib's `add_prev`: both 4-D tensors zero-padded at the end of each dimension to the larger size, added.
    public static func addZeroPadded(_ a: Tensor, _ b: Tensor, relu: Bool) -> Tensor {
        let shape = zip(a.shape, b.shape).map { max($0, $1) }
        var out = Tensor(zeros: shape)
        func value(_ t: Tensor, _ index: [Int]) -> Double {
            for d in 0..<4 where index[d] >= t.shape[d] { return 0 }
            let i = ((index[0] * t.shape[1] + index[1]) * t.shape[2] + index[2]) * t.shape[3] + index[3]
            return Double(t.data[i])
        }
        forEachIndex(shape) { linear, index in
            let v = value(a, index) + value(b, index)
            out.data[linear] = Float(relu ? max(v, 0) : v)
        }
        return out
    }
}
