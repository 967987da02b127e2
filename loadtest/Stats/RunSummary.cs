using System.Globalization;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace StreamServer.LoadTest.Stats;

/// <summary>Latency percentiles of one kind of request (time to first byte for players, whole answer for raw-qps).</summary>
internal sealed record LatencyRow(string Kind, long Requests, double P50Ms, double P90Ms, double P99Ms, double P999Ms, double P9999Ms, double MaxMs)
{
    public static LatencyRow From(string kind, HistogramBase h) => new(kind, h.TotalCount,
        Ms(h, 50), Ms(h, 90), Ms(h, 99), Ms(h, 99.9), Ms(h, 99.99), h.TotalCount == 0 ? double.NaN : h.GetMaxValue() / 1000.0);

    private static double Ms(HistogramBase h, double p) => h.TotalCount == 0 ? double.NaN : h.GetValueAtPercentile(p) / 1000.0;
}

/// <summary>How many latencies fell in [<paramref name="FromMs"/>, <paramref name="ToMs"/>): the report's histogram, log2 buckets.</summary>
internal sealed record HistogramBucket(double FromMs, double ToMs, long Count);

/// <summary>What a run measured: printed to the console and, with --report, written as summary.json, summary.md,
/// report.html and one HdrHistogram percentile distribution (.hgrm) per request kind.</summary>
internal sealed record RunSummary(string Scenario, string Target, string Load, double Seconds, long Requests, long Bytes,
    long Errors, string ErrorDetail, double ToolCpuMicrosecondsPerRequest, IReadOnlyList<LatencyRow> Latency)
{
    public long Segments { get; init; }

    public long Stalls { get; init; }

    public long Switches { get; init; }

    public long Seeks { get; init; }

    public long PlayersStarted { get; init; }

    /// <summary>Bytes of playlists received over the run.</summary>
    public long PlaylistBytes { get; init; }

    /// <summary>Media playlists checked against the LL-HLS rules and INDEPENDENT parts read for a sync sample; null
    /// when the run did not validate (--validate).</summary>
    public long? PlaylistsValidated { get; init; }

    public long? IndependentPartsChecked { get; init; }

    public long? PlaylistViolations { get; init; }

    /// <summary>Live latency (media behind the wall clock), for live scenarios.</summary>
    public LatencyRow? LiveLatency { get; init; }

    /// <summary>The server's retransmitted TCP segments during the run, when its /metrics was scraped.</summary>
    public double? ServerRetransmits { get; init; }

    public IReadOnlyList<IntervalSample> Timeline { get; init; } = [];

    /// <summary>Log2 buckets of the first latency row's kind.</summary>
    public IReadOnlyList<HistogramBucket> Histogram { get; init; } = [];

    internal IReadOnlyDictionary<string, HistogramBase> Distributions { get; init; } = new Dictionary<string, HistogramBase>();

    public double RequestsPerSecond => Requests / Seconds;

    public bool IsPlayerRun => Scenario != "raw-qps";

    public static RunSummary FromRawQps(string target, string load, double seconds, LatencyRecorder r, TimeSpan toolCpu) => new(
        "raw-qps", target, load, seconds, r.Requests, r.Bytes, r.ErrorCount, r.DescribeErrors(),
        r.Requests == 0 ? double.NaN : toolCpu.TotalMicroseconds / r.Requests, [LatencyRow.From("all", r.Histogram)])
    {
        Histogram = Buckets(r.Histogram),
        Distributions = new Dictionary<string, HistogramBase> { ["all"] = r.Histogram },
    };

    public static RunSummary FromSwarm(string scenario, string target, string load, double seconds, SwarmMetrics m, IReadOnlyList<IntervalSample> timeline,
        TimeSpan toolCpu, bool validated = false)
    {
        var rows = new List<LatencyRow>();
        var distributions = new Dictionary<string, HistogramBase>();
        foreach (var kind in Enum.GetValues<RequestKind>())
        {
            var h = m.Total(kind);
            if (h.TotalCount > 0)
            {
                var name = kind.ToString().ToLowerInvariant();
                rows.Add(LatencyRow.From(name, h));
                distributions[name] = h;
            }
        }

        // Segments (or parts) first: what a viewer waits for.
        rows.Sort(static (a, b) => Rank(a.Kind).CompareTo(Rank(b.Kind)));
        double? retransmits = null;
        foreach (var s in timeline)
        {
            if (s.ServerRetransmits is { } r)
            {
                retransmits = (retransmits ?? 0) + r;
            }
        }

        var main = rows.Count == 0 ? null : distributions[rows[0].Kind];
        return new RunSummary(scenario, target, load, seconds, m.Requests, m.Bytes, m.Errors, m.DescribeErrors(),
            m.Requests == 0 ? double.NaN : toolCpu.TotalMicroseconds / m.Requests, rows)
        {
            Segments = m.Segments,
            Stalls = m.Stalls,
            Switches = m.Switches,
            Seeks = m.Seeks,
            PlayersStarted = m.PlayersStarted,
            PlaylistBytes = m.PlaylistBytes,
            PlaylistsValidated = validated ? m.PlaylistsValidated : null,
            IndependentPartsChecked = validated ? m.IndependentPartsChecked : null,
            PlaylistViolations = validated ? m.ErrorsOf(ErrorKind.Invalid) : null,
            LiveLatency = m.LiveLatencyTotal.TotalCount > 0 ? LatencyRow.From("live latency", m.LiveLatencyTotal) : null,
            ServerRetransmits = retransmits,
            Timeline = timeline,
            Histogram = main is null ? [] : Buckets(main),
            Distributions = distributions,
        };

        static int Rank(string kind) => kind switch { "segment" => 0, "part" => 1, "playlist" => 2, _ => 3 };
    }

    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(string.Create(inv, $"{Scenario}: {Load}, {Seconds:F1} s, {Target}"));
        text.AppendLine(string.Create(inv,
            $"requests {Requests} ({RequestsPerSecond:F0}/s), {(IsPlayerRun ? $"segments {Segments}, " : "")}{Bytes / 1048576.0 / Seconds:F1} MiB/s, errors {Errors}{(Errors > 0 ? " (" + ErrorDetail + ")" : "")}"));
        foreach (var row in Latency)
        {
            text.AppendLine(string.Create(inv,
                $"latency {(row.Kind == "all" ? "" : row.Kind + " ")}ms p50 {row.P50Ms:F3} p90 {row.P90Ms:F3} p99 {row.P99Ms:F3} p99.9 {row.P999Ms:F3} p99.99 {row.P9999Ms:F3} max {row.MaxMs:F3}"));
        }

        if (LiveLatency is { } live)
        {
            text.AppendLine(string.Create(inv, $"live latency s p50 {live.P50Ms / 1000:F2} p99 {live.P99Ms / 1000:F2} max {live.MaxMs / 1000:F2}"));
        }

        if (IsPlayerRun)
        {
            text.AppendLine(string.Create(inv, $"players started {PlayersStarted}, stalls {Stalls}, variant switches {Switches}, seeks {Seeks}, errors {Errors}{(ServerRetransmits is { } r ? $", server retransmits {r:F0}" : "")}"));
            text.AppendLine(string.Create(inv, $"playlist bytes {PlaylistBytes} ({PlaylistBytes / 1024.0 / Seconds * 60:F1} KiB per minute)"));
            if (PlaylistsValidated is { } validated)
            {
                text.AppendLine(string.Create(inv, $"validated {validated} media playlists against the LL-HLS rules ({IndependentPartsChecked} INDEPENDENT parts read), violations {PlaylistViolations}"));
            }
        }

        text.Append(string.Create(inv, $"tool CPU {ToolCpuMicrosecondsPerRequest:F1} us per request ({Environment.ProcessorCount} cores)"));
        return text.ToString();
    }

    /// <summary>The latency rows with live latency after them when there is one: the report's and summary's table.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<LatencyRow> LatencyRows => LiveLatency is null ? Latency : [.. Latency, LiveLatency];

    /// <summary>"N requests (R/s), M MiB/s, errors E (...), tool CPU C us/request": the reports' first line.</summary>
    public string Throughput() => string.Create(CultureInfo.InvariantCulture,
        $"{Requests} requests ({RequestsPerSecond:F0}/s), {Bytes / 1048576.0 / Seconds:F1} MiB/s, errors {Errors}{(Errors > 0 ? " (" + ErrorDetail + ")" : "")}, tool CPU {ToolCpuMicrosecondsPerRequest:F1} us/request");

    /// <summary>What the players did, for player runs.</summary>
    public string PlayerTotals() => string.Create(CultureInfo.InvariantCulture,
        $"players started {PlayersStarted}, segments {Segments}, stalls {Stalls}, variant switches {Switches}, seeks {Seeks}{(ServerRetransmits is { } r ? $", server retransmits {r:F0}" : "")}");

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(string.Create(inv, $"# {Scenario}: {Load}"));
        md.AppendLine();
        md.AppendLine(string.Create(inv, $"Target `{Target}`, {Seconds:F1} s: {Throughput()}."));
        if (IsPlayerRun)
        {
            md.AppendLine(PlayerTotals() + ".");
        }

        md.AppendLine();
        md.AppendLine("| kind | requests | p50 ms | p90 ms | p99 ms | p99.9 ms | p99.99 ms | max ms |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in LatencyRows)
        {
            md.AppendLine(string.Create(inv, $"| {row.Kind} | {row.Requests} | {row.P50Ms:F3} | {row.P90Ms:F3} | {row.P99Ms:F3} | {row.P999Ms:F3} | {row.P9999Ms:F3} | {row.MaxMs:F3} |"));
        }

        return md.ToString();
    }

    public void WriteReport(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "summary.json"), JsonSerializer.Serialize(this, JsonOptions));
        File.WriteAllText(Path.Combine(folder, "summary.md"), ToMarkdown());
        File.WriteAllText(Path.Combine(folder, "report.html"), Report.HtmlReport.Render(this));
        foreach (var (kind, h) in Distributions)
        {
            // HdrHistogram's percentile distribution in microseconds, scaled to milliseconds: loads in its plotters.
            using var writer = new StreamWriter(Path.Combine(folder, $"latency-{kind}.hgrm"));
            h.OutputPercentileDistribution(writer, 5, 1000.0, false);
        }
    }

    private static List<HistogramBucket> Buckets(HistogramBase h)
    {
        var counts = new long[40];
        var top = -1;
        foreach (var v in h.RecordedValues())
        {
            var b = Math.Clamp(63 - (int)long.LeadingZeroCount(Math.Max(1, v.ValueIteratedTo)), 0, counts.Length - 1);
            counts[b] += v.CountAddedInThisIterationStep;
            top = Math.Max(top, b);
        }

        var first = 0;
        while (first < top && counts[first] == 0)
        {
            first++;
        }

        var buckets = new List<HistogramBucket>();
        for (var b = first; b <= top; b++)
        {
            buckets.Add(new HistogramBucket((1L << b) / 1000.0, (1L << (b + 1)) / 1000.0, counts[b]));
        }

        return buckets;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
