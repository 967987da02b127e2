using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Thumbnails;

/// <summary>
/// Posters, sprites and on-demand thumbnails (section "StreamServer:Thumbnails"). Packaging-time settings apply
/// to VODs packaged after a change; the on-demand ones at start-up.
/// </summary>
public sealed class ThumbnailOptions
{
    /// <summary>LRU budget of encoded on-demand thumbnails.</summary>
    public int CacheMegabytes { get; set; } = 64;

    public int CacheEntries { get; set; } = 4096;

    /// <summary>On-demand renders at once (seek + decode + scale + encode); 0 = processor count.</summary>
    public int MaxConcurrentRenders { get; set; }

    /// <summary>Opened renditions kept between on-demand requests.</summary>
    public int MaxOpenSources { get; set; } = 8;

    /// <summary>thumb.jpg width when the request has no w.</summary>
    public int DefaultWidth { get; set; } = 320;

    /// <summary>thumb.jpg quality when the request has no q.</summary>
    public int DefaultQuality { get; set; } = 75;

    /// <summary>"bicubic" or "lanczos" (swscale filter for thumb.jpg).</summary>
    public string Scaler { get; set; } = "bicubic";

    /// <summary>
    /// Progressive thumb.jpg: same pixels; 2-4 % smaller at 1080p but 3-8 % larger at thumbnail sizes (320 px) and
    /// more encode time (bench/RESULTS.md), so off by default. The poster is always progressive.
    /// </summary>
    public bool Progressive { get; set; }

    /// <summary>Write sprites + thumbnails.vtt at packaging.</summary>
    public bool Sprites { get; set; } = true;

    /// <summary>One sprite tile every this many seconds.</summary>
    public double SpriteIntervalSeconds { get; set; } = 5;

    public int SpriteTileWidth { get; set; } = 160;

    public int SpriteColumns { get; set; } = 10;

    public int SpriteRows { get; set; } = 10;

    public int SpriteQuality { get; set; } = 70;

    /// <summary>Fixed poster time in seconds; unset = pick by luma and detail over the first part of the video.</summary>
    public double? PosterTimeSeconds { get; set; }

    public int PosterMaxWidth { get; set; } = 1280;

    public int PosterQuality { get; set; } = 85;

    public VodImageOptions ToVodImageOptions() => new()
    {
        WriteSprites = Sprites,
        Sprites = new SpriteSheetOptions
        {
            IntervalSeconds = SpriteIntervalSeconds,
            TileWidth = SpriteTileWidth,
            Columns = SpriteColumns,
            Rows = SpriteRows,
            Quality = SpriteQuality,
        },
        Poster = new PosterOptions { FixedTimeSeconds = PosterTimeSeconds, MaxWidth = PosterMaxWidth, Quality = PosterQuality },
    };

    public ThumbnailServiceOptions ToServiceOptions() => new()
    {
        CacheBytes = Math.Max(0, CacheMegabytes) * 1024L * 1024,
        CacheEntries = Math.Max(0, CacheEntries),
        MaxConcurrentRenders = MaxConcurrentRenders,
        MaxIdleGrabbers = Math.Max(0, MaxOpenSources),
        Progressive = Progressive,
        ScaleQuality = string.Equals(Scaler, "lanczos", StringComparison.OrdinalIgnoreCase) ? ScaleQualityOption.Lanczos : ScaleQualityOption.Bicubic,
    };
}
