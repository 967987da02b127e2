using System.Diagnostics.Metrics;

namespace StreamServer.Transcode.Media;

/// <summary>Instruments of meter "StreamServer.Transcode" (exported by the server's Prometheus endpoint).</summary>
public static class TranscodeMetrics
{
    public const string MeterName = "StreamServer.Transcode";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>
    /// Bytes of frame pixels copied between buffers. Decoded frames reach every scaler and encoder by
    /// reference, so this must stay 0; any code path that copies pixels must add to it.
    /// </summary>
    public static readonly Counter<long> FrameCopyBytes =
        Meter.CreateCounter<long>("streamserver_transcode_frame_copy_bytes_total", null, "Bytes of video frame data copied between buffers (expected 0)");

    /// <summary>
    /// Decoded video frames whose pixels are not in memory rented from the decoder's <see cref="IFrameMemory"/>
    /// (get_buffer2 not honoured: a decoder without DR1, a palette/hwaccel format, rawvideo referencing the
    /// packet). They are used as they are, not copied, so they only show here, not in the copy bytes.
    /// </summary>
    public static readonly Counter<long> FramesOutsidePool =
        Meter.CreateCounter<long>("streamserver_transcode_frames_outside_pool_total", null, "Decoded video frames not allocated from the frame memory (get_buffer2 not honoured)");

    public static readonly Counter<long> FramesDecoded =
        Meter.CreateCounter<long>("streamserver_transcode_frames_decoded_total", null, "Video frames decoded by the packager");

    public static readonly Counter<long> FramesEncoded =
        Meter.CreateCounter<long>("streamserver_transcode_frames_encoded_total", null, "Video frames encoded, summed over renditions");

    public static readonly Counter<long> SegmentBytes =
        Meter.CreateCounter<long>("streamserver_transcode_segment_bytes_total", null, "Bytes of init and media segments written");
}
