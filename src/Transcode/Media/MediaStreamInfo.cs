namespace StreamServer.Transcode.Media;

public enum MediaKind
{
    Video,
    Audio,
    Other,
}

/// <summary>What the demuxer knows about one stream (from avformat_find_stream_info).</summary>
public sealed record MediaStreamInfo(
    int Index,
    MediaKind Kind,
    string CodecName,
    int Width,
    int Height,
    int PixelFormat,
    string PixelFormatName,
    int SampleRate,
    int Channels,
    Rational TimeBase,
    Rational AverageFrameRate,
    Rational RealFrameRate,
    Rational SampleAspectRatio,
    long StartTime,
    long Duration,
    bool IsAttachedPicture)
{
    /// <summary>Frames per second to encode at: the average rate, else the base rate, else 25.</summary>
    public Rational EffectiveFrameRate =>
        AverageFrameRate.IsValid && AverageFrameRate.ToDouble() is > 0 and <= 240 ? AverageFrameRate
        : RealFrameRate.IsValid && RealFrameRate.ToDouble() is > 0 and <= 240 ? RealFrameRate
        : new Rational(25, 1);
}

/// <summary>An FFmpeg AVRational.</summary>
public readonly record struct Rational(int Num, int Den)
{
    public bool IsValid => Num > 0 && Den > 0;

    public double ToDouble() => Den == 0 ? 0 : (double)Num / Den;

    public override string ToString() => $"{Num}/{Den}";
}
