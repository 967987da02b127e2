using StreamServer.Tracing;

namespace StreamServer.Charts;

/// <summary>
/// What the charts draw: one row per second for the last hour (send-syscall latency per log2 bucket, summed over the
/// syscalls; retransmitted segments by side; requests and their P50/P99 duration per kind), taken once a second from the
/// tracers' map totals and the request-duration histogram /metrics shows. Charts read this ring,
/// never the kernel's event ring buffer, so a render cannot hold tracing up; the ring is bounded (3600 x 27 counts).
/// </summary>
public sealed class ChartHistory
{
    public const int Capacity = 3600;

    /// <summary>Kernel log2 slots drawn (le = 2^(slot+1) ns: 1.024 us .. 68.7 s), lower and higher ones folded in, as on /metrics.</summary>
    public const int FirstSlot = 9;

    public const int LastSlot = 35;
    public const int Rows = LastSlot - FirstSlot + 1;

    private readonly Lock _gate = new();
    private readonly long[] _seconds = new long[Capacity];
    private readonly long[,] _send = new long[Capacity, Rows];
    private readonly long[] _retransServer = new long[Capacity];
    private readonly long[] _retransClient = new long[Capacity];
    private readonly long[,] _requests = new long[Capacity, RequestKinds.Length];
    private readonly double[,,] _requestMs = new double[Capacity, RequestKinds.Length, 2];
    private Dictionary<string, long[]>? _lastRequests;
    private int _next;
    private int _count;
    private long[]? _lastSend;
    private ulong _lastServer;
    private ulong _lastClient;

    /// <summary>Live channels charted: the first ones seen, so the history stays bounded.</summary>
    public const int MaxLiveChannels = 8;

    private readonly List<string> _liveChannels = [];
    private readonly double[,,] _live = new double[Capacity, MaxLiveChannels, 3]; // ingest bit/s, viewers, publish delay P50 (s)
    private Dictionary<string, double>? _lastIngestBytes;
    private Dictionary<string, long[]>? _lastDelay;

    /// <summary>Request kinds charted (the kind label of streamserver_http_requests_total).</summary>
    public static readonly string[] RequestKinds = ["playlist", "segment", "init", "mpd", "image", "api", "other"];

    /// <summary>Upper bound of each row, seconds.</summary>
    public static double RowUpperBound(int row) => Math.Pow(2, FirstSlot + row + 1) / 1e9;

    /// <summary>The newest second appended (Unix seconds), 0 before the first.</summary>
    public long LastSecond
    {
        get
        {
            lock (_gate)
            {
                return _count == 0 ? 0 : _seconds[(_next + Capacity - 1) % Capacity];
            }
        }
    }

    /// <summary>
    /// Appends the second <paramref name="unixSecond"/>: the change since the previous call of the tracers' totals (none
    /// when they are not attached) and of the request-duration buckets by kind (<paramref name="requestBuckets"/>: per
    /// bucket of <see cref="Metrics.ServerMetrics.HttpRequestDurationBuckets"/>, then the overflow).
    /// </summary>
    public void Sample(TracerSnapshot? snapshot, Dictionary<string, long[]> requestBuckets, long unixSecond)
    {
        Span<long> requests = stackalloc long[RequestKinds.Length];
        Span<double> requestMs = stackalloc double[RequestKinds.Length * 2];
        requestMs.Fill(double.NaN); // a kind with no request this second has no percentile
        for (var k = 0; k < RequestKinds.Length; k++)
        {
            if (!requestBuckets.TryGetValue(RequestKinds[k], out var now))
            {
                continue;
            }

            var before = _lastRequests?.GetValueOrDefault(RequestKinds[k]);
            var delta = new long[now.Length];
            for (var b = 0; b < now.Length; b++)
            {
                delta[b] = Math.Max(0, now[b] - (before is null ? 0 : before[b]));
                requests[k] += delta[b];
            }

            requestMs[k * 2] = Percentile(delta, requests[k], 0.5);
            requestMs[(k * 2) + 1] = Percentile(delta, requests[k], 0.99);
        }

        var first = _lastRequests is null;
        _lastRequests = requestBuckets;
        Span<long> row = stackalloc long[Rows];
        long server = 0, client = 0;
        if (snapshot is not null)
        {
            var cumulative = SendTotals(snapshot);
            if (_lastSend is not null)
            {
                for (var r = 0; r < Rows; r++)
                {
                    row[r] = Math.Max(0, cumulative[r] - _lastSend[r]);
                }

                server = (long)(snapshot.RetransmitSegmentsServer - Math.Min(_lastServer, snapshot.RetransmitSegmentsServer));
                client = (long)(snapshot.RetransmitSegmentsClient - Math.Min(_lastClient, snapshot.RetransmitSegmentsClient));
            }

            _lastSend = cumulative;
            _lastServer = snapshot.RetransmitSegmentsServer;
            _lastClient = snapshot.RetransmitSegmentsClient;
        }

        if (!first)
        {
            Append(unixSecond, row, server, client, requests, requestMs);
        }
    }

