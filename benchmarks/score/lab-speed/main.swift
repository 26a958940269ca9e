// LabColour (Sources/Foundations/Faces/LabColour.swift): table path (Float lookups, `toLab`) against the exact path
// (`exactLab(encodedRed:green:blue:)`, Double) on 2^20 random Float 0…1 pixels; built standalone with swiftc -O
// by run.sh beside this file, the type compiled as it is in the package.
import Foundation
var rng = SystemRandomNumberGenerator()
let n = 1 << 20
let rgb = (0..<(3 * n)).map { _ in Float.random(in: 0...1, using: &rng) }
var lab = [Float](repeating: 0, count: 3 * n)
for round in 0..<5 {
    var t = DispatchTime.now()
    rgb.withUnsafeBufferPointer { p in lab.withUnsafeMutableBufferPointer { LabColour.toLab(p.baseAddress!, count: n, into: $0.baseAddress!) } }
    let table = Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9
    t = DispatchTime.now()
    var out = [Float](repeating: 0, count: 3 * n)
    for k in 0..<n {
        let v = LabColour.exactLab(encodedRed: Double(rgb[3 * k]), green: Double(rgb[3 * k + 1]), blue: Double(rgb[3 * k + 2]))
        out[3 * k] = Float(v.x); out[3 * k + 1] = Float(v.y); out[3 * k + 2] = Float(v.z)
    }
    let exact = Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9
    print(String(format: "round %d: table %.1f ns/pixel, exact %.1f ns/pixel, exact/table %.1fx (%f %f)", round, table * 1e9 / Double(n), exact * 1e9 / Double(n), exact / table, lab[7], out[7]))
}
