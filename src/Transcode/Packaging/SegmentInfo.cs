namespace StreamServer.Transcode.Packaging;

/// <summary>One media segment as written: file name, start and duration in the track timescale, size.</summary>
public sealed record SegmentInfo(int Number, string FileName, long Start, long Duration, long Bytes, long Timescale)
{
    public double DurationSeconds => (double)Duration / Timescale;
    public double StartSeconds => (double)Start / Timescale;
}
