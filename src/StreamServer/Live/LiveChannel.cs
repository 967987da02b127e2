using System.Diagnostics;

namespace StreamServer.Live;

public enum LiveChannelState
{
    Idle,
    Live,
}

/// <summary>
/// One channel: its key and what its publisher is doing (counters written by the ingest connection, read by the API).
/// At most one publisher at a time.
/// </summary>
/// <param name="partFiles">LL-HLS parts as files of their own instead of byte ranges of their segment.</param>
/// <param name="partSeconds">LL-HLS part length; null = the server's.</param>
/// <param name="dvrSeconds">DVR depth; null = the server's.</param>
/// <param name="record">Whether publishes become VODs; null = the server's.</param>
public sealed class LiveChannel(string name, string key, string mode, bool partFiles = false, double? partSeconds = null, double? dvrSeconds = null,
    bool? record = null)
{
    private int _publishing;
    private long _bytes;
    private long _videoFrames;
    private long _audioFrames;
    private long _startedTicks;

    public string Name { get; } = name;
    public string Key { get; } = key;
    public string Mode { get; } = mode;
    public bool PartFiles { get; } = partFiles;
    public double? PartSeconds { get; } = partSeconds;
    public double? DvrSeconds { get; } = dvrSeconds;
    public bool? Record { get; } = record;

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
