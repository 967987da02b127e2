using StreamServer.Tracing;

namespace StreamServer.Charts;

/// <summary>
/// What the charts draw: one row per second for the last hour (send-syscall latency per log2 bucket, summed over the
/// syscalls; retransmitted segments by side), taken from the tracers' map totals once a second. Charts read this ring,
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
    private int _next;
    private int _count;
    private long[]? _lastSend;
    private ulong _lastServer;
    private ulong _lastClient;

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

    /// <summary>Appends the second <paramref name="unixSecond"/> from tracer totals (the change since the previous call).</summary>
    public void Sample(TracerSnapshot snapshot, long unixSecond)
    {
        var cumulative = new long[Rows];
        foreach (var sc in snapshot.Send)
        {
            for (var slot = 0; slot < sc.Histogram.Length; slot++)
            {
                cumulative[Math.Clamp(slot, FirstSlot, LastSlot) - FirstSlot] += (long)sc.Histogram[slot];
            }
        }

        if (_lastSend is not null)
        {
            Span<long> row = stackalloc long[Rows];
            for (var r = 0; r < Rows; r++)
            {
                row[r] = Math.Max(0, cumulative[r] - _lastSend[r]);
            }

            Append(unixSecond, row, (long)(snapshot.RetransmitSegmentsServer - Math.Min(_lastServer, snapshot.RetransmitSegmentsServer)),
                (long)(snapshot.RetransmitSegmentsClient - Math.Min(_lastClient, snapshot.RetransmitSegmentsClient)));
        }

        _lastSend = cumulative;
        _lastServer = snapshot.RetransmitSegmentsServer;
        _lastClient = snapshot.RetransmitSegmentsClient;
    }

    /// <summary>Appends one second of counts (also how tests feed synthetic data).</summary>
    public void Append(long unixSecond, ReadOnlySpan<long> sendRow, long retransmitsServer, long retransmitsClient)
    {
        lock (_gate)
        {
            _seconds[_next] = unixSecond;
            for (var r = 0; r < Rows; r++)
            {
                _send[_next, r] = r < sendRow.Length ? sendRow[r] : 0;
            }

            _retransServer[_next] = retransmitsServer;
            _retransClient[_next] = retransmitsClient;
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

            var data = new ChartData(newest, windowSeconds, take);
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
