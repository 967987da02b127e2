using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using StreamServer.LoadTest.Load;
using StreamServer.LoadTest.Players;
using StreamServer.LoadTest.RawQps;
using StreamServer.LoadTest.Stats;

// Scenarios: vod-abr, seek, live and ll-hls, swarms of virtual viewers (hls.js behaviour) against one HLS master playlist
// under a load simulation (constant, ramp, inject per second) with a per-second progress table (TTFB percentiles by
// request kind, throughput, stalls, errors, live latency); raw-qps, one URL over keep-alive HTTP/1.1 connections as fast as they go or at a fixed
// rate (latency percentiles from HdrHistogram, errors by kind), the scenario to hold against wrk.
// Socket completions run on the runtime's epoll threads instead of one thread-pool hop per event (the server does the
// same): on 2 cores shared with the server this is what lets the tool out-run wrk rather than be the bottleneck. The
// runtime reads it when its socket engine starts, so before any socket; an explicit environment value wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

var scenario = new Option<string>("--scenario") { Description = "vod-abr, seek, live, ll-hls or raw-qps", DefaultValueFactory = _ => "vod-abr" };
var url = new Option<string>("--url") { Description = "HLS master playlist (players) or any URL (raw-qps)", DefaultValueFactory = _ => "http://127.0.0.1:8080/vod/sample/master.m3u8" };
var connections = new Option<int>("--connections", "-c") { Description = "raw-qps: keep-alive connections", DefaultValueFactory = _ => 32 };
var rate = new Option<double>("--rate") { Description = "raw-qps: requests per second due (open model); 0 = as fast as the connections go", DefaultValueFactory = _ => 0 };
var streams = new Option<int>("--streams", "-m") { Description = "raw-qps with --http2: requests in flight per connection", DefaultValueFactory = _ => 1 };
var timeout = new Option<double>("--timeout") { Description = "raw-qps: seconds before a request counts as timed out", DefaultValueFactory = _ => 10 };
var report = new Option<string?>("--report") { Description = "Folder for report.html, summary.json, summary.md and latency-*.hgrm" };
var players = new Option<int>("--players", "-n") { Description = "Concurrent players (closed model), or the cap on them with --inject", DefaultValueFactory = _ => 20 };
var ramp = new Option<string>("--ramp") { Description = "Start the players evenly over this long (30s, 2m)", DefaultValueFactory = _ => "0" };
var inject = new Option<double>("--inject") { Description = "Open model: new players arriving per second, each for --watch", DefaultValueFactory = _ => 0 };
var watch = new Option<string>("--watch") { Description = "How long an injected player watches", DefaultValueFactory = _ => "30s" };
var duration = new Option<string>("--duration", "-d") { Description = "How long to run (90, 90s, 10m, 1h)", DefaultValueFactory = _ => "20s" };
var pace = new Option<Pace>("--pace") { Description = "realtime (viewers) or max (back to back, like a CDN filling)", DefaultValueFactory = _ => Pace.Realtime };
var http2 = new Option<bool>("--http2") { Description = "HTTP/2: h2 on https://, h2c prior knowledge on http://" };
var buffer = new Option<double>("--buffer-seconds") { Description = "Forward buffer a realtime VOD player keeps", DefaultValueFactory = _ => 12 };
var start = new Option<double>("--start-seconds") { Description = "Media a player needs before playback starts (0: the first segment or part)", DefaultValueFactory = _ => 0 };
var bandwidth = new Option<string?>("--bandwidth") { Description = "Per-player download cap (800kbit, 5mbit, or bits/s)" };
var noAbr = new Option<bool>("--no-abr") { Description = "Stay on the lowest variant" };
var delta = new Option<bool>("--delta") { Description = "ll-hls: blocking reloads ask for delta playlists (_HLS_skip=YES)" };
var validate = new Option<bool>("--validate") { Description = "live, ll-hls: check every media playlist against RFC 8216bis LL-HLS rules (reads each INDEPENDENT part once per player); a violation is an error of kind invalid" };
var serverMetrics = new Option<string?>("--server-metrics") { Description = "The server's /metrics URL: its TCP retransmits are sampled each second beside the players' stalls" };
var quiet = new Option<bool>("--quiet", "-q") { Description = "No per-second progress table" };
var root = new RootCommand("StreamServer load generator: player swarms (vod-abr, seek, live, ll-hls) and raw-qps")
{
    scenario, url, players, ramp, inject, watch, duration, pace, http2, buffer, start, bandwidth, noAbr, delta, validate, serverMetrics, quiet, connections, streams, rate, timeout, report,
};
root.SetAction(async (parsed, ct) =>
{
    if (!LoadSimulation.TryParseDuration(parsed.GetValue(duration), out var runFor) || runFor < TimeSpan.FromSeconds(1) || runFor > TimeSpan.FromHours(24))
    {
        await Console.Error.WriteLineAsync("loadtest: --duration must be 1 s to 24 h (90, 90s, 10m, 1h)");
        return 2;
    }

    var name = parsed.GetValue(scenario)!;
    if (name == "raw-qps")
    {
        return await RawQpsAsync(parsed.GetValue(url)!, parsed.GetValue(connections), parsed.GetValue(http2), parsed.GetValue(streams), parsed.GetValue(rate),
            runFor.TotalSeconds, parsed.GetValue(timeout), parsed.GetValue(report), ct);
    }

    if (name is not ("vod-abr" or "seek" or "live" or "ll-hls"))
    {
        await Console.Error.WriteLineAsync("loadtest: --scenario must be vod-abr, seek, live, ll-hls or raw-qps");
        return 2;
    }

    var n = parsed.GetValue(players);
    if (n is < 1 or > 100_000 || parsed.GetValue(inject) < 0
        || !LoadSimulation.TryParseDuration(parsed.GetValue(ramp), out var rampOver)
        || !LoadSimulation.TryParseDuration(parsed.GetValue(watch), out var sessionFor) || sessionFor <= TimeSpan.Zero)
    {
        await Console.Error.WriteLineAsync("loadtest: --players 1-100000, --inject >= 0, --ramp and --watch durations (30s, 2m)");
        return 2;
    }

    if (!Uri.TryCreate(parsed.GetValue(url), UriKind.Absolute, out var master) || (master.Scheme != "http" && master.Scheme != "https"))
    {
        await Console.Error.WriteLineAsync("loadtest: --url must be an absolute http(s) URL");
        return 2;
    }

    if (!TryParseBitRate(parsed.GetValue(bandwidth), out var cap))
    {
        await Console.Error.WriteLineAsync("loadtest: --bandwidth must be like 800kbit, 5mbit or a number of bits/s");
        return 2;
    }

    Uri? metricsUri = null;
    if (parsed.GetValue(serverMetrics) is { } m && !Uri.TryCreate(m, UriKind.Absolute, out metricsUri))
    {
        await Console.Error.WriteLineAsync("loadtest: --server-metrics must be an absolute URL");
        return 2;
    }

    var options = new PlayerOptions(master, parsed.GetValue(pace), parsed.GetValue(http2) ? HttpVersion.Version20 : HttpVersion.Version11,
        parsed.GetValue(buffer), parsed.GetValue(start), !parsed.GetValue(noAbr), cap, parsed.GetValue(delta), parsed.GetValue(validate));
    var simulation = new LoadSimulation(n, rampOver, parsed.GetValue(inject), sessionFor, runFor);
    Func<PlayerHttp, IPlayer> newPlayer = name switch
    {
        "seek" => http => new VodPlayer(http, options, seek: true),
        "live" => http => new LivePlayer(http, options, lowLatency: false),
        "ll-hls" => http => new LivePlayer(http, options, lowLatency: true),
        _ => http => new VodPlayer(http, options, seek: false),
    };
    return await SwarmAsync(name, options, simulation, newPlayer, metricsUri, !parsed.GetValue(quiet), parsed.GetValue(report), ct);
});
return await root.Parse(args).InvokeAsync();

