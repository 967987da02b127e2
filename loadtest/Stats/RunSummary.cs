using System.Globalization;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace StreamServer.LoadTest.Stats;

/// <summary>What a run measured, printed to the console and written as summary.json + summary.md with --report.</summary>
internal sealed record RunSummary(string Scenario, string Target, string Load, double Seconds, long Requests, long Bytes,
    long Errors, string ErrorDetail, double P50Ms, double P90Ms, double P99Ms, double P999Ms, double P9999Ms, double MaxMs,
    double ToolCpuMicrosecondsPerRequest)
{
    public static RunSummary From(string scenario, string target, string load, double seconds, LatencyRecorder r, TimeSpan toolCpu) => new(
        scenario, target, load, seconds, r.Requests, r.Bytes, r.ErrorCount, r.DescribeErrors(),
        r.Milliseconds(50), r.Milliseconds(90), r.Milliseconds(99), r.Milliseconds(99.9), r.Milliseconds(99.99), r.Histogram.TotalCount == 0 ? double.NaN : r.Histogram.GetMaxValue() / 1000.0,
        r.Requests == 0 ? double.NaN : toolCpu.TotalMicroseconds / r.Requests);

    public double RequestsPerSecond => Requests / Seconds;

    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(string.Create(inv, $"{Scenario}: {Load}, {Seconds:F1} s, {Target}"));
        text.AppendLine(string.Create(inv, $"requests {Requests} ({RequestsPerSecond:F0}/s), {Bytes / 1048576.0 / Seconds:F1} MiB/s, errors {Errors}{(Errors > 0 ? " (" + ErrorDetail + ")" : "")}"));
        text.AppendLine(string.Create(inv, $"latency ms p50 {P50Ms:F3} p90 {P90Ms:F3} p99 {P99Ms:F3} p99.9 {P999Ms:F3} p99.99 {P9999Ms:F3} max {MaxMs:F3}"));
        text.Append(string.Create(inv, $"tool CPU {ToolCpuMicrosecondsPerRequest:F1} us per request ({Environment.ProcessorCount} cores)"));
        return text.ToString();
    }

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $"""
            # {Scenario}: {Load}

            Target `{Target}`, {Seconds:F1} s.

            | requests | req/s | MiB/s | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | p99.99 ms | max ms | tool CPU us/req |
            |---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|
            | {Requests} | {RequestsPerSecond:F0} | {Bytes / 1048576.0 / Seconds:F1} | {Errors}{(Errors > 0 ? " (" + ErrorDetail + ")" : "")} | {P50Ms:F3} | {P90Ms:F3} | {P99Ms:F3} | {P999Ms:F3} | {P9999Ms:F3} | {MaxMs:F3} | {ToolCpuMicrosecondsPerRequest:F1} |

            """);
    }

    public void WriteReport(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "summary.json"), JsonSerializer.Serialize(this, JsonOptions));
        File.WriteAllText(Path.Combine(folder, "summary.md"), ToMarkdown());
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
