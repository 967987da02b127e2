namespace StreamServer.Transcode.Thumbnails;

/// <summary>How poster.jpg is chosen and written.</summary>
public sealed record PosterOptions
{
    /// <summary>Operator override: use the frame at this time instead of searching (clamped to the duration).</summary>
    public double? FixedTimeSeconds { get; init; }

    /// <summary>Search the first this-fraction of the video ...</summary>
    public double SearchFraction { get; init; } = 0.33;

    /// <summary>... but never more than this many seconds (long films: the opening minute is enough).</summary>
    public double MaxSearchSeconds { get; init; } = 60;

    /// <summary>Score one frame per this many seconds (scoring every frame buys nothing and costs CPU).</summary>
    public double CandidateIntervalSeconds { get; init; } = 0.25;

    /// <summary>Poster width; 0 keeps the source width. Capped at the source width (no upscaling).</summary>
    public int MaxWidth { get; init; } = 1280;

    public int Quality { get; init; } = 85;

    /// <summary>Progressive JPEG: the poster shows coarse-to-fine while loading and is usually a little smaller.</summary>
    public bool Progressive { get; init; } = true;
}
