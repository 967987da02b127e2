using StreamServer.Transcode.Live;
using StreamServer.Vod;

namespace StreamServer.Live;

/// <summary>
/// Opens the packager of a channel's stream (RTMP publish or test channel) in the channel's window folder, and keeps
/// the served files in step with it: its playlists go to <see cref="LivePlaylistTable"/>, and a new stream drops
/// everything cached for the channel. The window folder is the server's own scratch space (tmpfs by default): it
/// is emptied at start and removed at shutdown.
/// </summary>
internal sealed class LivePackaging(LiveOptions options, DataLayout layout, Transcode.PackagingOptions vodPackaging, BufferPool.MemfdBufferPool pool, VodFileCache files,
    LivePlaylistTable playlists, Admin.VodLibrary library, ILogger<LivePackaging> log) : IDisposable
{
    /// <summary>Upper bounds of streamserver_live_publish_delay_seconds (seconds).</summary>
    public static readonly double[] PublishDelayBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

    private static readonly System.Diagnostics.Metrics.Histogram<double> PublishDelay = Metrics.ServerMetrics.Meter.CreateHistogram(
        "streamserver_live_publish_delay_seconds", unit: "s",
        description: "From the arrival of the frame that closes a video segment or part to the playlists naming it, by channel.",
        advice: new System.Diagnostics.Metrics.InstrumentAdvice<double> { HistogramBucketBoundaries = PublishDelayBuckets });

    private readonly Lock _gate = new();
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<LiveChannel, LiveRemuxer> _last = [];
    private bool _created;

    // The VOD ladder's bitrates, preset and encoder threads, frames and segments in the pool; the live ladder's heights.
    private readonly Transcode.PackagingOptions _ladder = options.Ladder.Length > 0 ? vodPackaging with { Ladder = options.Ladder } : vodPackaging;

    public string Root { get; } = layout.LiveWindows;

    /// <summary>
    /// Where a publish on <paramref name="channel"/> goes: straight into a remuxer (pass-through), or into the live ladder
    /// (mode "transcode"), which opens the remuxer for its rungs once the first picture gave the source's size.
    /// </summary>
    public ILiveIngest OpenPublish(LiveChannel channel, LiveStreamInfo info, double frameRate)
    {
        var started = DateTimeOffset.UtcNow; // names the recording
        return channel.Mode == "transcode"
            ? new LiveTranscoder(info, _ladder, options.SegmentSeconds, frameRate, rungs => Open(channel, rungs, started), channel.Name)
            : Open(channel, info, started);
    }

    /// <param name="recordFrom">When the publish began, if it may be recorded (Live:Record); null = never recorded (test channel).</param>
    public LiveRemuxer Open(LiveChannel channel, LiveStreamInfo info, DateTimeOffset? recordFrom = null)
    {
        var prefix = VodPath.LiveRoot + "/" + channel.Name + "/";
        files.InvalidatePrefix(prefix); // segment names start again at 1 in a new stream
        lock (_gate)
        {
            if (!_created)
            {
                DeleteRoot(); // what a previous run (killed before its shutdown) left behind
                _created = true;
            }

            Directory.CreateDirectory(Root);
        }

        // A publisher that comes back (OBS reconnecting, the test channel restarting) continues the channel's playlists:
        // numbering goes on, the previous window stays listed, a discontinuity and a new init segment mark the join.
        LiveContinuation? continues = null;
        if (_last.TryGetValue(channel, out var previous) && previous.Carry() is { } carry && carry.Fits(info))
        {
            continues = carry;
        }
        else
        {
            channel.Reload.Reset();
            playlists.RemovePrefix(prefix);
        }

        var remuxer = new LiveRemuxer(Path.Combine(Root, channel.Name), playlists.For(channel.Name), info, pool, options.SegmentSeconds, options.WindowSegments,
            channel.Packaging.PartSeconds, position =>
        {
            channel.Reload.Publish(position); // after the playlists were replaced: a released waiter reads the new ones
            if (position.PublishDelaySeconds > 0)
            {
                PublishDelay.Record(position.PublishDelaySeconds, new KeyValuePair<string, object?>("channel", channel.Name));
            }
        }, continues, channel.Packaging.DvrSeconds, Recording(channel, recordFrom), channel.Packaging.PartFiles);
        _last.AddOrUpdate(channel, remuxer);
        channel.Packager = remuxer;
        return remuxer;
    }

    private LiveRecording? Recording(LiveChannel channel, DateTimeOffset? started)
    {
        if (!channel.Packaging.Record || started is not { } at)
        {
            return null;
        }

        var id = $"{channel.Name}-{at.UtcDateTime:yyyyMMdd-HHmmss}";
        if (!Admin.VodLibrary.IsValidId(id) || library.IsPublished(id))
        {
            id = $"{channel.Name[..Math.Min(channel.Name.Length, 40)]}-{at.UtcDateTime:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
        }

        try
        {
            return new LiveRecording(library.PathOf(id), recording =>
            {
                if (recording.Error is { } error)
                {
                    log.LogWarning("channel '{Channel}': {Error}", channel.Name, error);
                }
                else
                {
                    log.LogInformation("channel '{Channel}': publish recorded as VOD '{Id}'", channel.Name, Path.GetFileName(recording.Target));
                }
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Transcode.TranscodeException)
        {
            log.LogWarning("channel '{Channel}': the publish is not recorded: {Error}", channel.Name, ex.Message);
            return null;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_created)
            {
                DeleteRoot();
            }
        }
    }

    private void DeleteRoot()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
