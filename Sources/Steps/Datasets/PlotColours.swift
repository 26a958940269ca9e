import Media

/// The audit plots' series colours (the drawing surface is Media's `Canvas`).
extension Canvas {
    static let datasetBlue: Colour = (31, 119, 180), targetOrange: Colour = (255, 127, 14), alarmRed: Colour = (214, 39, 40)
}
