using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;
using StreamServer.Transcode;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Tests.Players;

/// <summary>The players our users run (hls.js, shaka-player) play our HLS and DASH output in Chromium.</summary>
[Collection(ServerTestsCollection.Name)]
public class PlayerTests
{
    [Theory]
    [InlineData("hls", "master.m3u8")]
    [InlineData("shaka", "manifest.mpd")]
    public async Task PlayerPlaysThePackagedVod(string player, string manifest)
    {
        var missing = HeadlessChromium.Missing();
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var server = await RunningServer.StartAsync(tls: false);
        using var work = new TempDir();
        var clip = await TestMedia.GenerateAsync(work.Combine("clip.mp4"), seconds: 6, width: 640, height: 360);
        await Packager.PackageAsync(clip, Path.Combine(server.DataDir, "vod", "clip"),
            new PackagingOptions { Ladder = [360, 240], Preset = "ultrafast", SegmentSeconds = 2 }, null, TestContext.Current.CancellationToken);

        var line = await HeadlessChromium.PlayAsync(player, new Uri(server.HttpUri, $"/vod/clip/{manifest}"), seconds: 3, TimeSpan.FromSeconds(60));
        TestContext.Current.SendDiagnosticMessage(line);
        Assert.StartsWith("PASS", line);
    }

    /// <summary>hls.js (LL-HLS) and shaka (dynamic DASH) play the built-in live channel; the latency behind the wall clock is printed.</summary>
    [Theory]
    [InlineData("hls", "master.m3u8", 4.0)]
    [InlineData("shaka", "manifest.mpd", 8.0)]
    public async Task PlayerPlaysTheLiveTestChannel(string player, string manifest, double maxLatencySeconds)
    {
        var missing = HeadlessChromium.Missing();
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: ["--StreamServer:Live:TestChannel=true",
            "--StreamServer:Live:SegmentSeconds=1", "--StreamServer:Live:PartSeconds=0.333"]);
        using var http = new HttpClient { BaseAddress = server.HttpUri };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!(await http.GetAsync("/live/test/video/index.m3u8")).IsSuccessStatusCode || (await http.GetStringAsync("/live/test/video/index.m3u8")).Split("#EXTINF").Length < 4)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the test channel did not start");
            await Task.Delay(200);
        }

        var line = await HeadlessChromium.PlayAsync(player, new Uri(server.HttpUri, $"/live/test/{manifest}"), seconds: 4, TimeSpan.FromSeconds(60), live: true);
        TestContext.Current.SendDiagnosticMessage(line);
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Assert.StartsWith("PASS", line);
        var latency = double.Parse(line[(line.LastIndexOf("latency ", StringComparison.Ordinal) + 8)..].TrimEnd('s', ' '), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(latency, 0, maxLatencySeconds);
    }
}
