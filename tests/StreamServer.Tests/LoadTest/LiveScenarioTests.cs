using System.Globalization;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Tracing;
using StreamServer.TestSupport;

namespace StreamServer.Tests.LoadTest;

/// <summary>The live scenarios against the built-in test channel, and stall injection: real packet loss in a network
/// namespace while a swarm plays, with the server's retransmit counter sampled beside the players' stalls.</summary>
[Collection(ServerTestsCollection.Name)]
public sealed class LiveScenarioTests
{
    [Fact]
    public async Task Live_and_ll_hls_players_follow_the_test_channel_at_the_edge()
    {
        await using var server = await RunningServer.StartProcessAsync(null, "--StreamServer:Live:TestChannel=true", "--StreamServer:Live:SegmentSeconds=1",
            "--StreamServer:Live:PartSeconds=0.5");
        using var http = server.CreateHttpClient();
        await Eventually.TrueAsync(async () =>
        {
            using var r = await http.GetAsync("/live/test/video/index.m3u8");
            return r.IsSuccessStatusCode && (await r.Content.ReadAsStringAsync()).Split("#EXTINF").Length > 3;
        }, TimeSpan.FromSeconds(60), () => "the test channel never had three segments:\n" + server.Output);
        var master = new Uri(server.HttpUri, "/live/test/master.m3u8").AbsoluteUri;

        var live = await LoadTool.RunAsync("--scenario", "live", "--url", master, "--players", "3", "--duration", "5s", "--quiet");
        Assert.True(live.ExitCode == 0, live.StdOut + live.StdErr);
        Assert.Contains("errors 0", live.StdOut);
        Assert.Contains("live latency s p50", live.StdOut);

        using var report = new TempDir("ss-loadreport");
        var ll = await LoadTool.RunAsync("--scenario", "ll-hls", "--url", master, "--players", "3", "--duration", "5s", "--quiet", "--validate",
            "--report", report.Path);
        Assert.True(ll.ExitCode == 0, ll.StdOut + ll.StdErr);
        var summary = LoadTool.Summary(report.Path);
        // --validate: every media playlist the players received was held to the LL-HLS rules, INDEPENDENT parts read.
        Assert.True(summary.GetProperty("playlistsValidated").GetInt64() >= 3 * 2 * 5, ll.StdOut);
        Assert.True(summary.GetProperty("independentPartsChecked").GetInt64() >= 3, ll.StdOut);
        Assert.Equal(0, summary.GetProperty("playlistViolations").GetInt64());
        Assert.Contains("violations 0", ll.StdOut);
        // Parts arrive one by one (about 2 per second per player and track) through blocking reloads that the server holds
        // until the part exists, so media is fetched well under a segment behind the wall clock.
        Assert.True(LoadTool.Latency(summary, "part").GetProperty("requests").GetInt64() >= 3 * 2 * 3, ll.StdOut);
        var liveLatency = summary.GetProperty("liveLatency");
        Assert.True(liveLatency.GetProperty("p50Ms").GetDouble() < 1000, ll.StdOut);
        Assert.True(LoadTool.Latency(summary, "playlist").GetProperty("p50Ms").GetDouble() > 100, "blocking reloads should wait for the next part: " + ll.StdOut);
    }

    [Fact]
    public async Task Packet_loss_during_a_run_shows_up_as_server_retransmits_beside_the_players()
    {
        var missing = TracingEnvironment.MissingBpf(out _) ?? Capabilities.MissingTool("ip", "nft");
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var netns = await NetworkNamespace.CreateAsync(mtu: 1500);
        var port = 20000 + Random.Shared.Next(20000);
        await using var server = await RunningServer.StartProcessAsync(netns, port);
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        Assert.Contains("\"state\":\"attached\"", await server.WaitForTracersAsync(TimeSpan.FromSeconds(30)));
        await netns.AddRandomDropAsync(port, oneIn: 20);

        using var report = new TempDir("ss-loadreport");
        var run = await netns.ExecAsync(["dotnet", LoadTool.Dll, "--url", $"http://127.0.0.1:{port}/vod/clip/master.m3u8", "--players", "8",
            "--duration", "6s", "--pace", "max", "--no-abr", "--server-metrics", $"http://127.0.0.1:{port}/metrics", "--report", report.Path], TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        var summary = LoadTool.Summary(report.Path);
        var retransmits = summary.GetProperty("serverRetransmits").GetDouble();
        Assert.True(retransmits > 0, "5 % loss but no retransmits counted: " + run.StdOut);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"server retransmits {retransmits:F0}"), run.StdOut);
        Assert.Contains("server retransmits", await File.ReadAllTextAsync(report.Combine("report.html")));
    }
}
