import FacetCore
import Foundation

/// Where one `swap` call's wall-clock time went, seconds per stage (the `stages` object of `--json`), for
/// benchmarks and profiling. Measured on the calling thread, so each figure is the time the pipeline waited on
/// that stage (FFmpeg's and x264's own threads run beside it; frames are encoded on a thread of their own,
/// `BackgroundVideoWriter`, and `encode` is only the time the pipeline waited for it),
/// except `detect`, `mesh` and `points5`: frames are located a group at a time by one analyzer per core
/// (`FaceAnalyzerPool`), and these three are the analyzers' CPU time added up over the cores. Frames are decoded
/// and converted on a thread of their own, a few ahead (`PrefetchingReader`): `analysisDecode` and `decode` are
/// the time the pipeline waited for them.
///
/// Pass 1 (analysis, skipped when its cache is reused): `analysisDecode` (waiting for demux, decode, RGB conversion),
/// `detect` (BlazeFace), `mesh` (FaceMesh, twice per face), `points5` (dlib's 5 points), `chips` (tracking,
/// 68-point subsets, descriptor chips and their hashes), `descriptors` (dlib ResNet, catalog cache look-ups
/// and stores). Pass 2: `decode`, then the convert stage — `sample` (cutting faces out at the model's
/// framing), `inference` (encoder and decoder, batched), `colour`, `mask` (blend mask over the frame),
/// `composite` (warp back and blend) — beside it `hands` (palm detection and hand landmarks around each
/// swapped face, `--occlusion hands|both`; not part of `convert`, which a converter without occlusion also does) — then `label`, `encode` (handing frames to the video writer, finishing
/// segments) and `join` (segments joined, audio copied, metadata written); `label` is the per-frame label
/// (the invisible watermark, and the visible badge when asked).
public struct SwapStages: Codable, Sendable, Equatable {
    public var analysisDecode = 0.0, detect = 0.0, mesh = 0.0, points5 = 0.0, chips = 0.0, descriptors = 0.0
    public var decode = 0.0, sample = 0.0, inference = 0.0, colour = 0.0, mask = 0.0, composite = 0.0, label = 0.0, encode = 0.0, join = 0.0
    public var hands = 0.0

    public init() {}

    /// The convert stage alone (what a converter given the faces does): sample + inference + colour + mask + composite.
    public var convert: Double { sample + inference + colour + mask + composite }
}

/// Accumulates `SwapStages` for one `swap` call (shared by its analysis, renderer and jobs; single-threaded).
final class StageClock {
    private(set) var stages = SwapStages()

    /// Runs `body`, adding its wall-clock time to the stage at `key`.
    @inline(__always)
    func measure<T>(_ key: WritableKeyPath<SwapStages, Double>, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now()
        defer { stages[keyPath: key] += milliseconds(since: start) / 1000 }
        return try body()
    }

    /// Adds seconds measured elsewhere.
    func add(_ key: WritableKeyPath<SwapStages, Double>, seconds: Double) { stages[keyPath: key] += seconds }
}
