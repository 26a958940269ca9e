import ArgumentParser
import Foundation

/// Augmentation values given on the command line (nil: the default, or the checkpoint's when resuming).
public struct AugmentOverrides: Sendable, Equatable {
    public var rotationDegrees: Double?, zoom: Double?, shift: Double?, flipProbability: Double?
    public var lightness: Double?, contrast: Double?, colour: Double?, warpScale: Double?
    public var warpToLandmarks: Bool?
    /// Start from `AugmentSettings.none` instead of the defaults.
    public var disableAll = false

    public init() {}

    /// The settings: `AugmentSettings()`'s defaults (or `.none` with `disableAll`), then every given value.
    public func resolve() -> AugmentSettings {
        var s = disableAll ? AugmentSettings.none : AugmentSettings()
        if let v = rotationDegrees { s.rotationDegrees = v }
        if let v = zoom { s.zoom = v }
        if let v = shift { s.shift = v }
        if let v = flipProbability { s.flipProbability = v }
        if let v = lightness { s.lightness = v }
        if let v = contrast { s.contrast = v }
        if let v = colour { s.colour = v }
        if let v = warpScale { s.warpScale = v }
        if let v = warpToLandmarks { s.warpToLandmarks = v }
        return s
    }

    /// Nothing was given.
    public var isEmpty: Bool { self == AugmentOverrides() }
}

/// The augmentation options of `warp-augment` and `train` (one `@OptionGroup`, so the two tools cannot drift).
/// Every value is optional: left out, it takes `AugmentSettings()`'s default (the one source of defaults,
/// quoted in the help), or when `train` resumes, the checkpoint's.
public struct AugmentOptions: ParsableArguments {
    static let defaults = AugmentSettings()
    static func number(_ v: Double) -> String { String(format: "%g", v) }

    @Option(help: ArgumentHelp("Random rotation, ± degrees (default \(number(defaults.rotationDegrees))).", valueName: "deg"))
    public var rotation: Double?
    @Option(help: ArgumentHelp("Random zoom, ± fraction (default \(number(defaults.zoom))).", valueName: "f"))
    public var zoom: Double?
    @Option(help: ArgumentHelp("Random shift, ± fraction of the crop (default \(number(defaults.shift))).", valueName: "f"))
    public var shift: Double?
    @Option(help: ArgumentHelp("Probability of a horizontal flip (default \(number(defaults.flipProbability))).", valueName: "p"))
    public var flip: Double?
    @Option(help: ArgumentHelp("L* lightness change, ± fraction (default \(number(defaults.lightness))).", valueName: "f"))
    public var lightness: Double?
    @Option(help: ArgumentHelp("L* contrast change, ± fraction (default \(number(defaults.contrast))).", valueName: "f"))
    public var contrast: Double?
    @Option(help: ArgumentHelp("a*/b* colour change, ± fraction (default \(number(defaults.colour))).", valueName: "f"))
    public var colour: Double?
    @Option(help: ArgumentHelp("Random warp noise, pixels on a 256 px crop (default \(number(defaults.warpScale)); 0: no warp).", valueName: "px"))
    public var warpScale: Double?
    @Flag(inversion: .prefixedNo, help: "Warp each face onto the landmarks of a similar face instead of the random grid.")
    public var warpToLandmarks: Bool?
    @Flag(help: "No augmentation at all (every value above starts from 0).")
    public var noAugmentation = false

    public init() {}

    /// The values given (nil for those left out).
    public var overrides: AugmentOverrides {
        var o = AugmentOverrides()
        o.rotationDegrees = rotation; o.zoom = zoom; o.shift = shift; o.flipProbability = flip
        o.lightness = lightness; o.contrast = contrast; o.colour = colour; o.warpScale = warpScale
        o.warpToLandmarks = warpToLandmarks
        o.disableAll = noAugmentation
        return o
    }

    /// The settings with every value left out at its default.
    public var settings: AugmentSettings { overrides.resolve() }
}
