using System.Collections.Concurrent;

namespace StreamServer.LoadTest;

/// <summary>Per-request samples, summarised as percentiles per object kind at the end.</summary>
internal sealed class LoadStats
{
    private readonly ConcurrentQueue<(string Kind, int Status, double Ttfb, double Total, long Bytes)> _samples = new();
    private long _stalls;

    public long Requests => _samples.Count;
    public long Errors { get; private set; }

    public void Record(string kind, int status, TimeSpan ttfb, TimeSpan total, long bytes)
        => _samples.Enqueue((kind, status, ttfb.TotalMilliseconds, total.TotalMilliseconds, bytes));

    public void Stall() => Interlocked.Increment(ref _stalls);

    public void Print(TextWriter o, TimeSpan elapsed, LoadOptions options)
    {
        var all = _samples.ToArray();
        Errors = all.Count(s => s.Status is 0 or >= 400);
        var bytes = all.Sum(s => s.Bytes);
        o.WriteLine($"players {options.Players}, pace {(options.Realtime ? "realtime" : "max")}, {(options.Http2 ? "HTTP/2" : "HTTP/1.1")}, {elapsed.TotalSeconds:F1} s");
        o.WriteLine($"requests {all.Length} ({all.Length / elapsed.TotalSeconds:F0}/s), errors {Errors}, throughput {bytes / elapsed.TotalSeconds / 1e6:F1} MB/s, stalls {_stalls}");
        o.WriteLine("kind        count   ttfb p50/p90/p99 ms        total p50/p90/p99 ms");
        foreach (var group in all.GroupBy(s => s.Kind).OrderBy(g => g.Key))
        {
            var ttfb = group.Select(s => s.Ttfb).Order().ToArray();
            var total = group.Select(s => s.Total).Order().ToArray();
            o.WriteLine($"{group.Key,-10} {ttfb.Length,6}   {P(ttfb, 50),6:F2} {P(ttfb, 90),6:F2} {P(ttfb, 99),7:F2}      {P(total, 50),6:F2} {P(total, 90),6:F2} {P(total, 99),7:F2}");
        }
    }

    private static double P(double[] sorted, int p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1)];
}
