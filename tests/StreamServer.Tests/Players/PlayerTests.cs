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
}