static async Task<int> RawQpsAsync(string url, int connections, bool http2, int streams, double rate, double seconds, double timeout, string? report,
    CancellationToken ct)
{
    if (!Uri.TryCreate(url, UriKind.Absolute, out var target) || !(target.Scheme == "http" || (http2 && target.Scheme == "https")))
    {
        await Console.Error.WriteLineAsync("loadtest: raw-qps needs an absolute http:// URL (https:// too with --http2)");
        return 2;
    }

    if (connections is < 1 or > 10_000 || streams is < 1 or > 1000 || rate < 0 || timeout <= 0)
    {
        await Console.Error.WriteLineAsync("loadtest: --connections 1-10000, --streams 1-1000, --rate >= 0, --timeout > 0");
        return 2;
    }

    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    var recorder = await RawQpsScenario.RunAsync(
        new RawQpsOptions(target, connections, rate, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(timeout), http2, streams), ct);
    var elapsed = clock.Elapsed.TotalSeconds;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    var protocol = http2 ? $"HTTP/2 x{streams} streams" : "HTTP/1.1";
    var load = rate > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{connections} connections {protocol}, open model at {rate:F0} req/s")
        : $"{connections} connections {protocol}, closed model";
    var summary = RunSummary.FromRawQps(target.AbsoluteUri, load, elapsed, recorder, cpu);
    Console.WriteLine(summary.ToText());
    if (report is not null)
    {
        summary.WriteReport(report);
    }

    return recorder.ErrorCount == 0 && recorder.Requests > 0 ? 0 : 1;
}

