import CFFmpeg
import FacetCore
import Foundation

/// Options for opening a video.
public struct VideoReaderOptions: Sendable {
    /// Refuse videos whose frames have more pixels than this (nil: no limit).
    public var maxPixels: Int?
    /// Decoder threads; 0 lets FFmpeg use one per core.
    public var threads: Int
    /// Whether the decoder may work on several frames at once. Frame threading is faster, but on a damaged
    /// stream FFmpeg's error concealment then depends on the thread count and on timing, so the same file
    /// can decode to different pictures on different machines or runs.
    public var frameThreading: Bool

    public init(maxPixels: Int? = nil, threads: Int = 0, frameThreading: Bool = true) {
        self.maxPixels = maxPixels
        self.threads = threads
        self.frameThreading = frameThreading
    }

    /// Options whose decoding is the same on every run and every machine, damaged input included: one
    /// decoder thread (slice threading also changes concealment between one thread and several). `swap` and
    /// `score` decode this way, so swap's two passes, its resumed segments and score's reading of the source
    /// all see the same pictures. Costs about a fifth of decode speed, a few percent of a swap.
    public static func reproducible(maxPixels: Int? = nil) -> VideoReaderOptions {
        VideoReaderOptions(maxPixels: maxPixels, threads: 1, frameThreading: false)
    }
}

/// Demuxers Facet opens. Anything else (playlists, concat lists, network formats, image2 patterns) is
/// refused, and only the `file` protocol is allowed, so a crafted file cannot make FFmpeg read other
/// files or the network. Audio-only demuxers are included so their files get a clear "no video stream".
let acceptedDemuxers = [
    "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "flv", "mpegts", "mpeg", "ogg", "asf",
    "h264", "hevc", "m4v", "mjpeg", "gif", "ivf", "nut", "yuv4mpegpipe", "wav", "mp3", "aac", "flac",
].joined(separator: ",")

/// Reads the first video stream of a local file frame by frame.
///
/// Damage is tolerated: packets that fail to decode are skipped and described in `damage`, and a
/// truncated file yields every frame that could be decoded. Memory stays flat in the video's length.
public final class VideoReader {
    public let url: URL
    public let info: VideoInfo
    /// Descriptions of damage met so far (undecodable packets, read errors, missing frames).
    public private(set) var damage: [String] = []
    /// Frames returned so far.
    public private(set) var framesDecoded = 0

    private let format: InputFormatHandle
    private let decoder: CodecContextHandle
    private let packet: PacketHandle
    private let streamIndex: Int32
    private let timeBase: Double
    private let startPTS: Int64
    private var draining = false
    private var finished = false
    private var seeked = false
    private var dropBeforeSeconds: Double?
    private var badPackets = 0
    /// Video packets the demuxer delivered, those of them it marked to decode but not show (the samples before an
    /// edit list's start: a trimmed clip keeps its first keyframe's group), and the latest time of a frame returned
    /// (seconds from the start).
    private var videoPackets = 0
    private var discardedPackets = 0
    private var latestFrameSeconds = 0.0
    private let maxPixels: Int?

    public init(url: URL, options: VideoReaderOptions = VideoReaderOptions()) throws {
        configureFFmpegLogging()
        self.url = url
        let path = url.path
        try Self.checkFile(path)

        switch InputFormatHandle.openLocal(path) {
        case .success(let handle):
            format = handle
        case .failure(let failure):
            throw failure.error(path: path)
        }
        let opened = format.pointer
        let infoCode = avformat_find_stream_info(opened, nil)
        if infoCode < 0 { throw MediaError.unreadable(path: path, reason: "cannot read stream information: \(ffmpegErrorString(infoCode))") }

        var videoIndex: Int32 = -1
        var audioCodec: String?
        var kinds: [String] = []
        for i in 0..<Int(opened.pointee.nb_streams) {
            guard let stream = opened.pointee.streams[i], let par = stream.pointee.codecpar else { continue }
            switch par.pointee.codec_type {
            case AVMEDIA_TYPE_VIDEO:
                // Skip attached cover art: it is a still picture, not the video.
                if videoIndex < 0 && (stream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC) == 0 { videoIndex = Int32(i) }
                kinds.append("video")
            case AVMEDIA_TYPE_AUDIO:
                if audioCodec == nil { audioCodec = String(cString: avcodec_get_name(par.pointee.codec_id)) }
                kinds.append("audio")
            case AVMEDIA_TYPE_SUBTITLE: kinds.append("subtitles")
            default: kinds.append("data")
            }
        }
        guard videoIndex >= 0, let stream = opened.pointee.streams[Int(videoIndex)], let par = stream.pointee.codecpar else {
            let held = kinds.isEmpty ? "no streams" : Dictionary(grouping: kinds, by: { $0 }).map { "\($0.value.count) \($0.key) stream(s)" }.sorted().joined(separator: ", ")
            throw MediaError.noVideoStream(path: path, streams: held)
        }
        streamIndex = videoIndex
        let codecName = String(cString: avcodec_get_name(par.pointee.codec_id))
        let width = Int(par.pointee.width), height = Int(par.pointee.height)
        if let maxPixels = options.maxPixels, width * height > maxPixels {
            throw MediaError.frameTooLarge(path: path, width: width, height: height, maxPixels: maxPixels)
        }
        guard width > 0, height > 0 else { throw MediaError.unreadable(path: path, reason: "video stream has no frame size") }
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            throw MediaError.unsupportedCodec(path: path, codec: codecName)
        }
        decoder = try CodecContextHandle(codec: codec, path: path)
        try checkInput(avcodec_parameters_to_context(decoder.pointer, par), "configuring the \(codecName) decoder", path: path)
        decoder.pointer.pointee.thread_count = Int32(clamping: min(max(options.threads, 0), 64))
        if let maxPixels = options.maxPixels {
            // FFmpeg itself refuses to allocate a frame above the limit (a stream may change size midway).
            decoder.pointer.pointee.max_pixels = Int64(clamping: maxPixels)
        }
        decoder.pointer.pointee.thread_type = options.frameThreading ? FF_THREAD_FRAME | FF_THREAD_SLICE : FF_THREAD_SLICE
        decoder.pointer.pointee.pkt_timebase = stream.pointee.time_base
        try checkInput(avcodec_open2(decoder.pointer, codec, nil), "opening the \(codecName) decoder", path: path)
        packet = try PacketHandle(path: path)
        maxPixels = options.maxPixels

