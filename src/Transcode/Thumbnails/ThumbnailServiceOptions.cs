namespace StreamServer.Transcode.Thumbnails;

/// <summary>Limits of the on-demand thumbnail service.</summary>
public sealed record ThumbnailServiceOptions
{
    /// <summary>LRU budget for encoded thumbnails.</summary>
    public long CacheBytes { get; init; } = 64L * 1024 * 1024;

    public int CacheEntries { get; init; } = 4096;

    /// <summary>Renders (seek + decode + scale + encode) running at once; the rest wait. 0 = processor count.</summary>
    public int MaxConcurrentRenders { get; init; }

    /// <summary>Opened videos kept between requests (each holds a demuxer and a decoder).</summary>
    public int MaxIdleGrabbers { get; init; } = 8;

    /// <summary>Decoder threads per render (0 = FFmpeg's choice).</summary>
    public int DecoderThreads { get; init; }

    public ScaleQualityOption ScaleQuality { get; init; } = ScaleQualityOption.Bicubic;

    /// <summary>Progressive JPEGs: same pixels, usually a few percent smaller, a little slower to encode.</summary>
    public bool Progressive { get; init; }

    /// <summary>
    /// Threads for the JPEG encoder's forward DCT + quantization of wide thumbnails (640x360 and up; the bytes do not
    /// depend on it): at 1080p they are most of the encode, ~15-30 % of a render.
    /// </summary>
    public int EncoderThreads { get; init; } = 2;

    /// <summary>
    /// Leave out reference B pictures shown before t that nothing at or after t predicts from, where the stream proves
    /// it safe (<see cref="FrameGrabber"/>); the frame is the same either way, so off only for comparisons.
    /// </summary>
    public bool SkipUnneededReferences { get; init; } = true;

    /// <summary>
    /// Where decoded and scaled frames live: the server passes its buffer pool (<see cref="Media.PooledFrameMemory"/>),
    /// so on-demand renders share the one bounded memory with packaging; null = <see cref="Media.RecyclingFrameMemory.Shared"/>.
    /// An opened source holds no frames between requests either way.
    /// </summary>
    public Media.IFrameMemory? FrameMemory { get; init; }
}

/// <summary>swscale filter for thumbnails (bicubic: sharp and cheap; Lanczos: a little sharper, slower).</summary>
public enum ScaleQualityOption
{
    Bicubic,
    Lanczos,
}
