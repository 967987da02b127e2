using System.Globalization;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;
using StreamServer.Transcode;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Tests.LoadTest;

/// <summary>The player-like load tool (loadtest/) runs against the real server over HTTP/1.1 and h2.</summary>
[Collection(ServerTestsCollection.Name)]
public class LoadToolTests
{
    [Fact]
    public async Task VirtualPlayersFetchEverySegmentWithoutErrors()
    {
        await using var server = await RunningServer.StartAsync();
        using var work = new TempDir();
        var clip = await TestMedia.GenerateAsync(work.Combine("clip.mp4"), seconds: 4);
        await Packager.PackageAsync(clip, Path.Combine(server.DataDir, "vod", "clip"),
            new PackagingOptions { Ladder = [240, 160], Preset = "ultrafast", SegmentSeconds = 1 }, null, TestContext.Current.CancellationToken);

        foreach (var (baseUri, extra) in new[] { (server.HttpUri, Array.Empty<string>()), (server.HttpsUri!, ["--http2"]) })
        {
            var result = await LoadTool.RunAsync(
                ["--url", new Uri(baseUri, "/vod/clip/master.m3u8").AbsoluteUri, "--players", "4", "--duration", "3", "--pace", "max", .. extra]);
            Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
            Assert.Contains("errors 0", result.StdOut);
            var segments = long.Parse(result.StdOut.Split("segments ")[1].Split(',')[0], CultureInfo.InvariantCulture);
            Assert.True(segments >= 8, result.StdOut); // 4 players x at least one pass over 4 video + 4 audio segments
        }
    }

    [Fact]
    public async Task Raw_qps_reports_latency_percentiles_errors_by_kind_and_keeps_an_open_model_rate()
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        using var work = new TempDir();

        // Closed model: as fast as 4 connections go; every answer a 200, percentiles in order, a report written.
        var playlist = new Uri(server.HttpUri, "/vod/clip/media.m3u8").AbsoluteUri;
        var closed = await LoadTool.RunAsync(["--scenario", "raw-qps", "--url", playlist, "--connections", "4", "--duration", "2",
            "--report", work.Path]);
        Assert.True(closed.ExitCode == 0, closed.StdOut + closed.StdErr);
        Assert.Contains("errors 0", closed.StdOut);
        var requests = long.Parse(closed.StdOut.Split("requests ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.True(requests > 200, closed.StdOut);
        var summary = LoadTool.Summary(work.Path);
        Assert.Equal(requests, summary.GetProperty("requests").GetInt64());
        var all = LoadTool.Latency(summary, "all");
        var p50 = all.GetProperty("p50Ms").GetDouble();
        var p99 = all.GetProperty("p99Ms").GetDouble();
        Assert.True(p50 > 0 && p50 <= p99 && p99 <= all.GetProperty("maxMs").GetDouble(), summary.ToString());
        Assert.Contains("| kind | requests | p50 ms |", await File.ReadAllTextAsync(work.Combine("summary.md")));
        Assert.Contains("Latency histogram (all)", await File.ReadAllTextAsync(work.Combine("report.html")));

        // Errors are classified: a missing file is "status 404", a closed port "connect".
        var missing = await LoadTool.RunAsync(["--scenario", "raw-qps", "--url", new Uri(server.HttpUri, "/vod/clip/nope.m4s").AbsoluteUri,
            "--connections", "2", "--duration", "1"]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("status 404 x", missing.StdOut);
        var refused = await LoadTool.RunAsync(["--scenario", "raw-qps", "--url", $"http://127.0.0.1:{RunningServer.FreePort()}/x",
            "--connections", "1", "--duration", "1"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("connect x", refused.StdOut);

        // Open model: 200 requests due per second for 3 s are sent at that rate, not as fast as possible.
        var open = await LoadTool.RunAsync(["--scenario", "raw-qps", "--url", playlist, "--connections", "4", "--rate", "200",
            "--duration", "3"]);
        Assert.True(open.ExitCode == 0, open.StdOut + open.StdErr);
        var sent = long.Parse(open.StdOut.Split("requests ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.InRange(sent, 540, 610);
        Assert.Contains("open model at 200 req/s", open.StdOut);
    }

    [Fact]
    public async Task Raw_qps_frames_http2_itself_reads_every_body_byte_and_classifies_statuses()
    {
        await using var server = await RunningServer.StartAsync();
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        using var work = new TempDir();

        // The library's 1 MiB segment outgrows the default 64 KiB stream window and, over a few dozen requests, the tool's
        // 64 MiB connection window: every byte must arrive, so the tool's WINDOW_UPDATEs must be right.
        long size = (await Vod.TestLibrary.ReadAsync("big.m4s")).Length;
        var playlistLength = new FileInfo(Path.Combine(server.DataDir, "vod", "clip", "media.m3u8")).Length;
        foreach (var (baseUri, path, length) in new[]
        {
            (server.HttpUri, "/vod/clip/media.m3u8", playlistLength), (server.HttpUri, "/vod/clip/big.m4s", size), // h2c
            (server.HttpsUri!, "/vod/clip/media.m3u8", playlistLength), (server.HttpsUri!, "/vod/clip/big.m4s", size), // h2 over TLS
        })
        {
            var run = await LoadTool.RunAsync(["--scenario", "raw-qps", "--http2", "--streams", "4", "--url", new Uri(baseUri, path).AbsoluteUri,
                "--connections", "2", "--duration", "2", "--report", work.Path]);
            Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
            Assert.Contains("HTTP/2 x4 streams", run.StdOut);
            var summary = LoadTool.Summary(work.Path);
            var requests = summary.GetProperty("requests").GetInt64();
            Assert.True(requests > (length == size ? 60 : 500), run.StdOut);
            Assert.Equal(requests * length, summary.GetProperty("bytes").GetInt64());
        }

        // Statuses are read from the header block whether HPACK's static table has them (404: one indexed byte) or not
        // (401 from the admin API without a token: a literal), and counted as status errors.
        foreach (var (path, status) in new[] { ("/vod/clip/nope.m4s", 404), ("/api/vod", 401) })
        {
            var refusedRequest = await LoadTool.RunAsync(["--scenario", "raw-qps", "--http2", "--url", new Uri(server.HttpUri, path).AbsoluteUri,
                "--connections", "1", "--duration", "1"]);
            Assert.Equal(1, refusedRequest.ExitCode);
            Assert.Contains($"status {status} x", refusedRequest.StdOut);
        }

        var refused = await LoadTool.RunAsync(["--scenario", "raw-qps", "--http2", "--url", $"http://127.0.0.1:{RunningServer.FreePort()}/x",
            "--connections", "1", "--duration", "1"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("connect x", refused.StdOut);
    }
}
