/// A dense float32 tensor. Image tensors are NHWC: `[batch, height, width, channels]`.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    /// Row-major values; `count` = product of `shape`.
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "Tensor: \(data.count) values do not fill shape \(shape)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    public var count: Int { data.count }

    /// The same values viewed with another shape of equal size.
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, data: data) }

    /// Largest absolute difference to another tensor of the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference: shapes \(shape) and \(other.shape) differ")
        var m: Float = 0
        for i in 0..<data.count { m = max(m, abs(data[i] - other.data[i])) }
        return m
    }
}

/// How a convolution or pooling window is padded.
public enum Padding: Equatable, Sendable {
    /// TensorFlow's SAME: output = ceil(input / stride); the extra padding goes after (bottom/right).
    case same
    /// No padding: output = (input - window) / stride + 1.
    case valid
    /// Fixed padding on each side.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
}

/// Resolved geometry of a 2-D sliding window over an H×W plane.
public struct WindowGeometry: Equatable, Sendable {
    public let inH: Int, inW: Int
    public let kH: Int, kW: Int
    public let strideH: Int, strideW: Int
    public let dilationH: Int, dilationW: Int
    public let padTop: Int, padLeft: Int
    public let outH: Int, outW: Int

    public init(inH: Int, inW: Int, kH: Int, kW: Int, strideH: Int, strideW: Int,
                dilationH: Int = 1, dilationW: Int = 1, padding: Padding) {
        self.inH = inH; self.inW = inW; self.kH = kH; self.kW = kW
        self.strideH = strideH; self.strideW = strideW; self.dilationH = dilationH; self.dilationW = dilationW
        let effH = (kH - 1) * dilationH + 1, effW = (kW - 1) * dilationW + 1
        switch padding {
        case .same:
            outH = (inH + strideH - 1) / strideH
            outW = (inW + strideW - 1) / strideW
            padTop = max((outH - 1) * strideH + effH - inH, 0) / 2
            padLeft = max((outW - 1) * strideW + effW - inW, 0) / 2
        case .valid:
            outH = max((inH - effH) / strideH + 1, 0)
            outW = max((inW - effW) / strideW + 1, 0)
            padTop = 0; padLeft = 0
        case .explicit(let top, let bottom, let left, let right):
            outH = max((inH + top + bottom - effH) / strideH + 1, 0)
            outW = max((inW + left + right - effW) / strideW + 1, 0)
            padTop = top; padLeft = left
        }
    }
}