        let tb = stream.pointee.time_base
        timeBase = tb.den == 0 ? 0 : Double(tb.num) / Double(tb.den)
        startPTS = stream.pointee.start_time == facet_nopts_value() ? 0 : stream.pointee.start_time
        let rate = stream.pointee.avg_frame_rate.den != 0 && stream.pointee.avg_frame_rate.num != 0
            ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
        var duration: Double?
        if stream.pointee.duration != facet_nopts_value(), stream.pointee.duration > 0 {
            duration = Double(stream.pointee.duration) * timeBase
        } else if opened.pointee.duration != facet_nopts_value(), opened.pointee.duration > 0 {
            duration = Double(opened.pointee.duration) / Double(AV_TIME_BASE)
        }
        info = VideoInfo(
            container: opened.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown",
            codec: codecName, codedWidth: width, codedHeight: height,
            rotation: DisplayOrientation.of(stream: stream).clockwiseDegrees,  // as ffmpeg's autorotate (no mirror for video)
            frameRate: rate.den == 0 ? 0 : Double(rate.num) / Double(rate.den),
            timeBaseNumerator: Int(tb.num), timeBaseDenominator: Int(tb.den),
            durationSeconds: duration,
            frameCount: stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil,
            hasAudio: audioCodec != nil, audioCodec: audioCodec,
            pixelFormat: pixelFormatName(par.pointee.format),
            metadata: Self.metadata(of: opened),
            interlaced: [AV_FIELD_TT, AV_FIELD_BB, AV_FIELD_TB, AV_FIELD_BT].contains(par.pointee.field_order)
                ? true : (par.pointee.field_order == AV_FIELD_PROGRESSIVE ? false : nil))
    }

    /// Moves to the last key frame at or before `seconds`; the next frame returned is the first one at or
    /// after `seconds` (frames between the key frame and the target are decoded and dropped).
    public func seek(toSeconds seconds: Double) throws {
        guard seconds > 0 else { return }
        // `--start` beyond any representable time stamp (or a bogus time base) seeks to the end: no frames.
        let ticks = (seconds / max(timeBase, 1e-12)).rounded(.down) + Double(startPTS)
        guard ticks.isFinite, ticks < 9.0e18 else {
            draining = true
            finished = true
            seeked = true
            return
        }
        let target = Int64(ticks)
        try checkInput(av_seek_frame(format.pointer, streamIndex, target, AVSEEK_FLAG_BACKWARD), "seeking to \(seconds) s", path: url.path)
        avcodec_flush_buffers(decoder.pointer)
        dropBeforeSeconds = seconds - 0.5 / max(info.frameRate, 1)
        draining = false
        finished = false
        seeked = true
    }

    /// The next decoded frame, or nil at the end of the stream.
    public func nextFrame() throws -> VideoFrame? {
        while let frame = try decodeNext() {
            if let drop = dropBeforeSeconds, frame.seconds < drop { continue }
            dropBeforeSeconds = nil
            framesDecoded += 1
            latestFrameSeconds = max(latestFrameSeconds, frame.seconds)
            return frame
        }
        return nil
    }

    private func decodeNext() throws -> VideoFrame? {
        let path = url.path
        let frame = try FrameHandle(path: path)
        while !finished {
            let received = avcodec_receive_frame(decoder.pointer, frame.pointer)
            if received >= 0 {
                let f = frame.pointer.pointee
                let pts = f.best_effort_timestamp != facet_nopts_value() ? f.best_effort_timestamp : f.pts
                if let maxPixels, Int(f.width) * Int(f.height) > maxPixels {
                    throw MediaError.frameTooLarge(path: path, width: Int(f.width), height: Int(f.height), maxPixels: maxPixels)
                }
                let seconds = pts == facet_nopts_value() ? Double(framesDecoded) / max(info.frameRate, 1) : self.seconds(ofPTS: pts)
                let corrupt = facet_frame_is_corrupt(frame.pointer) != 0
                return VideoFrame(handle: frame, pts: pts == facet_nopts_value() ? Int64(framesDecoded) : pts,
                                  seconds: seconds, rotation: info.rotation, isCorrupt: corrupt, sourcePath: path)
            }
            if received == facet_averror_eof() {
                finished = true
                noteMissingFrames()
                return nil
            }
            if received != facet_averror_eagain() {
                damage.append("decoder error after \(framesDecoded) frames: \(ffmpegErrorString(received))")
                if draining { finished = true; noteMissingFrames(); return nil }
            }
            if draining { continue }
            try feedDecoder()
        }
        return nil
    }

    /// Reads packets until one of the video stream's is accepted by the decoder, or starts draining at
    /// the end of the input (or at a read error, which is recorded as damage).
    private func feedDecoder() throws {
        while true {
            let read = av_read_frame(format.pointer, packet.pointer)
            if read < 0 {
                if read != facet_averror_eof() {
                    damage.append("read error after \(framesDecoded) frames: \(ffmpegErrorString(read))")
                }
                draining = true
                _ = avcodec_send_packet(decoder.pointer, nil)
                return
            }
            defer { av_packet_unref(packet.pointer) }
            guard packet.pointer.pointee.stream_index == streamIndex else { continue }
            videoPackets += 1
            if packet.pointer.pointee.flags & AV_PKT_FLAG_DISCARD != 0 { discardedPackets += 1 }
            let sent = avcodec_send_packet(decoder.pointer, packet.pointer)
            if sent >= 0 || sent == facet_averror_eagain() { return }
            badPackets += 1
            if badPackets <= 5 {
                let pts = packet.pointer.pointee.pts
                let at = pts == facet_nopts_value() ? "an unknown time" : String(format: "%.3f s", seconds(ofPTS: pts))
                damage.append("undecodable packet at \(at): \(ffmpegErrorString(sent))")
            }
        }
    }

    /// Seconds from the stream's start for a time stamp; in Double, so no time stamp a file holds can trap.
    private func seconds(ofPTS pts: Int64) -> Double { (Double(pts) - Double(startPTS)) * timeBase }

    private func noteMissingFrames() {
        if badPackets > 5 { damage.append("\(badPackets) undecodable packets in all") }
        guard !seeked, let counted = info.frameCount else { return }
        let expected = counted - discardedPackets
        guard framesDecoded < expected else { return }
        // Frames still buffered for dropping or a 1-2 frame shortfall in edit lists are normal; report real gaps.
        guard expected - framesDecoded > 2 else { return }
        // Fewer packets than the header counts, each decoded, spanning the whole length: the header counted empty
        // placeholders (an AVI's dropped-frame chunks, which capture tools write for skipped times), not damage.
        let span = (latestFrameSeconds * info.frameRate).rounded() + 1
        if badPackets == 0, abs(videoPackets - discardedPackets - framesDecoded) <= 2, span.isFinite, span >= Double(expected - 2) { return }
        damage.append("only \(framesDecoded) of \(expected) frames could be decoded (file truncated or damaged)")
    }

    /// The container-level metadata tags, nil when there are none.
    static func metadata(of context: UnsafeMutablePointer<AVFormatContext>) -> [String: String]? {
        var tags: [String: String] = [:]
        var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
        while let next = av_dict_get(context.pointee.metadata, "", entry, AV_DICT_IGNORE_SUFFIX) {
            if let key = next.pointee.key, let value = next.pointee.value { tags[String(cString: key)] = String(cString: value) }
            entry = next
        }
        return tags.isEmpty ? nil : tags
    }

    static func checkFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw MediaError.missing(path: path) }
        if isDirectory.boolValue { throw MediaError.unreadable(path: path, reason: "is a folder, not a file") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        if size == 0 { throw MediaError.emptyFile(path: path) }
    }

    static func isAccepted(_ demuxer: String) -> Bool {
        let accepted = Set(acceptedDemuxers.split(separator: ",").map(String.init))
        return demuxer.split(separator: ",").contains { accepted.contains(String($0)) }
    }
}

/// The demuxer FFmpeg would pick for a file, from its first 64 KiB, without opening anything else.
func probedFormatName(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let head = try? handle.read(upToCount: 65536), !head.isEmpty else { return nil }
    var padded = [UInt8](head)
    padded.append(contentsOf: [UInt8](repeating: 0, count: Int(AVPROBE_PADDING_SIZE)))
    return padded.withUnsafeMutableBufferPointer { buffer -> String? in
        var probe = AVProbeData()
        probe.buf = buffer.baseAddress
        probe.buf_size = Int32(head.count)
        return path.withCString { name -> String? in
            probe.filename = name
            guard let fmt = av_probe_input_format(&probe, 1) else { return nil }
            return String(cString: fmt.pointee.name)
        }
    }
}
