using StreamServer.LoadTest.Players;
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

    /// <summary>
    /// hls.js in low-latency mode (LL-HLS, byte-range parts, delta updates) and shaka in its low-latency mode (LL-DASH:
    /// availabilityTimeOffset, segments streamed while written) play the built-in live channel with 0.2 s parts and 1 s
    /// segments. The latency behind the wall clock is sampled twice a second over the run (LL_PLAYER_SECONDS, 30 s here;
    /// bench/live.sh runs 120): its median must stay under 1.5 s (hls.js) / 2.5 s (shaka) with no stall once playing (the
    /// first 2 s are the player settling on its live offset; the page reports those waits apart), and hls.js must
    /// have used delta updates (the access log shows _HLS_skip). While the player plays, a follower asks for the same
    /// media playlists as an LL-HLS player does (a blocking reload for the next part, every other one in the delta form)
    /// through the LL-HLS validator, so what the server serves during the run is held to its rules too.
    /// </summary>
    [Theory]
    [InlineData("hls", "master.m3u8", 1.5)]
    [InlineData("shaka", "manifest.mpd", 2.5)]
    public async Task PlayerPlaysTheLiveTestChannelAtLowLatency(string player, string manifest, double maxMedianSeconds)
    {
        var missing = HeadlessChromium.Missing();
        Assert.SkipWhen(missing is not null, missing ?? "");
        var seconds = double.Parse(Environment.GetEnvironmentVariable("LL_PLAYER_SECONDS") ?? "30", System.Globalization.CultureInfo.InvariantCulture);
        var part = Environment.GetEnvironmentVariable("LL_PART_SECONDS") ?? "0.2"; // bench/live.sh compares 0.2, 0.333 and 1
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: ["--StreamServer:Live:TestChannel=true",
            "--StreamServer:Live:SegmentSeconds=1", $"--StreamServer:Live:PartSeconds={part}", "--StreamServer:Logging:AccessLog=true"]);
        using var http = new HttpClient { BaseAddress = server.HttpUri };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!(await http.GetAsync("/live/test/video/index.m3u8")).IsSuccessStatusCode || (await http.GetStringAsync("/live/test/video/index.m3u8")).Split("#EXTINF").Length < 4)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the test channel did not start");
            await Task.Delay(200);
        }

        using var following = new CancellationTokenSource();
        using var validator = new LowLatencyHlsValidator();
        var followers = new[] { FollowAsync(server, validator, "video", following.Token), FollowAsync(server, validator, "audio", following.Token) };
        var line = await HeadlessChromium.PlayAsync(player, new Uri(server.HttpUri, $"/live/test/{manifest}"), seconds, TimeSpan.FromSeconds(seconds + 60), live: true);
        await following.CancelAsync();
        await Task.WhenAll(followers); // a violation surfaces here
        Assert.True(validator.Validated >= 2 * seconds, $"the follower validated {validator.Validated} playlists in {seconds} s");
        TestContext.Current.SendDiagnosticMessage(line);
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Assert.StartsWith("PASS", line);
        double After(string label) => double.Parse(line[(line.LastIndexOf(label, StringComparison.Ordinal) + label.Length)..].Split(' ', ',')[0],
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(After("samples ") >= seconds, line);
        Assert.Equal(0, After("stalls "));
        if (part == "0.2")
        {
            Assert.InRange(After("latency "), 0, maxMedianSeconds);
        }
        if (player == "hls")
        {
            var log = await File.ReadAllTextAsync(Path.Combine(server.DataDir, "logs", "access.log"));
            Assert.Contains("_HLS_skip=", log);
        }
    }

    // An LL-HLS player's reload loop on one media playlist: ask for the part after the last one listed and wait for it.
    private static async Task FollowAsync(RunningServer server, LowLatencyHlsValidator validator, string track, CancellationToken stop)
    {
        using var http = new HttpClient(validator, disposeHandler: false) { BaseAddress = server.HttpUri };
        var url = $"/live/test/{track}/index.m3u8";
        var playlist = LowLatencyPlaylist.Parse(await http.GetStringAsync(url, stop));
        for (var reload = 0; !stop.IsCancellationRequested; reload++)
        {
            var msn = playlist.OpenMsn;
            var part = playlist.Parts.Count(p => p.Msn == msn);
            try
            {
                playlist = LowLatencyPlaylist.Parse(await http.GetStringAsync($"{url}?_HLS_msn={msn}&_HLS_part={part}{(reload % 2 == 1 ? "&_HLS_skip=YES" : "")}", stop));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
