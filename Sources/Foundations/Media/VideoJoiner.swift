import CFFmpeg
import FacetCore
import Foundation

/// Joins video segments written by `VideoWriter` (same codec, size and time base; time stamps already on one
/// timeline, e.g. the source's) into one file without re-encoding, copies the audio streams (and subtitle streams
/// the container can hold) of a source file into it packet for packet on the source's own timeline, and writes container metadata. The result is written under a temporary
/// name and renamed into place, so the destination never holds a half-written file.
public enum VideoJoiner {
    /// - Parameters:
    ///   - segments: segment files in time order (at least one).
    ///   - destination: the joined file, in the container its name asks for (`VideoContainer(forOutput:)`: `.mkv`
    ///     Matroska, `.mov` QuickTime, else MP4); FFV1 segments need Matroska.
    ///   - audioSource: a media file whose audio streams (and subtitle streams the container can hold) are copied (nil: none).
    /// - Throws: `MediaError` naming the segment or the destination.
    public static func join(_ segments: [URL], to destination: URL, audioSource: URL?, metadata: [String: String]) throws {
        configureFFmpegLogging()
        let path = destination.path
        guard let first = segments.first else {
            throw MediaError.ffmpeg(path: path, operation: "joining segments", code: -22, message: "no segments to join")
        }
        let container = VideoContainer(forOutput: destination)
        let directory = destination.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary: TemporaryFile.Handle
        do { temporary = try TemporaryFile.create(for: destination, suffix: "join") } catch let error as TemporaryFile.OpenError {
            throw MediaError.ffmpeg(path: path, operation: "joining segments", code: -error.code, message: String(cString: strerror(error.code)))
        }
        let tempPath = temporary.path
        var done = false
        defer { if done { TemporaryFile.finish(temporary) } else { TemporaryFile.discard(temporary) } }
        let output = try OutputFormatHandle(path: tempPath, formatName: container.muxerName)

        // The video stream, configured from the first segment.
        let firstInput = try InputFormatHandle.openWithStreamInfo(first)
        guard let firstStream = videoStream(of: firstInput) else {
            throw MediaError.noVideoStream(path: first.path, streams: "no video")
        }
        guard let outStream = avformat_new_stream(output.pointer, nil) else {
            throw MediaError.ffmpeg(path: path, operation: "adding the video stream", code: facet_averror_enomem(), message: "out of memory")
        }
        try check(avcodec_parameters_copy(outStream.pointee.codecpar, firstStream.pointee.codecpar), "copying video parameters", path: path)
        outStream.pointee.codecpar.pointee.codec_tag = 0
        outStream.pointee.time_base = firstStream.pointee.time_base
        outStream.pointee.avg_frame_rate = firstStream.pointee.avg_frame_rate
        let audio = try audioSource.flatMap { try AudioCopier(source: $0, output: output.pointer, outputPath: path, keepTimeline: true) }
        try output.writeHeader(metadata: metadata, tempPath: tempPath, mp4: container.isISOMedia, path: path)

        let packet = try PacketHandle(path: path)
        var lastDTS = Int64.min
        var endSeconds = 0.0
        for (k, segment) in segments.enumerated() {
            let input = k == 0 ? firstInput : try InputFormatHandle.openWithStreamInfo(segment)
            guard let stream = videoStream(of: input) else { throw MediaError.noVideoStream(path: segment.path, streams: "no video") }
            let inTimeBase = stream.pointee.time_base
            while true {
                let code = av_read_frame(input.pointer, packet.pointer)
                if code == facet_averror_eof() { break }
                try check(code, "reading a video packet", path: segment.path)
                let p = packet.pointer
                guard p.pointee.stream_index == stream.pointee.index else { av_packet_unref(p); continue }
                av_packet_rescale_ts(p, inTimeBase, outStream.pointee.time_base)
                if p.pointee.dts != facet_nopts_value() {
                    if lastDTS != .min && p.pointee.dts <= lastDTS {
                        av_packet_unref(p)
                        throw MediaError.ffmpeg(path: segment.path, operation: "joining segments", code: -22,
                                                message: "its time stamps overlap the previous segment's")
                    }
                    lastDTS = p.pointee.dts
                }
                let tb = av_q2d(outStream.pointee.time_base)
                if p.pointee.pts != facet_nopts_value() {
                    endSeconds = max(endSeconds, Double(p.pointee.pts &+ max(p.pointee.duration, 0)) * tb)
                    try audio?.copy(upToSeconds: Double(p.pointee.pts) * tb)
                }
                p.pointee.stream_index = outStream.pointee.index
                p.pointee.pos = -1
                try check(av_interleaved_write_frame(output.pointer, p), "writing a video packet", path: path)
            }
        }
        // The whole audio stream, also past the last frame: the sound track is carried over packet for packet.
        _ = endSeconds
        try audio?.copy(upToSeconds: .infinity)
        try check(av_write_trailer(output.pointer), "writing the container index", path: path)
        try check(avio_closep(&output.pointer.pointee.pb), "closing the output file", path: path)
        if rename(tempPath, path) != 0 {
            throw MediaError.ffmpeg(path: path, operation: "moving the joined video into place", code: -errno,
                                    message: String(cString: strerror(errno)))
        }
        done = true
    }

    private static func videoStream(of input: InputFormatHandle) -> UnsafeMutablePointer<AVStream>? {
        let index = av_find_best_stream(input.pointer, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0 else { return nil }
        return input.pointer.pointee.streams[Int(index)]
    }
}
