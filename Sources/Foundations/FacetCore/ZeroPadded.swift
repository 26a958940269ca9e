/// `value` in decimal, zero-padded to `width` characters as `%0Nd` prints it (`zeroPadded(42, width: 6)` is `000042`):
/// the numbered file names of frames and crops, without a formatter per name.
public func zeroPadded(_ value: Int, width: Int) -> String {
    let digits = String(value.magnitude), sign = value < 0 ? "-" : ""
    return sign + String(repeating: "0", count: max(0, width - sign.count - digits.count)) + digits
}
