using System.Diagnostics;

namespace StreamServer.Metrics;

/// <summary>One request that landed in a histogram bucket: its id, its value and when (OpenMetrics exemplar).</summary>
public readonly record struct Exemplar(string RequestId, double Value, double UnixSeconds);

/// <summary>A histogram family whose buckets carry exemplars: asked at scrape time, per series and bucket.</summary>
public interface IExemplarSource
{
    string FamilyName { get; }

    /// <param name="bucket">Index into the family's upper bounds; one past the last is +Inf.</param>
    bool TryGet(ReadOnlySpan<KeyValuePair<string, string>> labels, int bucket, out Exemplar exemplar);
}

/// <summary>
/// The latest request of one bucket, refreshed at most once a second: the serving path checks a timestamp (no lock, no
/// allocation) and only a due offer takes the lock and formats the request id, so exemplars cost nothing per request.
/// </summary>
public sealed class ExemplarSlot
{
    private static readonly long Interval = Stopwatch.Frequency;
    private readonly Lock _gate = new();
    private long _lastTicks = long.MinValue / 2;
    private Exemplar _exemplar;
    private bool _set;

    public bool Due(long nowTicks) => nowTicks - Volatile.Read(ref _lastTicks) >= Interval;

    public void Set(long nowTicks, string requestId, double value)
    {
        lock (_gate)
        {
            _lastTicks = nowTicks;
            _exemplar = new Exemplar(requestId, value, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
            _set = true;
        }
    }

    public bool TryGet(out Exemplar exemplar)
    {
        lock (_gate)
        {
            exemplar = _exemplar;
            return _set;
        }
    }
}
