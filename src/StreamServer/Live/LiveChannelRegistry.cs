using System.Collections.Concurrent;
using StreamServer.Admin;

namespace StreamServer.Live;

/// <summary>The channels this server knows (from configuration), looked up by name.</summary>
public sealed class LiveChannelRegistry
{
    private readonly ConcurrentDictionary<string, LiveChannel> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LiveChannel>.AlternateLookup<ReadOnlySpan<char>> _byName;

    private readonly LiveOptions _options;

    public LiveChannelRegistry(LiveOptions options)
    {
        _options = options;
        if (LiveChannelConfig.PartsError(options.Parts) is { } defaultError)
        {
            throw new InvalidOperationException($"StreamServer:Live:Parts: {defaultError}");
        }

        if (LiveChannelConfig.PartSecondsError(options.PartSeconds) is { } partError)
        {
            throw new InvalidOperationException($"StreamServer:Live:PartSeconds: {partError}");
        }

        _byName = _channels.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var c in options.Channels)
        {
            if (!VodLibrary.IsValidId(c.Name) || string.IsNullOrEmpty(c.Key))
            {
                throw new InvalidOperationException($"StreamServer:Live:Channels: channel '{c.Name}' needs a valid name (A-Z a-z 0-9 _ -) and a key");
            }

            if (LiveChannelConfig.ModeError(c.Mode) is { } modeError)
            {
                throw new InvalidOperationException($"StreamServer:Live:Channels: channel '{c.Name}': {modeError}");
            }

            if (LiveChannelConfig.PartsError(c.Parts.Length > 0 ? c.Parts : options.Parts) is { } partsError)
            {
                throw new InvalidOperationException($"StreamServer:Live: channel '{c.Name}': {partsError}");
            }

            if (c.PartSeconds != 0 && LiveChannelConfig.PartSecondsError(c.PartSeconds) is { } lengthError)
            {
                throw new InvalidOperationException($"StreamServer:Live: channel '{c.Name}': {lengthError}");
            }

            _channels[c.Name] = new LiveChannel(c.Name, c.Key, c.Mode, LiveChannelPackaging.Resolve(options, c));
        }

        IngestIdleTimeout = TimeSpan.FromSeconds(Math.Max(1, options.IngestIdleTimeoutSeconds));
        Metrics.ServerMetrics.Meter.CreateObservableCounter("streamserver_live_ingest_bytes_total", () => Each(static c => c.IngestBytes, null),
            unit: "By", description: "Bytes of audio and video tags received from publishers, by channel (since the channel's current publish began).");
        Metrics.ServerMetrics.Meter.CreateObservableCounter("streamserver_live_ingest_frames_total", () =>
        {
            var list = Each(static c => c.VideoFrames, "video");
            list.AddRange(Each(static c => c.AudioFrames, "audio"));
            return list;
        }, description: "Video and audio frames received from publishers, by channel and kind (since the channel's current publish began).");
        Metrics.ServerMetrics.Meter.CreateObservableGauge("streamserver_live_viewers", () => Each(static c => c.Viewers.Count(), null),
            description: "Client connections that fetched the channel's playlists, segments or parts in the last 10 s.");
        Metrics.ServerMetrics.Meter.CreateObservableGauge("streamserver_live_blocked_reloads", static () => LiveReloadGate.Waiting,
            description: "LL-HLS requests waiting for the next segment or part (blocking playlist reloads, preload-hinted parts).");
        Metrics.ServerMetrics.Meter.CreateObservableGauge("streamserver_live_publishing", () =>
            Each(static c => c.State == LiveChannelState.Live ? 1 : 0, null), description: "1 while a publisher is live on the channel.");
    }

    /// <summary>How long a publisher may send nothing before it is disconnected.</summary>
    public TimeSpan IngestIdleTimeout { get; }

    // Scrape-time only (a few channels): allocation here is fine.
    private List<System.Diagnostics.Metrics.Measurement<long>> Each(Func<LiveChannel, long> value, string? kind)
    {
        var list = new List<System.Diagnostics.Metrics.Measurement<long>>();
        foreach (var c in _channels.Values)
        {
            list.Add(kind is null
                ? new(value(c), new KeyValuePair<string, object?>("channel", c.Name))
                : new(value(c), new KeyValuePair<string, object?>("channel", c.Name), new KeyValuePair<string, object?>("kind", kind)));
        }

        return list;
    }

    public LiveChannel? Find(string name) => _channels.TryGetValue(name, out var c) ? c : null;

    /// <summary>The channel a served-file key ("live/{channel}/...") belongs to, looked up without allocating.</summary>
    public LiveChannel? FindByKey(ReadOnlySpan<char> key)
    {
        var rest = key[(Vod.VodPath.LiveRoot.Length + 1)..];
        var slash = rest.IndexOf('/');
        return slash > 0 && _byName.TryGetValue(rest[..slash], out var c) ? c : null;
    }

    /// <summary>Adds a channel with a new random stream key; null when the name is taken.</summary>
    public LiveChannel? Create(string name, string mode, string? parts = null)
    {
        var channel = new LiveChannel(name, Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)), mode,
            LiveChannelPackaging.Resolve(_options, parts is null ? null : new LiveChannelConfig { Parts = parts }));
        return _channels.TryAdd(name, channel) ? channel : null;
    }

    /// <summary>A channel fed by the server itself: its key is random and never shown, so no publisher can use it.</summary>
    public LiveChannel? AddBuiltIn(string name, string mode) => Create(name, mode);

    /// <summary>Removes a channel; a live publisher keeps its connection until it stops, but cannot publish again.</summary>
    public bool Remove(string name) => _channels.TryRemove(name, out _);

    public IEnumerable<LiveChannel> All => _channels.Values;
}
