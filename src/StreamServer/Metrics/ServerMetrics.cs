using System.Diagnostics.Metrics;

namespace StreamServer.Metrics;

/// <summary>
/// The server's own instruments. Names are the Prometheus family names dashboards rely on
/// (shared/architecture.md, "Metric names"); labels use cached strings so recording never allocates.
/// </summary>
public static class ServerMetrics
{
    public static readonly Meter Meter = new("StreamServer");

    /// <summary>Labels: protocol (http1.1 | h2 | h2c | http1.0), kind (segment | init | playlist | mpd | image | api | other), code.</summary>
    public static readonly Counter<long> HttpRequests = Meter.CreateCounter<long>(
        "streamserver_http_requests_total", description: "HTTP requests served, by protocol, content kind and status code.");

    /// <summary>Labels: protocol, path (sendfile | copy).</summary>
    public static readonly Counter<long> HttpResponseBytes = Meter.CreateCounter<long>(
        "streamserver_http_response_bytes_total", description: "Response body bytes sent, by protocol and send path (sendfile or copy).");

    /// <summary>Upper bounds of <see cref="HttpRequestDuration"/>'s buckets (seconds).</summary>
    public static readonly double[] HttpRequestDurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

    public static readonly Histogram<double> HttpRequestDuration = Meter.CreateHistogram(
        "streamserver_http_request_duration_seconds", unit: "s",
        description: "Time from request parsed to response written, by protocol and kind.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = HttpRequestDurationBuckets });

    public static readonly Counter<long> Jobs = Meter.CreateCounter<long>(
        "streamserver_jobs_total", description: "Packaging jobs finished, by outcome (succeeded | failed | cancelled).");
}
