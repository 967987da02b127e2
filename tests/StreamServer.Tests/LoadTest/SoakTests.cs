using System.Globalization;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;
using StreamServer.Transcode;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Tests.LoadTest;

/// <summary>
/// A swarm of realtime players (loadtest vod-abr) against the server as its own process: no errors, resident memory
/// and descriptors flat while it runs (slopes printed), everything a response holds given back when it ends.
/// SOAK_SECONDS (60 by default; the issue's 10 minutes with 600) and SOAK_PLAYERS (1000) size it.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class SoakTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task A_thousand_realtime_players_leave_memory_descriptors_and_leases_flat()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("SOAK_SECONDS"), out var s) ? s : 60;
        var players = int.TryParse(Environment.GetEnvironmentVariable("SOAK_PLAYERS"), out var p) ? p : 1000;
        var tool = LoadTool.Dll;
        Assert.True(File.Exists(tool), $"{tool} not built (scripts/setup.sh builds the solution in Release)");
        using var data = new TempDir("ss-soak");
        using (var work = new TempDir("ss-soak-src"))
        {
            // Long enough that realtime players settle into one segment per 2 s each, short to package.
            var clip = await TestMedia.GenerateAsync(work.Combine("clip.mp4"), seconds: 60, width: 320, height: 180);
            await Packager.PackageAsync(clip, Path.Combine(data.Path, "vod", "soak"),
                new PackagingOptions { Ladder = [180, 120], Preset = "ultrafast", SegmentSeconds = 2 }, null, TestContext.Current.CancellationToken);
        }

        await using var server = await RunningServer.StartProcessAsync(data.Path);
        var before = await server.MetricsAsync();
        var baselineFds = server.OpenDescriptors();
        var baselineSockets = server.OpenSockets();

        var run = ProcessRunner.RunAsync("dotnet", [tool, "--url", new Uri(server.HttpUri, "/vod/soak/master.m3u8").AbsoluteUri,
            "--players", players.ToString(CultureInfo.InvariantCulture), "--duration", seconds.ToString(CultureInfo.InvariantCulture), "--pace", "realtime"],
            TimeSpan.FromSeconds(seconds + 120));
        var rss = new List<(double T, long Bytes)>();
        var fds = new List<(double T, long Count)>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(Math.Max(1, seconds / 30.0))));
            if (run.IsCompleted)
            {
                break;
            }

            rss.Add((clock.Elapsed.TotalSeconds, server.ResidentBytes()));
            fds.Add((clock.Elapsed.TotalSeconds, server.OpenDescriptors()));
        }

        var result = await run;
        var during = await server.MetricsAsync();
        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine(result.StdOut);

        // Steady state is the second half, short of the end: the start fills every player's buffer at once, and at the
        // end the players hang up.
        bool Steady(double t) => t >= seconds / 2.0 && t <= seconds - 3;
        var rssSlope = Slope(rss.Where(x => Steady(x.T)).Select(x => (x.T, (double)x.Bytes)).ToList());
        var fdSlope = Slope(fds.Where(x => Steady(x.T)).Select(x => (x.T, (double)x.Count)).ToList());
        var gen2 = Gen2(during) - Gen2(before);
        // Why each one ran (the runtime's reason): promoted garbage is "small_alloc"; pools growing for a burst (pinned
        // blocks) is "large_alloc"; the transport pool's trim asks for "induced" ones.
        double Full(string metrics, string reason) => RunningServer.Sample(metrics, $"streamserver_dotnet_gc_full_collections_total{{reason=\"{reason}\"}}", absent: 0);
        // The reasons come from runtime events, delivered a moment after the collection counter moves: wait until they
        // account for every gen2 of the run (the server is idle now) before reading them.
        static double Reasons(string metrics) => global::StreamServer.Tests.Tracing.TracingEnvironment.MetricSum(metrics, "streamserver_dotnet_gc_full_collections_total");
        await Eventually.TrueAsync(async () =>
        {
            during = await server.MetricsAsync();
            return Reasons(during) - Reasons(before) >= gen2;
        }, TimeSpan.FromSeconds(10), () => $"{gen2} gen2 collections, {Reasons(during) - Reasons(before)} with a reason reported");
        var promoted = Full(during, "small_alloc") - Full(before, "small_alloc");
        var grown = Full(during, "large_alloc") - Full(before, "large_alloc");
        var induced = RunningServer.Sample(during, "streamserver_transport_pool_trim_collections_total", absent: 0) -
            RunningServer.Sample(before, "streamserver_transport_pool_trim_collections_total", absent: 0);
        output?.WriteLine($"server RSS {rss[0].Bytes / MiB} -> {rss.Max(x => x.Bytes) / MiB} MiB peak, slope {rssSlope / 1024:0.0} KiB/s over the second half; " +
            $"descriptors baseline {baselineFds}, peak {fds.Max(x => x.Count)}, slope {fdSlope:0.00}/s; gen2 GCs {gen2}: {promoted} for promoted garbage, {grown} for pools growing, {induced} asked for by the transport pool's trim");

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr + server.Output);
        Assert.Contains("errors 0", result.StdOut);
        Assert.True(rssSlope * (seconds / 2.0) < 16 * MiB, $"resident memory grew {rssSlope / 1024:0} KiB/s in steady state");
        Assert.True(Math.Abs(fdSlope) * (seconds / 2.0) < 50, $"descriptors moved {fdSlope:0.00}/s in steady state");
        // Serving must not promote garbage into gen2. The pools growing for a burst (the start, the players' variant
        // switches) may start one, and the transport pool's trim asks for one after a burst gave its blocks back.
        Assert.True(promoted == 0 && gen2 <= grown + induced, $"{gen2} gen2 collections while serving: {promoted} for promoted garbage, {grown} for pools growing, {induced} asked for by the trim; " +
            $"by reason: {string.Join(", ", during.Split('\n').Where(l => l.StartsWith("streamserver_dotnet_gc_full_collections_total{", StringComparison.Ordinal)))}");

        // When the players are gone: connections closed, no file lease or transport block held. Descriptors of served
        // files stay open in the bounded file cache (one per file of the VOD, ~100 here), which is the cache's job.
        await Eventually.TrueAsync(async () =>
        {
            var m = await server.MetricsAsync();
            return server.OpenSockets() <= baselineSockets
                && RunningServer.Sample(m, "streamserver_vod_file_leases") == 0
                && RunningServer.Sample(m, "streamserver_transport_pool_bytes{state=\"rented\"}") == 0;
        }, TimeSpan.FromSeconds(30), () => $"sockets {server.OpenSockets()} (baseline {baselineSockets}) or leases not back");
        // Also made once, on first need, and kept: the writable waiter's epoll and eventfd, the runtime's own (a few).
        const int MadeOnce = 8;
        var files = Directory.GetFiles(Path.Combine(data.Path, "vod", "soak"), "*", SearchOption.AllDirectories).Length;
        Assert.True(server.OpenDescriptors() <= baselineFds + files + MadeOnce,
            $"descriptors {server.OpenDescriptors()}: more than the baseline {baselineFds} + {files} cached files + {MadeOnce}");
        Assert.DoesNotContain("fail:", server.Output);
    }

    private static double Gen2(string metrics) => RunningServer.Sample(metrics, "streamserver_dotnet_gc_collections_total{gc_heap_generation=\"gen2\"}");

    // Least-squares slope of value over time.
    private static double Slope(List<(double T, double V)> points)
    {
        if (points.Count < 2)
        {
            return 0;
        }

        var mt = points.Average(x => x.T);
        var mv = points.Average(x => x.V);
        var num = points.Sum(x => (x.T - mt) * (x.V - mv));
        var den = points.Sum(x => (x.T - mt) * (x.T - mt));
        return den == 0 ? 0 : num / den;
    }
}
