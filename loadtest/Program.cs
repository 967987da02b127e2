using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using StreamServer.LoadTest;
using StreamServer.LoadTest.RawQps;
using StreamServer.LoadTest.Stats;

// Scenarios: vod-abr, N virtual viewers (hls.js behaviour) against one HLS master playlist (TTFB percentiles,
// throughput, stalls, errors); raw-qps, one URL over keep-alive HTTP/1.1 connections as fast as they go or at a fixed
// rate (latency percentiles from HdrHistogram, errors by kind), the scenario to hold against wrk.
// Socket completions run on the runtime's epoll threads instead of one thread-pool hop per event (the server does the
// same): on 2 cores shared with the server this is what lets the tool out-run wrk rather than be the bottleneck. The
// runtime reads it when its socket engine starts, so before any socket; an explicit environment value wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

var scenario = new Option<string>("--scenario") { Description = "vod-abr or raw-qps", DefaultValueFactory = _ => "vod-abr" };
var url = new Option<string>("--url") { Description = "HLS master playlist (vod-abr) or any URL (raw-qps)", DefaultValueFactory = _ => "http://127.0.0.1:8080/vod/sample/master.m3u8" };
var connections = new Option<int>("--connections", "-c") { Description = "raw-qps: keep-alive connections", DefaultValueFactory = _ => 32 };
var rate = new Option<double>("--rate") { Description = "raw-qps: requests per second due (open model); 0 = as fast as the connections go", DefaultValueFactory = _ => 0 };
var timeout = new Option<double>("--timeout") { Description = "raw-qps: seconds before a request counts as timed out", DefaultValueFactory = _ => 10 };
var report = new Option<string?>("--report") { Description = "raw-qps: folder for summary.json and summary.md" };
var players = new Option<int>("--players", "-n") { Description = "Virtual players", DefaultValueFactory = _ => 20 };
var duration = new Option<double>("--duration", "-d") { Description = "Seconds to run (1-3600)", DefaultValueFactory = _ => 20 };
var pace = new Option<Pace>("--pace") { Description = "realtime (viewers) or max (back to back, like a CDN filling)", DefaultValueFactory = _ => Pace.Realtime };
var http2 = new Option<bool>("--http2") { Description = "HTTP/2 (h2 on https://, h2c prior knowledge on http://)" };
var buffer = new Option<double>("--buffer-seconds") { Description = "Forward buffer a realtime player keeps", DefaultValueFactory = _ => 12 };
var noAbr = new Option<bool>("--no-abr") { Description = "Stay on the lowest variant" };
var root = new RootCommand("StreamServer load generator") { scenario, url, players, duration, pace, http2, buffer, noAbr, connections, rate, timeout, report };
root.SetAction(async (parsed, ct) =>
{
    var seconds = parsed.GetValue(duration);
    if (parsed.GetValue(scenario) == "raw-qps")
    {
        return await RawQpsAsync(parsed.GetValue(url)!, parsed.GetValue(connections), parsed.GetValue(rate), seconds, parsed.GetValue(timeout),
            parsed.GetValue(report), ct);
    }

    if (parsed.GetValue(scenario) != "vod-abr")
    {
        await Console.Error.WriteLineAsync("loadtest: --scenario must be vod-abr or raw-qps");
        return 2;
    }

    var n = parsed.GetValue(players);
    if (seconds is < 1 or > 3600 || n is < 1 or > 10_000)
    {
        await Console.Error.WriteLineAsync("loadtest: --duration must be 1-3600 s and --players 1-10000");
        return 2;
    }

    if (!Uri.TryCreate(parsed.GetValue(url), UriKind.Absolute, out var master) || (master.Scheme != "http" && master.Scheme != "https"))
    {
        await Console.Error.WriteLineAsync("loadtest: --url must be an absolute http(s) URL");
        return 2;
    }

    var options = new LoadOptions(master, n, TimeSpan.FromSeconds(seconds), parsed.GetValue(pace),
        parsed.GetValue(http2) ? HttpVersion.Version20 : HttpVersion.Version11, parsed.GetValue(buffer), !parsed.GetValue(noAbr));
    return await RunAsync(options, ct);
});
return await root.Parse(args).InvokeAsync();

