using System.Diagnostics;

namespace StreamServer.Live;

/// <summary>
/// A channel's packaging settings in effect: LL-HLS parts as files of their own (else byte ranges of their segment), part
/// length (0 = no parts), DVR depth, whether publishes become VODs.
/// </summary>
public sealed record LiveChannelPackaging(bool PartFiles, double PartSeconds, double DvrSeconds, bool Record)
{
    /// <summary>The channel's own settings where it has them, else the server's.</summary>
    public static LiveChannelPackaging Resolve(LiveOptions server, LiveChannelConfig? channel) => new(
        (channel is { Parts.Length: > 0 } ? channel.Parts : server.Parts) == "files",
        channel is { PartSeconds: > 0 } ? channel.PartSeconds : server.PartSeconds,
        channel is { DvrSeconds: > 0 } ? channel.DvrSeconds : server.DvrSeconds,
        channel?.Record ?? server.Record);
}

public enum LiveChannelState
{
    Idle,
    Live,
}

/// <summary>
/// One channel: its key and what its publisher is doing (counters written by the ingest connection, read by the API).
/// At most one publisher at a time.
/// </summary>
/// <param name="packaging">How its publishes are packaged (the channel's settings over the server's, resolved by the registry).</param>
public sealed class LiveChannel(string name, string key, string mode, LiveChannelPackaging packaging)
{
    private int _publishing;
    private long _bytes;
    private long _videoFrames;
    private long _audioFrames;
    private long _startedTicks;

    public string Name { get; } = name;
    public string Key { get; } = key;
    public string Mode { get; } = mode;
    public LiveChannelPackaging Packaging { get; } = packaging;

    /// <summary>The packager of the current (or last) publish: where the open segments are read while they grow.</summary>
    public Transcode.Live.LiveRemuxer? Packager
    {
        get => Volatile.Read(ref _packager);
        internal set => Volatile.Write(ref _packager, value);
    }

    private Transcode.Live.LiveRemuxer? _packager;

    /// <summary>Blocking playlist reloads and preload-hint requests wait here for the packager's next publish.</summary>
    public LiveReloadGate Reload { get; } = new();

    /// <summary>Client connections watching (any request for the channel's files in the last 10 s).</summary>
    public LiveViewers Viewers { get; } = new();

    public LiveChannelState State => Volatile.Read(ref _publishing) == 1 ? LiveChannelState.Live : LiveChannelState.Idle;

    public string? LastError { get; set; }

    /// <summary>The H.264 AVCDecoderConfigurationRecord and AAC AudioSpecificConfig of the current publish.</summary>
    public byte[]? VideoConfig { get; set; }

    public byte[]? AudioConfig { get; set; }

    public long IngestBytes => Volatile.Read(ref _bytes);
    public long VideoFrames => Volatile.Read(ref _videoFrames);
    public long AudioFrames => Volatile.Read(ref _audioFrames);
    public long KeyFrames { get; private set; }

    /// <summary>Bits per second since the publish started.</summary>
    public double IngestBitrate => Rate(IngestBytes * 8.0);

    public double FramesPerSecond => Rate(VideoFrames);

    /// <summary>Claims the channel for a publisher; false when another one holds it.</summary>
    public bool TryStartPublishing()
    {
        if (Interlocked.CompareExchange(ref _publishing, 1, 0) != 0)
        {
            return false;
        }

        Interlocked.Exchange(ref _bytes, 0);
        Interlocked.Exchange(ref _videoFrames, 0);
        Interlocked.Exchange(ref _audioFrames, 0);
        KeyFrames = 0;
        VideoConfig = null;
        AudioConfig = null;
        LastError = null;
        Volatile.Write(ref _startedTicks, Stopwatch.GetTimestamp());
        return true;
    }

    public void StopPublishing(string? error)
    {
        if (error is not null)
        {
            LastError = error;
        }

        Volatile.Write(ref _publishing, 0);
    }

    internal void CountBytes(long bytes) => Interlocked.Add(ref _bytes, bytes);

    internal void CountVideo(bool key)
    {
        Interlocked.Increment(ref _videoFrames);
        if (key)
        {
            KeyFrames++;
        }
    }

    internal void CountAudio() => Interlocked.Increment(ref _audioFrames);

    private double Rate(double amount)
    {
        var elapsed = Stopwatch.GetElapsedTime(Volatile.Read(ref _startedTicks)).TotalSeconds;
        return State == LiveChannelState.Live && elapsed > 0.5 ? amount / elapsed : 0;
    }
}
