using HdrHistogram;

namespace StreamServer.LoadTest.Stats;

/// <summary>
/// Latencies of one worker in microseconds (1 us to 60 s, 3 significant digits), errors by kind and status, bytes. Each
/// worker owns one, so recording takes no lock; the run merges them at the end. With an open-model load a latency is
/// measured from the request's intended start, not from when a busy worker got to send it (no coordinated omission).
/// </summary>
internal sealed class LatencyRecorder
{
    private const long HighestMicroseconds = 60_000_000;

    public LongHistogram Histogram { get; } = new(HighestMicroseconds, 3);

    public long Requests { get; private set; }

    public long Bytes { get; private set; }

    public Dictionary<ErrorKind, long> Errors { get; } = [];

    public Dictionary<int, long> ErrorStatuses { get; } = [];

    public string? FirstError { get; private set; }

    public long ErrorCount
    {
        get
        {
            long n = 0;
            foreach (var (_, count) in Errors)
            {
                n += count;
            }

            return n;
        }
    }

    public void Success(long microseconds, long bytes)
    {
        Requests++;
        Bytes += bytes;
        Histogram.RecordValue(Math.Clamp(microseconds, 1, HighestMicroseconds));
    }

    public void Failure(ErrorKind kind, string message, int status = 0)
    {
        Requests++;
        Errors[kind] = Errors.GetValueOrDefault(kind) + 1;
        if (kind == ErrorKind.Status)
        {
            ErrorStatuses[status] = ErrorStatuses.GetValueOrDefault(status) + 1;
        }

        FirstError ??= message;
    }

    public void Add(LatencyRecorder other)
    {
        Histogram.Add(other.Histogram);
        Requests += other.Requests;
        Bytes += other.Bytes;
        foreach (var (kind, n) in other.Errors)
        {
            Errors[kind] = Errors.GetValueOrDefault(kind) + n;
        }

        foreach (var (status, n) in other.ErrorStatuses)
        {
            ErrorStatuses[status] = ErrorStatuses.GetValueOrDefault(status) + n;
        }

        FirstError ??= other.FirstError;
    }

    /// <summary>The latency at <paramref name="percentile"/> (0-100) in milliseconds; NaN with no successful request.</summary>
    public double Milliseconds(double percentile) =>
        Histogram.TotalCount == 0 ? double.NaN : Histogram.GetValueAtPercentile(percentile) / 1000.0;

    /// <summary>"status 404 x3, timeout x1" (empty when nothing failed).</summary>
    public string DescribeErrors()
    {
        var parts = new List<string>();
        foreach (var (status, n) in ErrorStatuses)
        {
            parts.Add($"status {status} x{n}");
        }

        foreach (var (kind, n) in Errors)
        {
            if (kind != ErrorKind.Status)
            {
                parts.Add($"{kind.ToString().ToLowerInvariant()} x{n}");
            }
        }

        return string.Join(", ", parts);
    }
}