    /// <summary>
    /// Live channels for the second about to be appended (call before <see cref="Sample"/>): ingest bytes (cumulative),
    /// viewers, publish-delay buckets (cumulative, <see cref="LiveDelayBuckets"/>), each by channel.
    /// </summary>
    public void SampleLive(Dictionary<string, double> ingestBytes, Dictionary<string, double> viewers, Dictionary<string, long[]> delayBuckets)
    {
        lock (_gate)
        {
            foreach (var channel in ingestBytes.Keys)
            {
                if (!_liveChannels.Contains(channel) && _liveChannels.Count < MaxLiveChannels)
                {
                    _liveChannels.Add(channel);
                }
            }

            for (var c = 0; c < _liveChannels.Count; c++)
            {
                var name = _liveChannels[c];
                var bytes = ingestBytes.GetValueOrDefault(name);
                var before = _lastIngestBytes?.GetValueOrDefault(name, bytes) ?? bytes;
                _pendingLive[c, 0] = Math.Max(0, bytes - before) * 8;
                _pendingLive[c, 1] = viewers.GetValueOrDefault(name);
                _pendingLive[c, 2] = double.NaN;
                if (delayBuckets.TryGetValue(name, out var now))
                {
                    var last = _lastDelay?.GetValueOrDefault(name);
                    long total = 0, seen = 0;
                    var delta = new long[now.Length];
                    for (var b = 0; b < now.Length; b++)
                    {
                        delta[b] = Math.Max(0, now[b] - (last is null ? 0 : last[b]));
                        total += delta[b];
                    }

                    for (var b = 0; b < delta.Length && total > 0; b++)
                    {
                        seen += delta[b];
                        if (seen * 2 >= total)
                        {
                            _pendingLive[c, 2] = b < LiveDelayBuckets.Length ? LiveDelayBuckets[b] : LiveDelayBuckets[^1];
                            break;
                        }
                    }
                }
            }

            _lastIngestBytes = ingestBytes;
            _lastDelay = delayBuckets;
        }
    }

    private readonly double[,] _pendingLive = new double[MaxLiveChannels, 3];

    /// <summary>Upper bounds of streamserver_live_publish_delay_seconds, set by whoever samples it.</summary>
    public double[] LiveDelayBuckets { get; set; } = [];

    /// <summary>The live channels charted, in the order their series are kept.</summary>
    public IReadOnlyList<string> LiveChannels
    {
        get
        {
            lock (_gate)
            {
                return [.. _liveChannels];
            }
        }
    }

    /// <summary>The duration (ms) where the cumulative count reaches <paramref name="q"/>: the bucket's upper bound.</summary>
    private static double Percentile(long[] buckets, long total, double q)
    {
        if (total == 0)
        {
            return double.NaN;
        }

        var bounds = Metrics.ServerMetrics.HttpRequestDurationBuckets;
        long seen = 0;
        for (var b = 0; b < buckets.Length; b++)
        {
            seen += buckets[b];
            if (seen >= q * total)
            {
                return b < bounds.Length ? bounds[b] * 1000 : bounds[^1] * 1000;
            }
        }

        return bounds[^1] * 1000;
    }

    private static long[] SendTotals(TracerSnapshot snapshot)
    {
        var cumulative = new long[Rows];
        foreach (var sc in snapshot.Send)
        {
            for (var slot = 0; slot < sc.Histogram.Length; slot++)
            {
                cumulative[Math.Clamp(slot, FirstSlot, LastSlot) - FirstSlot] += (long)sc.Histogram[slot];
            }
        }

        return cumulative;
    }

