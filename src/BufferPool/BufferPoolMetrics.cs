using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace StreamServer.BufferPool;

/// <summary>
/// The pool's instruments, named with their final Prometheus family names (the server exports every meter
/// whose name starts with "StreamServer"). Counts are derived at collection time from per-block state and
/// rare-event counters, so renting and returning touch no shared counter.
/// </summary>
internal sealed class BufferPoolMetrics : IDisposable
{
    public const string MeterName = "StreamServer.BufferPool";

    private static readonly KeyValuePair<string, object?> Free = new("state", "free");
    private static readonly KeyValuePair<string, object?> Leased = new("state", "leased");
    private static readonly KeyValuePair<string, object?> Exhausted = new("reason", "exhausted");
    private static readonly KeyValuePair<string, object?> Timeout = new("reason", "timeout");

    private readonly Meter _meter = new(MeterName);
    private readonly Histogram<double> _leaseSeconds;

    public BufferPoolMetrics(MemfdBufferPool pool)
    {
        _meter.CreateObservableGauge("streamserver_bufferpool_bytes", () =>
        {
            var stats = pool.GetStatistics();
            return new[] { new Measurement<long>(stats.FreeBytes, Free), new Measurement<long>(stats.LeasedBytes, Leased) };
        }, unit: "By", description: "Buffer pool bytes by state (free + leased = capacity).");
        _meter.CreateObservableGauge("streamserver_bufferpool_capacity_bytes", () => pool.CapacityBytes,
            unit: "By", description: "Fixed capacity of the memfd-backed buffer pool.");
        _meter.CreateObservableCounter("streamserver_bufferpool_allocations_total", () => pool.GetStatistics().Allocations,
            description: "Blocks rented from the buffer pool.");
        _meter.CreateObservableCounter("streamserver_bufferpool_failures_total", () => new[]
        {
            new Measurement<long>(pool.ExhaustedFailures, Exhausted),
            new Measurement<long>(pool.TimeoutFailures, Timeout),
        }, description: "Rents that failed: exhausted (immediate) or timeout (waited and gave up).");
        _leaseSeconds = _meter.CreateHistogram("streamserver_bufferpool_lease_seconds", unit: "s",
            description: "Time from rent to the last release of a block (sampled: one rent in 64 per block, the first always).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60, 300] });
    }

    public Histogram<double> LeaseSeconds => _leaseSeconds;

    public void RecordLease(long rentTimestamp)
    {
        if (_leaseSeconds.Enabled)
        {
            _leaseSeconds.Record(Stopwatch.GetElapsedTime(rentTimestamp).TotalSeconds);
        }
    }

    public void Dispose() => _meter.Dispose();
}