static async Task<int> SwarmAsync(string scenario, PlayerOptions options, LoadSimulation simulation, Func<PlayerHttp, IPlayer> newPlayer, Uri? serverMetrics,
    bool progress, string? report, CancellationToken ct)
{
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    var swarm = new Swarm(simulation, options, newPlayer, serverMetrics, progress);
    await swarm.RunAsync(ct);
    var elapsed = clock.Elapsed.TotalSeconds;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    var load = $"{simulation.Describe()}, pace {options.Pace.ToString().ToLowerInvariant()}, HTTP/{options.HttpVersion}" +
        (options.CapBitsPerSecond > 0 ? string.Create(CultureInfo.InvariantCulture, $", capped at {options.CapBitsPerSecond / 1e6:0.###} Mbit/s") : "");
    var summary = RunSummary.FromSwarm(scenario, options.Url.AbsoluteUri, load, elapsed, swarm.Metrics, swarm.Timeline, cpu, options.Validate);
    Console.WriteLine(summary.ToText());
    if (swarm.Metrics.FirstError is { } first)
    {
        Console.WriteLine($"first error: {first}");
    }

    if (report is not null)
    {
        summary.WriteReport(report);
    }

    return summary.Errors == 0 && summary.Segments > 0 ? 0 : 1;
}

/// <summary>"800kbit", "5mbit", "1.5gbit" or plain bits per second; null/empty = no cap (0).</summary>
static bool TryParseBitRate(string? text, out double bitsPerSecond)
{
    bitsPerSecond = 0;
    if (string.IsNullOrWhiteSpace(text))
    {
        return true;
    }

    var t = text.Trim().ToLowerInvariant();
    var (number, scale) = t.EndsWith("kbit", StringComparison.Ordinal) ? (t[..^4], 1e3)
        : t.EndsWith("mbit", StringComparison.Ordinal) ? (t[..^4], 1e6)
        : t.EndsWith("gbit", StringComparison.Ordinal) ? (t[..^4], 1e9)
        : (t, 1.0);
    if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n <= 0 || !double.IsFinite(n))
    {
        return false;
    }

    bitsPerSecond = n * scale;
    return true;
}
