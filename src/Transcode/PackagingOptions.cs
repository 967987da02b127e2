namespace StreamServer.Transcode;

/// <summary>What a packaging run produces: the ladder (heights, capped at the source), x264 preset, segment length.</summary>
public sealed record PackagingOptions
{
    public int[] Ladder { get; init; } = [720, 480, 360];
    public string Preset { get; init; } = "veryfast";
    public double SegmentSeconds { get; init; } = 4;
}

/// <summary>Progress of a running job: percent of the source duration done, encode fps, speed vs real time.</summary>
public readonly record struct PackagingProgress(double Percent, double Fps, double Speed);
