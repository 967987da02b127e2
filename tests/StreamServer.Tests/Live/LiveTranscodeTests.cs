using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using StreamServer.LoadTest.Players;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Live;

/// <summary>
/// Channels in mode "transcode": the publish is decoded once and encoded into the ladder's rungs, one LL-HLS media
/// playlist per rung (segments cut at the same instants in every rung), a master naming them all, a DASH MPD with a
/// representation per rung; ffprobe reads every rung back over HTTP frame for frame.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public partial class LiveTranscodeTests
{
    [Fact]
    public async Task A_publish_is_transcoded_into_the_ladder_with_aligned_segments_in_every_rung()
    {
        using var data = new TempDir("ss-live-ladder");
        var port = RunningServer.FreePort();
        await using var server = await RunningServer.StartProcessAsync(data.Path, [$"--StreamServer:RtmpPort={port}",
            "--StreamServer:Live:Channels:0:Name=cam1", "--StreamServer:Live:Channels:0:Key=k", "--StreamServer:Live:Channels:0:Mode=transcode",
            "--StreamServer:Live:Ladder:0=240", "--StreamServer:Live:Ladder:1=144", "--StreamServer:Live:SegmentSeconds=1",
            "--StreamServer:Live:Record=true"]);
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        var publish = ProcessRunner.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=5",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=5",
            // The publisher's GOP (2 s) is not the channel's segment length: the ladder places its own keyframes.
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
            "-f", "flv", $"rtmp://127.0.0.1:{port}/live/cam1?key=k",
        ], TimeSpan.FromSeconds(60));

        // While live: each rung's playlist reports the other rung and the audio (LL-HLS rendition reports).
        var top = await WaitForTextAsync(http, "/live/cam1/v240/index.m3u8", t => t.Split("#EXTINF:").Length - 1 >= 2);
        Assert.Contains("#EXT-X-RENDITION-REPORT:URI=\"../v144/index.m3u8\"", top);
        Assert.Contains("#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\"", top);
        Assert.Contains("#EXT-X-PART:", top);
        var master = await WaitForTextAsync(http, "/live/cam1/master.m3u8", _ => true);
        Assert.Contains("RESOLUTION=320x240", master);
        Assert.Contains("RESOLUTION=192x144", master);
        Assert.Equal(2, master.Split("#EXT-X-STREAM-INF:").Length - 1);
        var mpd = await WaitForTextAsync(http, "/live/cam1/manifest.mpd", _ => true);
        Assert.Contains("type=\"dynamic\"", mpd);
        Assert.Contains("height=\"144\"", mpd);
        Assert.Contains("height=\"240\"", mpd);

        (await publish).EnsureSuccess("ffmpeg publish");
        var rungs = new Dictionary<string, string>();
        foreach (var rung in new[] { "v240", "v144" })
        {
            rungs[rung] = await WaitForTextAsync(http, $"/live/cam1/{rung}/index.m3u8", t => t.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal));
        }

        // Same segment boundaries in every rung (a player switching rungs lands on the same instant), about 1 s each.
        var durations = Durations(rungs["v240"]);
        Assert.Equal(durations, Durations(rungs["v144"]));
        Assert.InRange(durations.Count, 4, 6);
        foreach (var d in durations.SkipLast(1))
        {
            Assert.InRange(d, 0.99, 1.05);
        }

        foreach (var (rung, size) in new[] { ("v240", "320,240"), ("v144", "192,144") })
        {
            var probe = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v", "-show_entries",
                "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", new Uri(server.HttpUri, $"/live/cam1/{rung}/index.m3u8").ToString()],
                TimeSpan.FromSeconds(60));
            probe.EnsureSuccess($"ffprobe {rung}");
            Assert.Equal([$"h264,{size},125"], probe.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct()); // once per program and stream
        }

        // The recording keeps the ladder: a VOD with both rungs.
        var vod = Path.Combine(data.Path, "vod");
        var clock = Stopwatch.StartNew();
        while (Directory.GetDirectories(vod, "cam1-*").Length == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "no recording");
            await Task.Delay(50);
        }

        var recorded = await WaitForTextAsync(http, $"/vod/{Path.GetFileName(Directory.GetDirectories(vod, "cam1-*")[0])}/master.m3u8", _ => true);
        Assert.Equal(2, recorded.Split("#EXT-X-STREAM-INF:").Length - 1);
        Assert.Contains("RESOLUTION=192x144,FRAME-RATE=25.000", recorded);
        Assert.DoesNotContain("fail:", server.Output);
    }

    private static List<double> Durations(string playlist) =>
        [.. ExtInf().Matches(playlist).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    [GeneratedRegex(@"#EXTINF:([0-9.]+),")]
    private static partial Regex ExtInf();

    private static async Task<string> WaitForTextAsync(HttpClient http, string path, Func<string, bool> ready)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync(path);
            if (response.IsSuccessStatusCode && await response.Content.ReadAsStringAsync() is var text && ready(text))
            {
                return text;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"timed out waiting for {path}");
            await Task.Delay(50);
        }
    }
}
