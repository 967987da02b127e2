namespace StreamServer.LoadTest;

/// <summary>What one virtual player saw; merged into the run's totals at the end (no shared locks while loading).</summary>
internal sealed class LoadStats
{
    public List<double> SegmentTtfbMs { get; } = [];
    public List<double> PlaylistTtfbMs { get; } = [];
    public List<double> SegmentMbitPerSecond { get; } = [];
    public long Requests { get; set; }
    public long Bytes { get; set; }
    public long Errors { get; set; }
    public long Stalls { get; set; }
    public long Switches { get; set; }
    public long Segments { get; set; }
    public string? FirstError { get; set; }

    public void Add(LoadStats other)
    {
        SegmentTtfbMs.AddRange(other.SegmentTtfbMs);
        PlaylistTtfbMs.AddRange(other.PlaylistTtfbMs);
        SegmentMbitPerSecond.AddRange(other.SegmentMbitPerSecond);
        Requests += other.Requests;
        Bytes += other.Bytes;
        Errors += other.Errors;
        Stalls += other.Stalls;
        Switches += other.Switches;
        Segments += other.Segments;
        FirstError ??= other.FirstError;
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        var rank = (int)Math.Ceiling(p / 100 * values.Count) - 1;
        return values[Math.Clamp(rank, 0, values.Count - 1)];
    }
}
