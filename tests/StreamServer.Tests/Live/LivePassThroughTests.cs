using System.Diagnostics;
using System.Globalization;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Live;

/// <summary>
/// Pass-through live packaging: what ffmpeg publishes over RTMP is remuxed (not re-encoded) into CMAF segments with
/// sliding-window playlists under DataDir/live/{channel}/, which ffprobe reads back frame for frame.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class LivePassThroughTests
{
    private static async Task<(ServerProcess Server, int Port, TempDir Data)> StartAsync(params string[] extra)
    {
        var data = new TempDir("ss-live");
        var port = ServerProcess.FreePort();
        var server = await ServerProcess.StartAsync(data.Path, [$"--StreamServer:RtmpPort={port}",
            "--StreamServer:Live:Channels:0:Name=cam1", "--StreamServer:Live:Channels:0:Key=k", "--StreamServer:Live:SegmentSeconds=1", .. extra]);
        return (server, port, data);
    }

    private static string[] Publish(int port, int seconds, bool realtime) =>
    [
        "-hide_banner", "-loglevel", "error", .. realtime ? (string[])["-re"] : [],
        "-f", "lavfi", "-i", $"testsrc2=size=320x240:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", $"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
        "-f", "flv", $"rtmp://127.0.0.1:{port}/live/cam1?key=k",
    ];

    [Fact]
    public async Task A_publish_is_remuxed_into_cmaf_segments_that_ffprobe_reads_frame_for_frame()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        (await ProcessRunner.RunAsync("ffmpeg", Publish(port, 4, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg publish");
        var root = Path.Combine(data.Path, "live", "cam1");
        await WaitForAsync(() => File.Exists(Path.Combine(root, "v", "index.m3u8")) && File.ReadAllText(Path.Combine(root, "v", "index.m3u8")).Contains("#EXT-X-ENDLIST"));

        var master = await File.ReadAllTextAsync(Path.Combine(root, "master.m3u8"));
        Assert.Contains("CODECS=\"avc1.", master);
        Assert.Contains("mp4a.40.2", master);
        Assert.Contains("RESOLUTION=320x240", master);
        var video = await File.ReadAllTextAsync(Path.Combine(root, "v", "index.m3u8"));
        Assert.Equal(4, video.Split("#EXTINF:").Length - 1);
        Assert.Contains("#EXT-X-PROGRAM-DATE-TIME:", video);
        Assert.Contains("#EXT-X-MAP:URI=\"init.mp4\"", video);

        var probe = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames",
            "-of", "csv=p=0", Path.Combine(root, "master.m3u8")], TimeSpan.FromSeconds(60));
        probe.EnsureSuccess("ffprobe");
        var frames = probe.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct().ToDictionary(l => l.Split(',')[0], l => int.Parse(l.Split(',')[1], CultureInfo.InvariantCulture));
        Assert.Equal(100, frames["h264"]);
        Assert.InRange(frames["aac"], 186, 190);
        Assert.DoesNotContain("fail:", server.Output);
    }

    [Fact]
    public async Task The_window_slides_while_live_and_old_segments_are_deleted()
    {
        var (server, port, data) = await StartAsync("--StreamServer:Live:WindowSegments=3");
        await using var _ = server;
        using var __ = data;
        var publish = ProcessRunner.RunAsync("ffmpeg", Publish(port, 7, realtime: true), TimeSpan.FromSeconds(60));
        var playlist = Path.Combine(data.Path, "live", "cam1", "v", "index.m3u8");
        await WaitForAsync(() => File.Exists(playlist) && File.ReadAllText(playlist).Contains("#EXT-X-MEDIA-SEQUENCE:3"), TimeSpan.FromSeconds(20));
        var live = await File.ReadAllTextAsync(playlist);
        Assert.DoesNotContain("#EXT-X-ENDLIST", live);
        Assert.Equal(3, live.Split("#EXTINF:").Length - 1);
        (await publish).EnsureSuccess("ffmpeg publish");
        await WaitForAsync(() => File.ReadAllText(playlist).Contains("#EXT-X-ENDLIST"));
        var ended = await File.ReadAllTextAsync(playlist);
        Assert.Equal(3, ended.Split("#EXTINF:").Length - 1);
        // The window plus the one segment just before it stay; everything older is gone.
        Assert.InRange(Directory.GetFiles(Path.GetDirectoryName(playlist)!, "seg_*.m4s").Length, 3, 4);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(playlist)!, "seg_00001.m4s")));
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(10)), "timed out waiting");
            await Task.Delay(50);
        }
    }
}
