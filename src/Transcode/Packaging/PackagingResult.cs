namespace StreamServer.Transcode.Packaging;

/// <summary>A packaged track: folder (relative to the output), codec string, size, measured bitrates, segments.</summary>
public sealed record TrackResult(
    string Name,
    string Codecs,
    int Width,
    int Height,
    double FrameRate,
    int SampleRate,
    int Channels,
    long PeakBandwidth,
    long AverageBandwidth,
    IReadOnlyList<SegmentInfo> Segments)
{
    /// <summary>The track's initialization segment (in its folder).</summary>
    public string InitName { get; init; } = "init.mp4";

    public double DurationSeconds
    {
        get
        {
            double sum = 0;
            foreach (var s in Segments)
            {
                sum += s.DurationSeconds;
            }

            return sum;
        }
    }

    /// <summary>Peak = the largest segment bitrate; average = all segment bytes over the total duration (init excluded).</summary>
    public static (long Peak, long Average) MeasureBandwidth(IReadOnlyList<SegmentInfo> segments)
    {
        double peak = 0;
        long bytes = 0;
        double seconds = 0;
        foreach (var s in segments)
        {
            var d = s.DurationSeconds;
            if (d > 0)
            {
                peak = Math.Max(peak, s.Bytes * 8 / d);
            }

            bytes += s.Bytes;
            seconds += d;
        }

        var average = seconds > 0 ? bytes * 8 / seconds : 0;
        return ((long)Math.Ceiling(peak), (long)Math.Ceiling(average));
    }
}

/// <summary>What <see cref="Packager.PackageAsync"/> produced.</summary>
public sealed record PackagingResult(
    string OutputDirectory,
    TimeSpan Duration,
    IReadOnlyList<TrackResult> Renditions,
    TrackResult? Audio,
    long FramesDecoded,
    TimeSpan Elapsed)
{
    /// <summary>Source seconds packaged per wall-clock second.</summary>
    public double Speed => Elapsed.TotalSeconds > 0 ? Duration.TotalSeconds / Elapsed.TotalSeconds : 0;
}
