using StreamServer.BufferPool;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode;

/// <summary>What a packaging run produces: the ladder (heights, capped at the source), x264 preset, segment length, bitrates.</summary>
public sealed record PackagingOptions
{
    /// <summary>Rendition heights; rungs above the source height are dropped (never upscale).</summary>
    public int[] Ladder { get; init; } = [720, 480, 360];

    /// <summary>libx264 preset (ultrafast ... veryslow).</summary>
    public string Preset { get; init; } = "veryfast";

    /// <summary>Segment length; every segment starts with an IDR frame at the same instant in every rendition.</summary>
    public double SegmentSeconds { get; init; } = 4;

    /// <summary>
    /// Target video bitrate per rung height in kbit/s. Heights not listed get a bitrate scaled by pixel
    /// count from 720p's. Peak (VBV maxrate) is <see cref="PeakBitrateFactor"/> times the target.
    /// </summary>
    public IReadOnlyDictionary<int, int> VideoBitrateKbps { get; init; } = new Dictionary<int, int>
    {
        [2160] = 14000,
        [1440] = 9000,
        [1080] = 5000,
        [720] = 2800,
        [540] = 1800,
        [480] = 1400,
        [360] = 800,
        [240] = 400,
        [144] = 200,
    };

    /// <summary>VBV maxrate = target x this; the VBV buffer holds two seconds at the target rate.</summary>
    public double PeakBitrateFactor { get; init; } = 1.5;

    /// <summary>AAC-LC bitrate (kbit/s), stereo at most.</summary>
    public int AudioBitrateKbps { get; init; } = 128;

    /// <summary>
    /// Threads per libx264 encoder; 0 = x264's own choice (1.5x cores), like the ffmpeg CLI. Lower
    /// values (e.g. 1 with several renditions in parallel) cost a little less CPU in total but take a
    /// smaller share of a machine that is busy with other work.
    /// </summary>
    public int EncoderThreads { get; init; }

    /// <summary>Run each rendition's scale + encode on its own thread (fed by reference from one decode).</summary>
    public bool ParallelRenditions { get; init; } = true;

    /// <summary>
    /// Lower rungs scale from the top rung's (already downscaled) frames instead of the decoded frame:
    /// less swscale work for the same sizes. Off = every rung scales from the source.
    /// </summary>
    public bool CascadeScaling { get; init; } = true;

    /// <summary>Replace an existing output folder (swapped in by rename) instead of refusing.</summary>
    public bool Overwrite { get; init; }

    /// <summary>Where decoded and scaled frames live (the buffer pool plugs in here); null = aligned native allocations.</summary>
    public IFrameMemory? FrameMemory { get; init; }

    /// <summary>
    /// Decode and scale into FFmpeg's own buffers (avcodec_default_get_buffer2, av_frame_get_buffer) instead of
    /// <see cref="FrameMemory"/>: the comparison point of the frame-path benchmark, not a serving setting.
    /// </summary>
    public bool FfmpegFrameBuffers { get; init; }

    /// <summary>What decoders and scalers are given: the frame memory, or null for FFmpeg's own buffers.</summary>
    internal IFrameMemory? FrameBuffers => FfmpegFrameBuffers ? null : FrameMemory ?? AlignedFrameMemory.Shared;

    /// <summary>
    /// Where each track's muxed segment is assembled until its file is written (once, from this memory): the
    /// server's / CLI's buffer pool. Null = a private memfd pool for the run, sized for every track's segment.
    /// </summary>
    public MemfdBufferPool? SegmentPool { get; init; }

    /// <summary>How long a segment's next block may wait for pool memory (other tracks return theirs at each of
    /// their segment ends) before the run fails with "the buffer pool cannot hold the segment".</summary>
    public TimeSpan SegmentRentTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Consumers of every decoded video frame (thumbnails, sprites) fed in the same pass.</summary>
    public IReadOnlyList<IDecodedFrameSink> FrameSinks { get; init; } = [];

    /// <summary>Video target bitrate in bit/s for a rendition height.</summary>
    public long VideoBitrateFor(int height, int width)
    {
        if (VideoBitrateKbps.TryGetValue(height, out var kbps))
        {
            return kbps * 1000L;
        }

        var reference = VideoBitrateKbps.TryGetValue(720, out var r) ? r : 2800;
        var scaled = reference * 1000.0 * (width * (double)height) / (1280.0 * 720.0);
        return Math.Max(150_000, (long)scaled);
    }
}

/// <summary>Progress of a running job: percent of the source duration done, encode fps, speed vs real time.</summary>
public readonly record struct PackagingProgress(double Percent, double Fps, double Speed);
