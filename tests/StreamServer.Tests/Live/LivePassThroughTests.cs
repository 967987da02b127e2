using System.Diagnostics;
using System.Globalization;
using StreamServer.LoadTest.Players;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;
using TracingEnvironment = StreamServer.Tests.Tracing.TracingEnvironment;

namespace StreamServer.Tests.Live;

/// <summary>
/// Pass-through live packaging: what ffmpeg publishes over RTMP is remuxed (not re-encoded) into CMAF segments with
/// sliding-window playlists in the channel's window folder, served at /live/{channel}/ by the same paths as VOD, which
/// ffprobe reads back frame for frame over HTTP.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class LivePassThroughTests
{
    private static async Task<(RunningServer Server, int Port, TempDir Data)> StartAsync(params string[] extra)
    {
        var data = new TempDir("ss-live");
        var port = RunningServer.FreePort();
        var server = await RunningServer.StartProcessAsync(data.Path, [$"--StreamServer:RtmpPort={port}",
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

    [Theory]
    [InlineData(0.2, 30, 1200, 5, 200)] // 1.2 s at 25 fps: 5 frames (0.2 s) divide it
    [InlineData(0.2, 36, 1440, 6, 240)] // 36 frames: 5 does not divide, 6 (0.24 s) is the closest divisor in 0.2-1 s
    [InlineData(0.2, 45, 1500, 9, 300)] // 1.5 s at 30 fps: 6 frames does not divide 45, 9 (0.3 s) does
    [InlineData(0.5, 60, 2000, 15, 500)]
    [InlineData(0.2, 37, 1233, 6, 200)] // a prime GOP: no divisor fits, parts of the target (the segment's last is shorter)
    public void The_part_length_divides_the_gop_when_it_can(double target, int gopFrames, long gopMs, int frames, long ms)
    {
        var (f, m) = Transcode.Live.LiveRemuxer.PartLength(target, gopFrames, gopMs);
        Assert.Equal(frames, f);
        Assert.InRange(m, ms - 1, ms + 1);
    }

    [Fact]
    public async Task A_gop_that_0_2_s_parts_do_not_divide_gets_whole_parts_of_one_length()
    {
        var (server, port, data) = await StartAsync("--StreamServer:Live:PartSeconds=0.2");
        await using var _ = server;
        using var __ = data;
        string[] publish = [.. Publish(port, 4, realtime: false)];
        publish[Array.IndexOf(publish, "-g") + 1] = "36"; // 1.44 s at 25 fps
        (await ProcessRunner.RunAsync("ffmpeg", [.. publish[..^3], "-keyint_min", "36", "-sc_threshold", "0", .. publish[^3..]], TimeSpan.FromSeconds(60)))
            .EnsureSuccess("ffmpeg publish");
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        await WaitForAsync(async () => (await TextAsync(http, "/live/cam1/video/index.m3u8"))?.Contains("#EXT-X-ENDLIST") == true);
        var video = LowLatencyPlaylist.Parse((await TextAsync(http, "/live/cam1/video/index.m3u8"))!);
        Assert.Equal(0.24, video.PartTarget);
        Assert.Equal(3, video.Segments.Count); // 36 + 36 + 28 frames
        foreach (var segment in video.Segments.Take(2))
        {
            var parts = video.Parts.Where(p => p.Msn == segment.Msn).ToList();
            Assert.Equal(6, parts.Count);
            Assert.All(parts, p => Assert.InRange(p.Duration, 0.239, 0.241));
            Assert.All(parts, p => Assert.Equal(p.Index == 0, p.Independent));
        }
    }

    [Fact]
    public async Task A_publish_is_remuxed_into_cmaf_segments_that_ffprobe_reads_frame_for_frame()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        (await ProcessRunner.RunAsync("ffmpeg", Publish(port, 4, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg publish");
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        await WaitForAsync(async () => (await TextAsync(http, "/live/cam1/video/index.m3u8"))?.Contains("#EXT-X-ENDLIST") == true);

        var master = (await TextAsync(http, "/live/cam1/master.m3u8"))!;
        Assert.Contains("CODECS=\"avc1.", master);
        Assert.Contains("mp4a.40.2", master);
        Assert.Contains("RESOLUTION=320x240", master);
        var video = (await TextAsync(http, "/live/cam1/video/index.m3u8"))!;
        Assert.Equal(4, video.Split("#EXTINF:").Length - 1);
        Assert.Contains("#EXT-X-PROGRAM-DATE-TIME:", video);
        Assert.Contains("#EXT-X-MAP:URI=\"init.mp4\"", video);

        var probe = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames",
            "-of", "csv=p=0", new Uri(server.HttpUri, "/live/cam1/master.m3u8").ToString()], TimeSpan.FromSeconds(60));
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
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        const string Url = "/live/cam1/video/index.m3u8";
        await WaitForAsync(async () => (await TextAsync(http, Url))?.Contains("#EXT-X-MEDIA-SEQUENCE:3") == true, TimeSpan.FromSeconds(20));

        // While live: the playlist may be kept a second, segments forever; both may be read from any origin.
        using var response = await http.GetAsync(Url);
        var live = await response.Content.ReadAsStringAsync();
        Assert.Equal("public, max-age=1", response.Headers.CacheControl?.ToString());
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("application/vnd.apple.mpegurl", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("#EXT-X-ENDLIST", live);
        Assert.Equal(3, live.Split("#EXTINF:").Length - 1);
        var newest = live.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.EndsWith(".m4s", StringComparison.Ordinal));
        using var segment = await http.GetAsync("/live/cam1/video/" + newest);
        Assert.Equal(System.Net.HttpStatusCode.OK, segment.StatusCode);
        Assert.Equal("public, max-age=31536000, immutable", segment.Headers.CacheControl?.ToString());
        Assert.Equal("video/iso.segment", segment.Content.Headers.ContentType?.MediaType);
        var bytes = await segment.Content.ReadAsByteArrayAsync();
        Assert.Equal("moof", System.Text.Encoding.ASCII.GetString(bytes, 4, 4)); // a whole CMAF fragment, never a growing file

        // The DASH view of the same window: dynamic, its timeline numbered like the HLS window, read by ffprobe while live.
        var mpd = System.Xml.Linq.XDocument.Parse((await TextAsync(http, "/live/cam1/manifest.mpd"))!);
        System.Xml.Linq.XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
        var root = mpd.Root!;
        Assert.Equal("dynamic", (string?)root.Attribute("type"));
        Assert.True(DateTimeOffset.TryParse((string?)root.Attribute("availabilityStartTime"), CultureInfo.InvariantCulture, out var start));
        Assert.InRange((DateTimeOffset.UtcNow - start).TotalSeconds, 3, 15);
        Assert.NotNull(root.Attribute("timeShiftBufferDepth"));
        Assert.NotNull(root.Attribute("minimumUpdatePeriod"));
        Assert.Null(root.Attribute("mediaPresentationDuration"));
        var template = root.Descendants(ns + "SegmentTemplate").First();
        Assert.True(int.Parse((string)template.Attribute("startNumber")!, CultureInfo.InvariantCulture) >= 3, "the MPD window does not slide");
        Assert.Equal(2, root.Descendants(ns + "AdaptationSet").Count());

        // Players sync to the server's clock (UTCTiming -> /time) and aim for the latency the service description gives.
        var timing = root.Element(ns + "UTCTiming")!;
        Assert.Equal("urn:mpeg:dash:utc:http-iso:2014", (string?)timing.Attribute("schemeIdUri"));
        var serverTime = DateTimeOffset.Parse((await TextAsync(http, (string)timing.Attribute("value")!))!, CultureInfo.InvariantCulture);
        Assert.InRange((DateTimeOffset.UtcNow - serverTime).TotalSeconds, -1, 1);
        Assert.True(int.Parse((string)root.Element(ns + "ServiceDescription")!.Element(ns + "Latency")!.Attribute("target")!, CultureInfo.InvariantCulture) > 0);
        var dash = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
            new Uri(server.HttpUri, "/live/cam1/manifest.mpd").ToString()], TimeSpan.FromSeconds(30));
        dash.EnsureSuccess("ffprobe (live DASH)");
        Assert.Contains("h264", dash.StdOut);
        Assert.Contains("aac", dash.StdOut);

        (await publish).EnsureSuccess("ffmpeg publish");
        await WaitForAsync(async () => (await TextAsync(http, Url))?.Contains("#EXT-X-ENDLIST") == true);
        var endedMpd = System.Xml.Linq.XDocument.Parse((await TextAsync(http, "/live/cam1/manifest.mpd"))!).Root!;
        Assert.NotNull(endedMpd.Attribute("mediaPresentationDuration"));
        Assert.Null(endedMpd.Attribute("minimumUpdatePeriod"));
        var ended = (await TextAsync(http, Url))!;
        var playlist = Path.Combine(data.Path, "live-window", "cam1", "video", "index.m3u8");
        Assert.Equal(3, ended.Split("#EXTINF:").Length - 1);
        // The window plus the one segment just before it stay; everything older is gone.
        Assert.InRange(Directory.GetFiles(Path.GetDirectoryName(playlist)!, "seg_*.m4s").Length, 3, 4);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(playlist)!, "seg_00001.m4s")));

        // Playlists and the MPD are served from memory (no file per part): none is on disk, and each version has its own
        // validator, so a conditional reload of the unchanged ended playlist is a 304 on both paths (raw HTTP/1.1, Kestrel h2c).
        Assert.Empty(Directory.GetFiles(Path.Combine(data.Path, "live-window"), "*.m3u8", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(data.Path, "live-window"), "*.mpd", SearchOption.AllDirectories));
        using var first = await http.GetAsync(Url);
        Assert.Equal("public, max-age=1", first.Headers.CacheControl?.ToString());
        Assert.Equal(ended, await first.Content.ReadAsStringAsync());
        var etag = first.Headers.ETag!;
        using var conditional = new HttpRequestMessage(HttpMethod.Get, Url) { Headers = { IfNoneMatch = { etag } } };
        Assert.Equal(System.Net.HttpStatusCode.NotModified, (await http.SendAsync(conditional)).StatusCode);
        var h2 = await ProcessRunner.RunAsync("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
            "-H", "If-None-Match: " + etag.Tag, new Uri(server.HttpUri, Url).ToString()], TimeSpan.FromSeconds(30));
        Assert.Equal("304 2", h2.StdOut);
    }

    [Fact]
    public async Task Segments_go_out_over_http2_and_by_sendfile_over_http11()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        (await ProcessRunner.RunAsync("ffmpeg", Publish(port, 3, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg publish");
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        await WaitForAsync(async () => (await TextAsync(http, "/live/cam1/video/index.m3u8"))?.Contains("#EXT-X-ENDLIST") == true);
        var onDisk = await File.ReadAllBytesAsync(Path.Combine(data.Path, "live-window", "cam1", "video", "seg_00001.m4s"));

        var h2 = await ProcessRunner.RunAsync("curl", ["-sS", "--http2-prior-knowledge", "-o", "-", "-w", "%{http_version}", new Uri(server.HttpUri, "/live/cam1/video/seg_00001.m4s").ToString()], TimeSpan.FromSeconds(30));
        h2.EnsureSuccess("curl h2c");
        Assert.EndsWith("2", h2.StdOut, StringComparison.Ordinal);

        const string Family = "streamserver_http_response_bytes_total";
        var before = TracingEnvironment.MetricSum(await server.MetricsAsync(), Family, "path=\"sendfile\"");
        Assert.Equal(onDisk, await http.GetByteArrayAsync("/live/cam1/video/seg_00001.m4s"));
        var after = TracingEnvironment.MetricSum(await server.MetricsAsync(), Family, "path=\"sendfile\"");
        Assert.True(after - before >= onDisk.Length,
            "an HTTP/1.1 live segment did not leave by sendfile");
    }

    [Fact]
    public async Task A_publisher_that_comes_back_continues_the_playlist_after_a_discontinuity()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        const string Url = "/live/cam1/video/index.m3u8";
        (await ProcessRunner.RunAsync("ffmpeg", Publish(port, 3, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("first publish");
        await WaitForAsync(async () => (await TextAsync(http, Url))?.Contains("#EXT-X-ENDLIST") == true);
        var firstPublish = (await TextAsync(http, Url))!;
        Assert.Equal(3, firstPublish.Split("#EXTINF:").Length - 1);

        (await ProcessRunner.RunAsync("ffmpeg", Publish(port, 2, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("second publish");
        await WaitForAsync(async () => (await TextAsync(http, Url)) is { } t && t.Contains("#EXT-X-ENDLIST") && t.Contains("seg_00005.m4s"));
        var joined = (await TextAsync(http, Url))!;

        // The first publish's segments stay listed, numbering goes on, and the join is a discontinuity with the new init.
        Assert.Contains("#EXT-X-MEDIA-SEQUENCE:1\n", joined);
        Assert.Equal(5, joined.Split("#EXTINF:").Length - 1);
        var lines = joined.Split('\n');
        var join = Array.IndexOf(lines, "#EXT-X-DISCONTINUITY");
        Assert.True(join > 0, joined);
        Assert.Equal("#EXT-X-MAP:URI=\"init-2.mp4\"", lines[join + 1]);
        Assert.Equal("seg_00004.m4s", lines.Skip(join).First(l => l.EndsWith(".m4s", StringComparison.Ordinal)));
        Assert.Equal(1, joined.Split("#EXT-X-ENDLIST").Length - 1);
        using var init = await http.GetAsync("/live/cam1/video/init-2.mp4");
        Assert.Equal(System.Net.HttpStatusCode.OK, init.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/live/cam1/video/seg_00001.m4s")).StatusCode);

        // DASH describes the current publish: its own init segment and numbering.
        var mpd = (await TextAsync(http, "/live/cam1/manifest.mpd"))!;
        Assert.Contains("initialization=\"video/init-2.mp4\"", mpd);
        Assert.Contains("startNumber=\"4\"", mpd);
        Assert.DoesNotContain("fail:", server.Output);
    }

    [Fact]
    public async Task A_dvr_depth_lists_more_than_the_window_and_a_recorded_publish_becomes_a_vod()
    {
        var (server, port, data) = await StartAsync("--StreamServer:Live:WindowSegments=3", "--StreamServer:Live:DvrSeconds=4.5", "--StreamServer:Live:Record=true",
            "--Logging:LogLevel:StreamServer.Live=Information");
        await using var _ = server;
        using var __ = data;
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        (await ProcessRunner.RunAsync("ffmpeg", Publish(port, 6, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg publish");
        await WaitForAsync(async () => (await TextAsync(http, "/live/cam1/video/index.m3u8"))?.Contains("#EXT-X-ENDLIST") == true);

        // Live: the window is 3 segments, the DVR depth 4.5 s: four 1 s segments stay listed, in HLS and DASH.
        var live = (await TextAsync(http, "/live/cam1/video/index.m3u8"))!;
        Assert.Equal(4, live.Split("#EXTINF:").Length - 1);
        Assert.Contains("#EXT-X-MEDIA-SEQUENCE:3\n", live);
        Assert.Contains("startNumber=\"3\"", (await TextAsync(http, "/live/cam1/manifest.mpd"))!);

        // Recorded: the whole publish, renumbered from 1, under /vod/cam1-<start>/ with VOD playlists and a static MPD.
        var vod = Path.Combine(data.Path, "vod");
        await WaitForAsync(() => Task.FromResult(Directory.GetDirectories(vod, "cam1-*").Length == 1));
        var id = Path.GetFileName(Directory.GetDirectories(vod, "cam1-*")[0]);
        Assert.Matches(@"^cam1-\d{8}-\d{6}$", id);
        Assert.Empty(Directory.GetDirectories(vod, ".staging-*"));
        var media = (await TextAsync(http, $"/vod/{id}/video/index.m3u8"))!;
        Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD", media);
        Assert.Equal(6, media.Split("#EXTINF:").Length - 1);
        Assert.Contains("seg_00001.m4s", media);
        Assert.Contains("type=\"static\"", (await TextAsync(http, $"/vod/{id}/manifest.mpd"))!);
        var probe = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames",
            "-of", "csv=p=0", new Uri(server.HttpUri, $"/vod/{id}/master.m3u8").ToString()], TimeSpan.FromSeconds(60));
        probe.EnsureSuccess("ffprobe (recording)");
        var frames = probe.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct().ToDictionary(l => l.Split(',')[0], l => int.Parse(l.Split(',')[1], CultureInfo.InvariantCulture));
        Assert.Equal(150, frames["h264"]);
        Assert.InRange(frames["aac"], 279, 284);
        await server.WaitForOutputAsync($"publish recorded as VOD '{id}'");
        Assert.DoesNotContain("fail:", server.Output);
    }


    private static async Task<string?> TextAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
    }

    private static Task WaitForAsync(Func<Task<bool>> condition, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(condition, timeout ?? TimeSpan.FromSeconds(15), () => "the condition never held");
}
