import Faces
import FacetCore
import Foundation
import Manifest
import Media
import Watermark

/// How every output says it is synthetic.
enum SwapLabels {
    /// The invisible watermark's scheme name (recorded in manifests, sidecars and the catalog): Facet's keyed
    /// spread-spectrum luma mark (`Watermark.WatermarkEmbedder`, key `WatermarkKey.facet`).
    static let watermarkScheme = WatermarkScheme.current.rawValue

    /// One sentence for people and for container metadata.
    static func statement(model: SwapModelInfo, payload: String) -> String {
        "SYNTHETIC MEDIA: faces in this file were replaced by Facet \(FacetVersion.current) (face swap; model \(model.sha256.prefix(16)), " +
            "\(model.decoderIdentity)'s face drawn over \(model.sourceIdentity)'s). It is not a real recording. Run id \(payload)."
    }

    /// Container metadata written into every swapped video (MP4 and MKV tags; `ffprobe -show_format` lists them).
    static func containerMetadata(model: SwapModelInfo, payload: String, target: SwapTarget) -> [String: String] {
        ["comment": statement(model: model, payload: payload),
         "synthetic": "true",
         "facet_synthetic": "face-swap",
         "facet_tool": "facet swap \(FacetVersion.current)",
         "facet_model_sha256": model.sha256,
         "facet_weights_sha256": model.weightsSha256,
         "facet_run": payload,
         "facet_target": target.name]
    }

}

/// Marks every finished frame of one output: Facet's invisible watermark carrying the run's 32-bit payload,
/// over the whole frame (not only the face, so cutting the face out does not remove it). Always applied; there
/// is no option to skip it.
final class FrameLabeller {
    let embedder: WatermarkEmbedder
    /// The visible badge's corner (`--visible-label`), or nil.
    let badgeCorner: SwapLabelCorner?

    /// The badge's text (Media's `Canvas` bitmap font, upper case).
    static let badgeText = "SYNTHETIC · FACET"

    init(payload: String, badge: SwapLabelCorner? = nil) {
        embedder = WatermarkEmbedder(payload: WatermarkPayload(hexPrefix: payload) ?? WatermarkPayload(0))
        badgeCorner = badge
    }

    /// The watermark over the whole frame, then the badge (when asked) over it. The watermark's per-frame
    /// strength (`SSIMBudget`) is one factor for the whole picture, so it is measured on `original` (the frame as
    /// decoded, before any face was pasted in; nil when none was, the frame being its own original) and the badge is
    /// drawn last: every 4×4 block that neither a swapped
    /// face nor the badge touches is then marked exactly as the input frame alone would be.
    func finish(_ image: inout RGBImage, original: RGBImage?) {
        embedder.embed(into: &image, boostFrom: original)
        drawBadge(&image)
    }

    /// The same for a picture on its own (an image output): the watermark answers the picture's own
    /// interference with each bit (`StillWatermark`), since one frame cannot gather evidence over time.
    func finishStill(_ image: inout RGBImage) {
        drawBadge(&image)
        StillWatermark.embed(into: &image, payload: embedder.payload, key: embedder.key, scheme: embedder.scheme)
    }

    private func drawBadge(_ image: inout RGBImage) {
        if let badgeCorner, let box = Self.badgeBox(width: image.width, height: image.height, corner: badgeCorner) {
            var canvas = Canvas(width: 1, height: 1)
            swap(&canvas.image, &image)
            canvas.label(Self.badgeText, x: box.x + box.scale, y: box.y + box.scale, scale: box.scale, Canvas.white, background: (20, 20, 20))
            swap(&canvas.image, &image)
        }
    }

    /// Where the badge goes in a `width × height` frame: white text on a dark box, font pixels of
    /// `scale` = max(1, ⌊min(width, height) / 180⌋) px, `2 × scale` px from the two edges of `corner`; nil when
    /// the frame is too small to hold it.
    static func badgeBox(width: Int, height: Int, corner: SwapLabelCorner) -> (x: Int, y: Int, width: Int, height: Int, scale: Int)? {
        let scale = max(1, min(width, height) / 180)
        let w = Canvas.textWidth(badgeText, scale: scale) + 2 * scale, h = 9 * scale, margin = 2 * scale
        guard w + 2 * margin <= width, h + 2 * margin <= height else { return nil }
        let x = corner == .topLeft || corner == .bottomLeft ? margin : width - margin - w
        let y = corner == .topLeft || corner == .topRight ? margin : height - margin - h
        return (x, y, w, h, scale)
    }

    /// The manifest's record of the badge on a `width × height` frame (nil when no badge is drawn).
    func record(width: Int, height: Int) -> SwapVisibleLabel? {
        guard let badgeCorner, let box = Self.badgeBox(width: width, height: height, corner: badgeCorner) else { return nil }
        return SwapVisibleLabel(text: Self.badgeText, corner: badgeCorner.rawValue,
                                box: BoxItem(x: Double(box.x), y: Double(box.y), width: Double(box.width), height: Double(box.height)))
    }
}
