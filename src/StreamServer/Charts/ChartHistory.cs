using StreamServer.Tracing;

namespace StreamServer.Charts;

/// <summary>
/// What the charts draw: one row per second for the last hour (send-syscall latency per log2 bucket, summed over the
/// syscalls; retransmitted segments by side; requests and their P50/P99 duration per kind; live channels), added to
/// several times a second from the tracers' map totals and the histograms /metrics shows. Charts read this ring,
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
    private readonly long[] _wouldBlock = new long[Capacity];
    private readonly long[,] _requests = new long[Capacity, RequestKinds.Length];
    private readonly double[,,] _requestMs = new double[Capacity, RequestKinds.Length, 2];
    private readonly long[][] _lastRequestTotals = NewBuckets(RequestKinds.Length, Metrics.ServerMetrics.HttpRequestDurationBuckets.Length + 1);
    private readonly long[][] _requestDelta = NewBuckets(RequestKinds.Length, Metrics.ServerMetrics.HttpRequestDurationBuckets.Length + 1);
    private bool _sampled;
    private int _next;
    private int _count;
    private long[]? _lastSend;
    private ulong _lastServer;
    private ulong _lastClient;
    private ulong _lastWouldBlock;

    /// <summary>Live channels charted: the first ones seen, so the history stays bounded.</summary>
    public const int MaxLiveChannels = 8;

    private readonly List<string> _liveChannels = [];
    private readonly double[,,] _live = new double[Capacity, MaxLiveChannels, 3]; // ingest bit/s, viewers, publish delay P50 (s)

    /// <summary>TCP states retransmit events are charted by (the state the socket was in; anything else is "other").</summary>
    public static readonly string[] RetransmitStates = ["ESTABLISHED", "SYN_RECV", "FIN_WAIT1", "CLOSE_WAIT", "LAST_ACK", "other"];

    private readonly long[,] _retransByState = new long[Capacity, RetransmitStates.Length];
    private readonly long[] _pendingStates = new long[RetransmitStates.Length];

    /// <summary>A retransmit event (from the tracers' event stream): counted into the current second at the next sample.</summary>
    public void AddRetransmit(string? state, int segments)
    {
        var index = Array.IndexOf(RetransmitStates, state);
        lock (_gate)
        {
            _pendingStates[index < 0 ? RetransmitStates.Length - 1 : index] += Math.Max(1, segments);
        }
    }

    /// <summary>Request kinds charted (the kind label of streamserver_http_requests_total).</summary>
    public static readonly string[] RequestKinds = ["playlist", "segment", "init", "mpd", "image", "api", "other"];

    /// <summary>Upper bound of each row, seconds.</summary>
    public static double RowUpperBound(int row) => Math.Pow(2, FirstSlot + row + 1) / 1e9;

    /// <summary>Changes with every sample or append: what a rendered chart is cached against.</summary>
    public long Version => Interlocked.Read(ref _version);

    private long _version;

    // The current second's buckets so far (its percentiles are recomputed as samples add to it).
    private readonly long[][] _secondRequestBuckets = NewBuckets(RequestKinds.Length, Metrics.ServerMetrics.HttpRequestDurationBuckets.Length + 1);
    private long[][] _secondDelayBuckets = NewBuckets(MaxLiveChannels, 0);
    private readonly double[,] _liveDelta = new double[MaxLiveChannels, 2]; // ingest bits, viewers (latest)
    private readonly long[][] _liveDelayDelta = NewBuckets(MaxLiveChannels, 0);

    /// <summary>
    /// Adds what changed since the previous call to the row of <paramref name="unixSecond"/> (a new row when that second
    /// has none yet): the tracers' totals (none when they are not attached) and the request-duration buckets by kind
    /// (<paramref name="requestBuckets"/>: per bucket of <see cref="Metrics.ServerMetrics.HttpRequestDurationBuckets"/>,
    /// then the overflow). Called several times a second, so a chart shows an event well within a second of it.
    /// </summary>
    public void Sample(TracerSnapshot? snapshot, Dictionary<string, long[]> requestBuckets, long unixSecond)
    {
        // Deltas against this history's own copy of the previous totals: nothing here is allocated per call, so sampling
        // several times a second leaves the serving path's allocation figures alone.
        var requestDelta = _requestDelta;
        for (var k = 0; k < RequestKinds.Length; k++)
        {
            Array.Clear(requestDelta[k]);
            if (requestBuckets.TryGetValue(RequestKinds[k], out var now) && now.Length == requestDelta[k].Length)
            {
                var before = _lastRequestTotals[k];
                for (var b = 0; b < now.Length; b++)
                {
                    requestDelta[k][b] = Math.Max(0, now[b] - before[b]);
                    before[b] = now[b];
                }
            }
        }

        var first = !_sampled;
        _sampled = true;
        Span<long> send = stackalloc long[Rows];
        long server = 0, client = 0, wouldBlock = 0;
        if (snapshot is not null)
        {
            Span<long> cumulative = stackalloc long[Rows];
            var wouldBlockTotal = SendTotals(snapshot, cumulative);
            if (_lastSend is not null)
            {
                for (var r = 0; r < Rows; r++)
                {
                    send[r] = Math.Max(0, cumulative[r] - _lastSend[r]);
                }

                server = (long)(snapshot.RetransmitSegmentsServer - Math.Min(_lastServer, snapshot.RetransmitSegmentsServer));
                client = (long)(snapshot.RetransmitSegmentsClient - Math.Min(_lastClient, snapshot.RetransmitSegmentsClient));
                wouldBlock = (long)(wouldBlockTotal - Math.Min(_lastWouldBlock, wouldBlockTotal));
            }

            _lastSend ??= new long[Rows];
            cumulative.CopyTo(_lastSend);
            _lastServer = snapshot.RetransmitSegmentsServer;
            _lastClient = snapshot.RetransmitSegmentsClient;
            _lastWouldBlock = wouldBlockTotal;
        }

        if (first)
        {
            return; // the first call only sets the baseline
        }

        lock (_gate)
        {
            var newest = (_next + Capacity - 1) % Capacity;
            if (_count == 0 || _seconds[newest] != unixSecond)
            {
                AppendLocked(unixSecond, [], 0, 0, [], []);
                newest = (_next + Capacity - 1) % Capacity;
                foreach (var buckets in _secondRequestBuckets)
                {
                    Array.Clear(buckets);
                }

                foreach (var buckets in _secondDelayBuckets)
                {
                    Array.Clear(buckets);
                }
            }

            for (var r = 0; r < Rows; r++)
            {
                _send[newest, r] += send[r];
            }

            _retransServer[newest] += server;
            _retransClient[newest] += client;
            _wouldBlock[newest] += wouldBlock;
            for (var t = 0; t < RetransmitStates.Length; t++)
            {
                _retransByState[newest, t] += _pendingStates[t];
                _pendingStates[t] = 0;
            }

            for (var k = 0; k < RequestKinds.Length; k++)
            {
                long total = 0;
                for (var b = 0; b < requestDelta[k].Length; b++)
                {
                    _secondRequestBuckets[k][b] += requestDelta[k][b];
                    total += _secondRequestBuckets[k][b];
                }

                _requests[newest, k] = total;
                _requestMs[newest, k, 0] = Percentile(_secondRequestBuckets[k], total, 0.5, Metrics.ServerMetrics.HttpRequestDurationBuckets) * 1000;
                _requestMs[newest, k, 1] = Percentile(_secondRequestBuckets[k], total, 0.99, Metrics.ServerMetrics.HttpRequestDurationBuckets) * 1000;
            }

            for (var c = 0; c < MaxLiveChannels; c++)
            {
                if (c >= _liveChannels.Count)
                {
                    continue;
                }

                _live[newest, c, 0] = (double.IsNaN(_live[newest, c, 0]) ? 0 : _live[newest, c, 0]) + _liveDelta[c, 0];
                _live[newest, c, 1] = _liveDelta[c, 1];
                if (_secondDelayBuckets[c].Length != _liveDelayDelta[c].Length)
                {
                    _secondDelayBuckets[c] = new long[_liveDelayDelta[c].Length];
                }

                long total = 0;
                for (var b = 0; b < _liveDelayDelta[c].Length; b++)
                {
                    _secondDelayBuckets[c][b] += _liveDelayDelta[c][b];
                    total += _secondDelayBuckets[c][b];
                }

                _live[newest, c, 2] = Percentile(_secondDelayBuckets[c], total, 0.5, LiveDelayBuckets);
                _liveDelta[c, 0] = 0;
                Array.Clear(_liveDelayDelta[c]);
            }

            _version++;
        }
    }

    /// <summary>
    /// One live channel since the previous call (call before <see cref="Sample"/>, which adds it to the current second):
    /// ingest bytes (cumulative), viewers now, publish-delay buckets (cumulative, <see cref="LiveDelayBuckets"/>).
    /// Channels past <see cref="MaxLiveChannels"/> are not charted.
    /// </summary>
    public void SampleLive(string channel, long ingestBytes, int viewers, long[]? delayBuckets)
    {
        lock (_gate)
        {
            var c = _liveChannels.IndexOf(channel);
            if (c < 0)
            {
                if (_liveChannels.Count == MaxLiveChannels)
                {
                    return;
                }

                _liveChannels.Add(channel);
                c = _liveChannels.Count - 1;
                _lastIngestBytes[c] = ingestBytes;
            }

            _liveDelta[c, 0] += Math.Max(0, ingestBytes - _lastIngestBytes[c]) * 8;
            _liveDelta[c, 1] = viewers;
            _lastIngestBytes[c] = ingestBytes;
            if (delayBuckets is not null)
            {
                if (_lastDelayTotals[c].Length != delayBuckets.Length)
                {
                    _lastDelayTotals[c] = (long[])delayBuckets.Clone();
                    _liveDelayDelta[c] = new long[delayBuckets.Length];
                    return;
                }

                for (var b = 0; b < delayBuckets.Length; b++)
                {
                    _liveDelayDelta[c][b] += Math.Max(0, delayBuckets[b] - _lastDelayTotals[c][b]);
                    _lastDelayTotals[c][b] = delayBuckets[b];
                }
            }
        }
    }

    private readonly long[] _lastIngestBytes = new long[MaxLiveChannels];
    private readonly long[][] _lastDelayTotals = NewBuckets(MaxLiveChannels, 0);

    private static long[][] NewBuckets(int count, int length)
    {
        var buckets = new long[count][];
        for (var i = 0; i < count; i++)
        {
            buckets[i] = new long[length];
        }

        return buckets;
    }

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

    /// <summary>The upper bound (in the bounds' unit) of the bucket where the count reaches <paramref name="q"/>; NaN with no count.</summary>
    private static double Percentile(long[] buckets, long total, double q, double[] bounds)
    {
        if (total == 0 || bounds.Length == 0)
        {
            return double.NaN;
        }

        long seen = 0;
        for (var b = 0; b < buckets.Length; b++)
        {
            seen += buckets[b];
            if (seen >= q * total)
            {
                return b < bounds.Length ? bounds[b] : bounds[^1];
            }
        }

        return bounds[^1];
    }

    // Fills the cumulative histogram rows of every send syscall; returns their EAGAIN total.
    private static ulong SendTotals(TracerSnapshot snapshot, Span<long> cumulative)
    {
        ulong wouldBlock = 0;
        foreach (var sc in snapshot.Send)
        {
            wouldBlock += sc.WouldBlock;
            for (var slot = 0; slot < sc.Histogram.Length; slot++)
            {
                cumulative[Math.Clamp(slot, FirstSlot, LastSlot) - FirstSlot] += (long)sc.Histogram[slot];
            }
        }

        return wouldBlock;
    }

    /// <summary>Appends one second of counts (also how tests feed synthetic data).</summary>
    /// <param name="requests">Requests per kind of <see cref="RequestKinds"/> (empty: none).</param>
    /// <param name="requestMs">P50 and P99 per kind, in that order (NaN where a kind had no request).</param>
    /// <param name="wouldBlock">Send syscalls that found the socket buffer full (EAGAIN).</param>
    public void Append(long unixSecond, ReadOnlySpan<long> sendRow, long retransmitsServer, long retransmitsClient,
        ReadOnlySpan<long> requests = default, ReadOnlySpan<double> requestMs = default, long wouldBlock = 0)
    {
        lock (_gate)
        {
            AppendLocked(unixSecond, sendRow, retransmitsServer, retransmitsClient, requests, requestMs);
            _wouldBlock[(_next + Capacity - 1) % Capacity] = wouldBlock;
            _version++;
        }
    }

    private void AppendLocked(long unixSecond, ReadOnlySpan<long> sendRow, long retransmitsServer, long retransmitsClient,
        ReadOnlySpan<long> requests, ReadOnlySpan<double> requestMs)
    {
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
            _wouldBlock[_next] = 0;
            for (var t = 0; t < RetransmitStates.Length; t++)
            {
                _retransByState[_next, t] = 0;
            }

            for (var c = 0; c < MaxLiveChannels; c++)
            {
                for (var m = 0; m < 3; m++)
                {
                    _live[_next, c, m] = double.NaN;
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
                data.SendWouldBlock[i] = _wouldBlock[at];
                for (var t = 0; t < RetransmitStates.Length; t++)
                {
                    data.RetransmitsByState[i, t] = _retransByState[at, t];
                }

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

    /// <summary>Send syscalls per second that returned EAGAIN (socket buffer full: clients reading slower than we send).</summary>
    public long[] SendWouldBlock { get; } = new long[count];

    /// <summary>Retransmitted segments per second by TCP state, from the event stream (the totals above are the kernel counters).</summary>
    public long[,] RetransmitsByState { get; } = new long[count, ChartHistory.RetransmitStates.Length];
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
