namespace StreamServer.Transcode.Packaging;

/// <summary>One media segment as written: file name, start and duration in the track timescale, size.</summary>
public sealed record SegmentInfo(int Number, string FileName, long Start, long Duration, long Bytes, long Timescale)
{
    public double DurationSeconds => (double)Duration / Timescale;
    public double StartSeconds => (double)Start / Timescale;
}

/// <summary>One LL-HLS part (a CMAF chunk): its segment, index in it, file, duration in the track timescale, whether it starts with a keyframe.</summary>
public sealed record PartInfo(int SegmentNumber, int Index, string FileName, long Duration, long Timescale, bool Independent, long Bytes)
{
    public double DurationSeconds => (double)Duration / Timescale;

    /// <summary>Where the part begins in its segment when it is addressed as a byte range of it (<see cref="FileName"/> is the segment's).</summary>
    public long Offset { get; init; }

    /// <summary>Whether the part is a byte range of its segment's file rather than a file of its own.</summary>
    public bool IsByteRange { get; init; }
}