static async Task<int> RawQpsAsync(string url, int connections, double rate, double seconds, double timeout, string? report, CancellationToken ct)
{
    if (!Uri.TryCreate(url, UriKind.Absolute, out var target) || target.Scheme != "http")
    {
        await Console.Error.WriteLineAsync("loadtest: raw-qps needs an absolute http:// URL (HTTP/1.1 over TCP)");
        return 2;
    }

    if (seconds is < 1 or > 3600 || connections is < 1 or > 10_000 || rate < 0 || timeout <= 0)
    {
        await Console.Error.WriteLineAsync("loadtest: --duration 1-3600 s, --connections 1-10000, --rate >= 0, --timeout > 0");
        return 2;
    }

    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    var recorder = await RawQpsScenario.RunAsync(new RawQpsOptions(target, connections, rate, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(timeout)), ct);
    var elapsed = clock.Elapsed.TotalSeconds;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    var load = rate > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{connections} connections, open model at {rate:F0} req/s")
        : $"{connections} connections, closed model";
    var summary = RunSummary.From("raw-qps", target.AbsoluteUri, load, elapsed, recorder, cpu);
    Console.WriteLine(summary.ToText());
    if (report is not null)
    {
        summary.WriteReport(report);
    }

    return recorder.ErrorCount == 0 && recorder.Requests > 0 ? 0 : 1;
}

static async Task<int> RunAsync(LoadOptions options, CancellationToken ct)
{
    using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
    cts.CancelAfter(options.Duration);
    var sessions = new VirtualPlayer[options.Players];
    var clients = new HttpClient[options.Players];
    var tasks = new Task[options.Players];
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < sessions.Length; i++)
    {
        // A player per connection pool, as real viewers each have their own connections.
        clients[i] = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
            AutomaticDecompression = DecompressionMethods.None,
        })
        { Timeout = TimeSpan.FromSeconds(30) };
        sessions[i] = new VirtualPlayer(clients[i], options);
        tasks[i] = sessions[i].RunAsync(cts.Token);
    }

    await Task.WhenAll(tasks);
    var elapsed = clock.Elapsed.TotalSeconds;
    var total = new LoadStats();
    foreach (var s in sessions)
    {
        total.Add(s.Stats);
    }

    foreach (var c in clients)
    {
        c.Dispose();
    }

    var inv = CultureInfo.InvariantCulture;
    Console.WriteLine(string.Create(inv, $"players {options.Players}, {elapsed:F1} s, pace {options.Pace.ToString().ToLowerInvariant()}, HTTP/{options.HttpVersion}"));
    Console.WriteLine(string.Create(inv, $"requests {total.Requests} ({total.Requests / elapsed:F0}/s), segments {total.Segments}, {total.Bytes / 1048576.0 / elapsed:F1} MiB/s"));
    Console.WriteLine(string.Create(inv, $"segment TTFB ms p50 {LoadStats.Percentile(total.SegmentTtfbMs, 50):F2} p90 {LoadStats.Percentile(total.SegmentTtfbMs, 90):F2} p99 {LoadStats.Percentile(total.SegmentTtfbMs, 99):F2}"));
    Console.WriteLine(string.Create(inv, $"playlist TTFB ms p50 {LoadStats.Percentile(total.PlaylistTtfbMs, 50):F2} p99 {LoadStats.Percentile(total.PlaylistTtfbMs, 99):F2}"));
    Console.WriteLine(string.Create(inv, $"per-segment Mbit/s p10 {LoadStats.Percentile(total.SegmentMbitPerSecond, 10):F1} p50 {LoadStats.Percentile(total.SegmentMbitPerSecond, 50):F1}"));
    Console.WriteLine(string.Create(inv, $"stalls {total.Stalls}, variant switches {total.Switches}, errors {total.Errors}{(total.FirstError is null ? "" : " (first: " + total.FirstError + ")")}"));
    return total.Errors == 0 && total.Segments > 0 ? 0 : 1;
}
