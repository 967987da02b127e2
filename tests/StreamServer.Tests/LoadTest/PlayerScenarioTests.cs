using System.Globalization;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Thumbnails;
using StreamServer.TestSupport;

namespace StreamServer.Tests.LoadTest;

/// <summary>
/// The load tool's player scenarios and load simulations against the real server: what a run reports (progress rows,
/// summary, HTML report, .hgrm) follows from what the players really did.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class PlayerScenarioTests(PackagedVodFixture vod) : IClassFixture<PackagedVodFixture>
{
    private string Master(RunningServer server) => new Uri(server.HttpUri, $"/vod/{PackagedVodFixture.Id}/master.m3u8").AbsoluteUri;

    [Fact]
    public async Task A_ramp_starts_players_evenly_and_the_report_charts_every_second()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: false);
        using var report = new TempDir("ss-loadreport");
        var run = await LoadTool.RunAsync("--url", Master(server), "--players", "6", "--ramp", "3s", "--duration", "5s", "--pace", "max",
            "--report", report.Path);
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Contains("players    req/s", run.StdOut); // the progress table's header

        var summary = LoadTool.Summary(report.Path);
        var timeline = summary.GetProperty("timeline").EnumerateArray().ToList();
        Assert.InRange(timeline.Count, 4, 6);
        // Players arrive over the ramp: 2 per second, so the first second holds fewer than the last.
        var first = timeline[0].GetProperty("players").GetInt64();
        var last = timeline[^2].GetProperty("players").GetInt64();
        Assert.True(first is >= 1 and <= 3 && last == 6, $"players {first} -> {last}");
        long sum = 0;
        foreach (var s in timeline)
        {
            sum += s.GetProperty("requests").GetInt64();
        }

        // Every request lands in exactly one second of the timeline, and the totals are what the rows add up to.
        Assert.Equal(summary.GetProperty("requests").GetInt64(), sum);
        var segment = LoadTool.Latency(summary, "segment");
        Assert.True(segment.GetProperty("p50Ms").GetDouble() <= segment.GetProperty("p99Ms").GetDouble());

        var html = await File.ReadAllTextAsync(report.Combine("report.html"));
        Assert.Contains("<polyline", html);
        Assert.Contains("Latency histogram (segment)", html);
        Assert.Contains("<rect", html);
        Assert.True(File.Exists(report.Combine("latency-segment.hgrm")));
        Assert.Contains("Value     Percentile TotalCount", await File.ReadAllTextAsync(report.Combine("latency-segment.hgrm")));
    }

    [Fact]
    public async Task Inject_is_an_open_model_new_players_arrive_at_the_rate_and_leave_after_their_session()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: false);
        using var report = new TempDir("ss-loadreport");
        var run = await LoadTool.RunAsync("--url", Master(server), "--inject", "5", "--watch", "1s", "--players", "100", "--duration", "4s",
            "--pace", "max", "--quiet", "--report", report.Path);
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.DoesNotContain("players    req/s", run.StdOut);
        var summary = LoadTool.Summary(report.Path);
        Assert.InRange(summary.GetProperty("playersStarted").GetInt64(), 18, 21); // 5/s for 4 s
        // Sessions of 1 s at 5 arrivals per second: about 5 watch at any time, never the cap.
        foreach (var s in summary.GetProperty("timeline").EnumerateArray())
        {
            Assert.InRange(s.GetProperty("players").GetInt64(), 0, 10);
        }
    }

    [Fact]
    public async Task Seek_scrubs_thumbnails_and_jumps_and_a_bandwidth_cap_holds_each_player_to_its_rate()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: false);
        var seek = await LoadTool.RunAsync("--scenario", "seek", "--url", Master(server), "--players", "3", "--duration", "4s", "--pace", "max", "--quiet");
        Assert.True(seek.ExitCode == 0, seek.StdOut + seek.StdErr);
        Assert.Contains("errors 0", seek.StdOut);
        Assert.Contains("latency thumbnail ms", seek.StdOut);
        var seeks = long.Parse(seek.StdOut.Split("seeks ")[1].Split(',')[0], CultureInfo.InvariantCulture);
        Assert.True(seeks > 0, seek.StdOut);

        // One player, 2 Mbit/s: bodies come in no faster than the cap, far below what loopback gives uncapped.
        using var capped = new TempDir("ss-loadreport");
        using var free = new TempDir("ss-loadreport");
        foreach (var (folder, extra) in new[] { (capped.Path, new[] { "--bandwidth", "2mbit" }), (free.Path, Array.Empty<string>()) })
        {
            var run = await LoadTool.RunAsync(["--url", Master(server), "--players", "1", "--duration", "3s", "--pace", "max", "--quiet", "--report", folder, .. extra]);
            Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        }

        static double BitsPerSecond(JsonElement s) => s.GetProperty("bytes").GetInt64() * 8 / s.GetProperty("seconds").GetDouble();
        var cappedRate = BitsPerSecond(LoadTool.Summary(capped.Path));
        var freeRate = BitsPerSecond(LoadTool.Summary(free.Path));
        Assert.True(cappedRate <= 2e6 * 1.15, $"capped at 2 Mbit/s but read {cappedRate / 1e6:F2} Mbit/s");
        Assert.True(freeRate > 4 * cappedRate, $"uncapped {freeRate / 1e6:F2} Mbit/s vs capped {cappedRate / 1e6:F2} Mbit/s");
    }
}
