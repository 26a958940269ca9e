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
    static let watermarkScheme = "facet-ss-luma-2"

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

    init(payload: String) {
        embedder = WatermarkEmbedder(payload: WatermarkPayload(hexPrefix: payload) ?? WatermarkPayload(0))
    }

    func finish(_ image: inout RGBImage) {
        embedder.embed(into: &image)
    }
}
