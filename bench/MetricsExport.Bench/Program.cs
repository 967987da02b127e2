using System.Diagnostics;
using System.Globalization;
using StreamServer.Metrics;

// Our exporter (MeterListener + hand-written exposition) vs prometheus-net 8.2.1's MeterAdapter over the same
// System.Diagnostics.Metrics instruments the serving path records into: nanoseconds and bytes allocated per
// recording (a request counter with three tags and a duration histogram with two, as the HTTP/1.1 path records),
// then scrape time and size with the series those recordings made. One listener at a time, best of five rounds.
const int Ops = 2_000_000;
var inv = CultureInfo.InvariantCulture;
KeyValuePair<string, object?>[] requestTags = [new("protocol", "http1.1"), new("kind", "segment"), new("code", "200")];
KeyValuePair<string, object?>[] durationTags = [new("protocol", "http1.1"), new("kind", "segment")];

(double Ns, double Bytes) Record()
{
    var best = (Ns: double.MaxValue, Bytes: double.MaxValue);
    for (var round = 0; round < 5; round++)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Ops; i++)
        {
            ServerMetrics.HttpRequests.Add(1, requestTags[0], requestTags[1], requestTags[2]);
            ServerMetrics.HttpRequestDuration.Record(0.0004, durationTags[0], durationTags[1]);
        }

        var ns = clock.Elapsed.TotalNanoseconds / Ops;
        var bytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)Ops;
        best = (Math.Min(best.Ns, ns), Math.Min(best.Bytes, bytes));
    }

    return best;
}

Console.WriteLine("exporter                         ns/request recorded   B allocated/request   scrape us   scrape bytes");
using (var ours = new PrometheusExporter())
{
    var (ns, bytes) = Record();
    var text = ours.Scrape();
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < 200; i++)
    {
        text = ours.Scrape();
    }

    Console.WriteLine(string.Create(inv, $"ours (MeterListener + text)      {ns,20:F1} {bytes,21:F2} {clock.Elapsed.TotalMicroseconds / 200,11:F0} {text.Length,14}"));
}

using (Prometheus.MeterAdapter.StartListening())
{
    var (ns, bytes) = Record();
    using var stream = new MemoryStream();
    await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(stream);
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < 200; i++)
    {
        stream.SetLength(0);
        await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(stream);
    }

    Console.WriteLine(string.Create(inv, $"prometheus-net 8.2.1 MeterAdapter{ns,20:F1} {bytes,21:F2} {clock.Elapsed.TotalMicroseconds / 200,11:F0} {stream.Length,14}"));
    var exposition = System.Text.Encoding.UTF8.GetString(stream.ToArray());
    Console.WriteLine("prometheus-net names for our instruments:");
    foreach (var line in exposition.Split('\n'))
    {
        if (line.StartsWith("# TYPE", StringComparison.Ordinal) && line.Contains("http_request", StringComparison.Ordinal))
        {
            Console.WriteLine("  " + line);
        }
    }
}

{
    // Instruments moved to prometheus-net itself (its native counter and histogram, label children resolved once and
    // cached, the cheapest way it can be used): what the serving path would pay without the adapter.
    var registry = Prometheus.Metrics.NewCustomRegistry();
    var factory = Prometheus.Metrics.WithCustomRegistry(registry);
    var requests = factory.CreateCounter("streamserver_http_requests_total", "HTTP requests", ["protocol", "kind", "code"]).WithLabels("http1.1", "segment", "200");
    var duration = factory.CreateHistogram("streamserver_http_request_duration_seconds", "duration", ["protocol", "kind"],
        new Prometheus.HistogramConfiguration { Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5] })
        .WithLabels("http1.1", "segment");
    var best = (Ns: double.MaxValue, Bytes: double.MaxValue);
    for (var round = 0; round < 5; round++)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Ops; i++)
        {
            requests.Inc();
            duration.Observe(0.0004);
        }

        best = (Math.Min(best.Ns, clock.Elapsed.TotalNanoseconds / Ops), Math.Min(best.Bytes, (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)Ops));
    }

    Console.WriteLine(string.Create(inv, $"prometheus-net 8.2.1 native     {best.Ns,20:F1} {best.Bytes,21:F2}"));
}
