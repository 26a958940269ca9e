import FacetCore
import Foundation
import Media
import NN
import Tensor
import Watermark
import XCTest

final class WatermarkTests: XCTestCase {
    /// The first `count` frames of a clip as RGB.
    func frames(_ url: URL, count: Int, width: Int? = nil, height: Int? = nil) throws -> [RGBImage] {
        let reader = try VideoReader(url: url)
        let converter = FrameConverter()
        var out: [RGBImage] = []
        while out.count < count, let frame = try reader.nextFrame() { out.append(try converter.rgb(frame, width: width, height: height)) }
        return out
    }

    func testDebugRoundTrip() throws {
        let clip = TestPaths.video("d18.mp4")
        try requireSharedMedia(clip)
        let embedder = WatermarkEmbedder(payload: WatermarkPayload(0x5eed1e55))
        for n in [1, 10] {
            let detector = WatermarkDetector()
            for var f in try frames(clip, count: n) { embedder.embed(into: &f); detector.add(f) }
            print("frames", n, detector.result())
        }
        let flat = WatermarkDetector()
        var f = RGBImage(width: 480, height: 480, fill: (128, 128, 128)); embedder.embed(into: &f); flat.add(f)
        print("flat", flat.result())
    }
}
