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
        var tool = RepoPaths.Combine("loadtest", "bin", "Release", "net10.0", "LoadTest.dll");
        Assert.True(File.Exists(tool), $"{tool} not built (scripts/setup.sh builds the solution in Release)");
        await using var server = await RunningServer.StartAsync();
        using var work = new TempDir();
        var clip = await TestMedia.GenerateAsync(work.Combine("clip.mp4"), seconds: 4);
        await Packager.PackageAsync(clip, Path.Combine(server.DataDir, "vod", "clip"),
            new PackagingOptions { Ladder = [240, 160], Preset = "ultrafast", SegmentSeconds = 1 }, null, TestContext.Current.CancellationToken);

        foreach (var (baseUri, extra) in new[] { (server.HttpUri, Array.Empty<string>()), (server.HttpsUri!, ["--http2"]) })
        {
            var result = await ProcessRunner.RunAsync("dotnet",
                [tool, "--url", new Uri(baseUri, "/vod/clip/master.m3u8").AbsoluteUri, "--players", "4", "--duration", "3", "--pace", "max", .. extra]);
            Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
            Assert.Contains("errors 0", result.StdOut);
            var segments = long.Parse(result.StdOut.Split("segments ")[1].Split(',')[0], CultureInfo.InvariantCulture);
            Assert.True(segments >= 8, result.StdOut); // 4 players x at least one pass over 4 video + 4 audio segments
        }
    }
}