    /// <summary>Appends one second of counts (also how tests feed synthetic data).</summary>
    /// <param name="requests">Requests per kind of <see cref="RequestKinds"/> (empty: none).</param>
    /// <param name="requestMs">P50 and P99 per kind, in that order (NaN where a kind had no request).</param>
    public void Append(long unixSecond, ReadOnlySpan<long> sendRow, long retransmitsServer, long retransmitsClient,
        ReadOnlySpan<long> requests = default, ReadOnlySpan<double> requestMs = default)
    {
        lock (_gate)
        {
            for (var k = 0; k < RequestKinds.Length; k++)
            {
                _requests[_next, k] = k < requests.Length ? requests[k] : 0;
                _requestMs[_next, k, 0] = (k * 2) + 1 < requestMs.Length ? requestMs[k * 2] : double.NaN;
                _requestMs[_next, k, 1] = (k * 2) + 1 < requestMs.Length ? requestMs[(k * 2) + 1] : double.NaN;
            }

            _seconds[_next] = unixSecond;
            for (var r = 0; r < Rows; r++)
            {
                _send[_next, r] = r < sendRow.Length ? sendRow[r] : 0;
            }

            _retransServer[_next] = retransmitsServer;
            _retransClient[_next] = retransmitsClient;
            for (var c = 0; c < MaxLiveChannels; c++)
            {
                for (var m = 0; m < 3; m++)
                {
                    _live[_next, c, m] = c < _liveChannels.Count ? _pendingLive[c, m] : double.NaN;
                }
            }
            _next = (_next + 1) % Capacity;
            _count = Math.Min(Capacity, _count + 1);
        }
    }

    /// <summary>A copy of the seconds within <paramref name="windowSeconds"/> of the newest one, oldest first.</summary>
    public ChartData Window(int windowSeconds)
    {
        lock (_gate)
        {
            var newest = _count == 0 ? DateTimeOffset.UtcNow.ToUnixTimeSeconds() : _seconds[(_next + Capacity - 1) % Capacity];
            var take = 0;
            while (take < _count && newest - _seconds[(_next + Capacity - 1 - take) % Capacity] < windowSeconds)
            {
                take++;
            }

            var data = new ChartData(newest, windowSeconds, take) { LiveChannels = [.. _liveChannels] };
            for (var i = 0; i < take; i++)
            {
                var at = (_next + Capacity - take + i) % Capacity;
                data.Seconds[i] = _seconds[at];
                for (var r = 0; r < Rows; r++)
                {
                    data.Send[i, r] = _send[at, r];
                }

                data.RetransmitsServer[i] = _retransServer[at];
                data.RetransmitsClient[i] = _retransClient[at];
                for (var c = 0; c < MaxLiveChannels; c++)
                {
                    data.LiveBitsPerSecond[i, c] = _live[at, c, 0];
                    data.LiveViewers[i, c] = _live[at, c, 1];
                    data.LivePublishDelaySeconds[i, c] = _live[at, c, 2];
                }

                for (var k = 0; k < RequestKinds.Length; k++)
                {
                    data.Requests[i, k] = _requests[at, k];
                    data.RequestP50Ms[i, k] = _requestMs[at, k, 0];
                    data.RequestP99Ms[i, k] = _requestMs[at, k, 1];
                }
            }

            return data;
        }
    }
}

/// <summary>The seconds of one chart window, oldest first.</summary>
public sealed class ChartData(long newestSecond, int windowSeconds, int count)
{
    public long NewestSecond { get; } = newestSecond;
    public int WindowSeconds { get; } = windowSeconds;
    public long[] Seconds { get; } = new long[count];
    public long[,] Send { get; } = new long[count, ChartHistory.Rows];
    public long[] RetransmitsServer { get; } = new long[count];
    public long[] RetransmitsClient { get; } = new long[count];
    public long[,] Requests { get; } = new long[count, ChartHistory.RequestKinds.Length];
    public double[,] RequestP50Ms { get; } = new double[count, ChartHistory.RequestKinds.Length];
    public double[,] RequestP99Ms { get; } = new double[count, ChartHistory.RequestKinds.Length];
    public IReadOnlyList<string> LiveChannels { get; init; } = [];
    public double[,] LiveBitsPerSecond { get; } = new double[count, ChartHistory.MaxLiveChannels];
    public double[,] LiveViewers { get; } = new double[count, ChartHistory.MaxLiveChannels];
    public double[,] LivePublishDelaySeconds { get; } = new double[count, ChartHistory.MaxLiveChannels];

    public bool HasSendData
    {
        get
        {
            foreach (var v in Send)
            {
                if (v > 0)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
