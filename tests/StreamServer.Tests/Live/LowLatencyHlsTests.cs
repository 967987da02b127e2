using System.Diagnostics;
using System.Globalization;
using StreamServer.LoadTest.Players;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Live;

/// <summary>
/// LL-HLS (RFC 8216bis) on the built-in test channel (1 s segments, 0.5 s parts, a keyframe every second): parts as
/// byte ranges of their segment (and as files of their own), preload hint, server control, rendition reports, blocking
/// playlist reload and the hinted part answered as it is written, over HTTP/1.1 and h2c. Every media playlist the
/// tests receive goes through <see cref="LowLatencyHlsValidator"/>.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class LowLatencyHlsTests
{
    private const string Video = "/live/test/video/index.m3u8";

    private static async Task<(RunningServer Server, TempDir Data, HttpClient Http)> StartAsync(params string[] extra)
    {
        var data = new TempDir("ss-llhls");
        var server = await RunningServer.StartProcessAsync(data.Path, ["--StreamServer:Live:TestChannel=true", "--StreamServer:Live:SegmentSeconds=1",
            "--StreamServer:Live:PartSeconds=0.5", .. extra]);
        var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var r = await http.GetAsync(Video);
            if (r.IsSuccessStatusCode && (await r.Content.ReadAsStringAsync()).Split("#EXTINF:").Length > 3)
            {
                return (server, data, http);
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the test channel did not start");
            await Task.Delay(100);
        }
    }

    // The hinted part: its segment's msn and its index in it (the validator checked that the hint names exactly that).
    private static (int Msn, int Part) Hint(string playlist)
    {
        var p = LowLatencyPlaylist.Parse(playlist);
        return (p.OpenMsn, p.Parts.Count(x => x.Msn == p.OpenMsn));
    }

    [Fact]
    public async Task A_delta_update_skips_what_lies_past_can_skip_until_and_lists_the_rest_exactly()
    {
        var (server, data, http) = await StartAsync("--StreamServer:Live:WindowSegments=20");
        await using var _ = server;
        using var __ = data;
        using var ___ = http;
        string full = "", delta = "";
        int skipped = 0;
        await Eventually.TrueAsync(async () =>
        {
            full = await http.GetStringAsync(Video);
            delta = await http.GetStringAsync(Video + "?_HLS_skip=YES");
            var line = delta.Split('\n').FirstOrDefault(l => l.StartsWith("#EXT-X-SKIP:SKIPPED-SEGMENTS=", StringComparison.Ordinal));
            skipped = line is null ? 0 : int.Parse(line[29..], CultureInfo.InvariantCulture);
            return skipped >= 3;
        }, TimeSpan.FromSeconds(40), () => $"no delta with 3 skipped segments:\n{delta}");

        // Same header; the delta lists exactly the segments after the skipped ones, with the same names and durations.
        static List<string> Segments(string playlist) => playlist.Split('\n').Where(l => l.EndsWith(".m4s", StringComparison.Ordinal) && !l.StartsWith('#')).ToList();
        static string Line(string playlist, string tag) => playlist.Split('\n').Single(l => l.StartsWith(tag, StringComparison.Ordinal));
        var fullAgain = await http.GetStringAsync(Video);
        delta = await http.GetStringAsync(Video + "?_HLS_skip=YES");
        var all = Segments(fullAgain);
        var rest = Segments(delta);
        var skip = int.Parse(Line(delta, "#EXT-X-SKIP:SKIPPED-SEGMENTS=")[29..], CultureInfo.InvariantCulture);
        Assert.Equal(Line(fullAgain, "#EXT-X-MEDIA-SEQUENCE:"), Line(delta, "#EXT-X-MEDIA-SEQUENCE:"));
        Assert.Equal(all.Skip(skip), rest);
        Assert.True(delta.Length < fullAgain.Length);

        // RFC 8216bis 6.2.5.1: only segments that end CAN-SKIP-UNTIL or more before the playlist's end are skipped.
        var canSkipUntil = double.Parse(Line(delta, "#EXT-X-SERVER-CONTROL:").Split("CAN-SKIP-UNTIL=")[1].Split(',')[0], CultureInfo.InvariantCulture);
        var durations = fullAgain.Split('\n').Where(l => l.StartsWith("#EXTINF:", StringComparison.Ordinal))
            .Select(l => double.Parse(l[8..l.IndexOf(',')], CultureInfo.InvariantCulture)).ToList();
        Assert.True(durations.Skip(skip).Sum() >= canSkipUntil - 0.01, $"skipped {skip} of {durations.Count}: {durations.Skip(skip).Sum():0.000} s left, under CAN-SKIP-UNTIL={canSkipUntil}");
        Assert.True(canSkipUntil >= 6 * int.Parse(Line(delta, "#EXT-X-TARGETDURATION:")[22..], CultureInfo.InvariantCulture));

        // A blocking reload asking for the delta form waits for the next segment and answers with a delta.
        var (msn, _) = Hint(delta);
        using var blocked = await http.GetAsync($"{Video}?_HLS_msn={msn + 1}&_HLS_skip=YES");
        var blockedText = await blocked.Content.ReadAsStringAsync();
        Assert.Contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=", blockedText);
        Assert.True(Hint(blockedText).Msn >= msn + 1, blockedText);
    }

    [Theory]
    [InlineData("byterange")]
    [InlineData("files")]
    public async Task Media_playlists_carry_parts_a_preload_hint_server_control_and_rendition_reports(string addressing)
    {
        var (server, data, http) = await StartAsync($"--StreamServer:Live:Parts={addressing}");
        await using var _ = server;
        using var __ = data;
        using var ___ = http;
        var video = await http.GetStringAsync(Video);
        var target = int.Parse(video.Split('\n').Single(l => l.StartsWith("#EXT-X-TARGETDURATION:", StringComparison.Ordinal))[22..], CultureInfo.InvariantCulture);
        Assert.Contains($"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={6 * target},PART-HOLD-BACK=1.5\n", video);
        Assert.Contains("#EXT-X-PART-INF:PART-TARGET=0.5\n", video);
        Assert.Contains("#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\",LAST-MSN=", video);
        var playlist = LowLatencyPlaylist.Parse(video);
        Assert.True(playlist.Parts.Count >= 4, video);
        foreach (var part in playlist.Parts)
        {
            Assert.InRange(part.Duration, 0.4, 0.5);

            // A keyframe each second and parts of half a second: the first part of each segment, and only it, is independent.
            Assert.Equal(part.Index == 0, part.Independent);
            Assert.Equal(addressing == "byterange", part.IsByteRange);
        }

        // Parts are the segment's fragments: the two parts of a complete segment make its file, byte for byte.
        var segment = playlist.Segments.First(s => playlist.Parts.Count(p => p.Msn == s.Msn) == 2);
        var joined = new List<byte>();
        foreach (var part in playlist.Parts.Where(p => p.Msn == segment.Msn))
        {
            using var get = new HttpRequestMessage(HttpMethod.Get, "/live/test/video/" + part.Uri);
            if (part.IsByteRange)
            {
                Assert.Equal(segment.Uri, part.Uri);
                get.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(part.Offset, part.Offset + part.Length - 1);
            }

            using var got = await http.SendAsync(get);
            Assert.Equal(part.IsByteRange ? System.Net.HttpStatusCode.PartialContent : System.Net.HttpStatusCode.OK, got.StatusCode);
            joined.AddRange(await got.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(await http.GetByteArrayAsync("/live/test/video/" + segment.Uri), joined.ToArray());

        var audio = await http.GetStringAsync("/live/test/audio/index.m3u8");
        Assert.Contains("#EXT-X-RENDITION-REPORT:URI=\"../video/index.m3u8\",LAST-MSN=", audio);
        Assert.Contains(addressing == "byterange" ? "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_" : "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_", audio);
        if (addressing == "byterange")
        {
            // Each byte is written once: no part files in the window.
            Assert.Empty(Directory.GetFiles(Path.Combine(data.Path, "live-window", "test", "video"), "part_*"));

            // A listed part of the segment still being written leaves by sendfile from the buffer pool's memfd (the
            // HTTP/1.1 zero-copy path: a fresh connection, this client's went to Kestrel with its first 404), and is
            // exactly what the segment's file holds there once complete. Asked for the moment the segment's first part
            // appears (a blocking reload), so the segment is still open: the answer has no ETag and a length of "*".
            var atEdge = LowLatencyPlaylist.Parse(await http.GetStringAsync(Video));
            var fresh = LowLatencyPlaylist.Parse(await http.GetStringAsync($"{Video}?_HLS_msn={atEdge.OpenMsn + 1}&_HLS_part=0"));
            var growing = fresh.Parts.First(p => p.Msn == atEdge.OpenMsn + 1);
            using var direct = new HttpClient { BaseAddress = server.HttpUri };
            const string Family = "streamserver_http_response_bytes_total";
            var sentBefore = global::StreamServer.Tests.Tracing.TracingEnvironment.MetricSum(await server.MetricsAsync(), Family, "path=\"sendfile\"");
            using var rangeRequest = new HttpRequestMessage(HttpMethod.Get, "/live/test/video/" + growing.Uri);
            rangeRequest.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(growing.Offset, growing.Offset + growing.Length - 1);
            using var rangeResponse = await direct.SendAsync(rangeRequest);
            Assert.Equal(System.Net.HttpStatusCode.PartialContent, rangeResponse.StatusCode);
            Assert.Null(rangeResponse.Headers.ETag);
            Assert.EndsWith("/*", rangeResponse.Content.Headers.GetValues("Content-Range").Single(), StringComparison.Ordinal);
            var partBytes = await rangeResponse.Content.ReadAsByteArrayAsync();
            var sentAfter = global::StreamServer.Tests.Tracing.TracingEnvironment.MetricSum(await server.MetricsAsync(), Family, "path=\"sendfile\"");
            Assert.True(sentAfter - sentBefore >= growing.Length, "a part of the open segment did not leave by sendfile");

            // A whole GET of a segment still open streams it to its end (the same answer as the file once complete).
            var completed = await http.GetByteArrayAsync("/live/test/video/" + growing.Uri);
            Assert.Equal(completed.AsSpan((int)growing.Offset, (int)growing.Length).ToArray(), partBytes);

            // LL-DASH over the same bytes: the MPD lists the segment being written, available one chunk after it begins,
            // and a plain GET of it streams it as its chunks complete (200, no length up front), ending as the file.
            var mpd = await http.GetStringAsync("/live/test/manifest.mpd");
            Assert.Contains("availabilityTimeOffset=\"0.5\"", mpd);
            Assert.Contains("availabilityTimeComplete=\"false\"", mpd);
            var open = LowLatencyPlaylist.Parse(await http.GetStringAsync(Video)).OpenMsn;
            using var streamed = await http.GetAsync($"/live/test/video/seg_{open:D5}.m4s", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(System.Net.HttpStatusCode.OK, streamed.StatusCode);
            var body = await streamed.Content.ReadAsByteArrayAsync();
            Assert.Equal(await http.GetByteArrayAsync($"/live/test/video/seg_{open:D5}.m4s"), body);

            // FFmpeg's DASH demuxer reads the low-latency MPD too.
            var dashProbe = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                new Uri(server.HttpUri, "/live/test/manifest.mpd").ToString()], TimeSpan.FromSeconds(60));
            dashProbe.EnsureSuccess("ffprobe (LL-DASH)");
            Assert.Contains("h264", dashProbe.StdOut);
            Assert.Contains("aac", dashProbe.StdOut);
        }

        var probe = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
            new Uri(server.HttpUri, "/live/test/master.m3u8").ToString()], TimeSpan.FromSeconds(60));
        probe.EnsureSuccess("ffprobe (LL-HLS)");
        Assert.Contains("h264", probe.StdOut);
    }

    [Fact]
    public async Task A_blocking_reload_is_answered_within_one_part_of_the_part_appearing()
    {
        // Part files: their modification time says when each part appeared.
        var (server, data, http) = await StartAsync("--StreamServer:Live:Parts=files");
        await using var _ = server;
        using var __ = data;
        using var ___ = http;
        var window = Path.Combine(data.Path, "live-window", "test", "video");
        var delays = new List<double>();
        for (var round = 0; round < 6; round++)
        {
            var (msn, part) = Hint(await http.GetStringAsync(Video));
            var clock = Stopwatch.StartNew();
            var body = await http.GetStringAsync($"{Video}?_HLS_msn={msn}&_HLS_part={part}");
            var answeredAt = DateTime.UtcNow;
            var waited = clock.Elapsed.TotalSeconds;
            Assert.Contains($"URI=\"part_{msn:D5}_{part}.m4s\"", body);
            Assert.True(waited < 0.5 + 0.2, $"waited {waited:0.000} s for a part 0.5 s away at most");

            // The answer followed the part's publication closely (the part file's time is when it was written).
            var written = File.GetLastWriteTimeUtc(Path.Combine(window, $"part_{msn:D5}_{part}.m4s"));
            delays.Add((answeredAt - written).TotalSeconds);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"blocking reload answered {string.Join(", ", delays.Select(d => (d * 1000).ToString("0", CultureInfo.InvariantCulture)))} ms after the part was written");
        Assert.True(delays.Order().ElementAt(delays.Count / 2) < 0.1, "blocking reloads are not answered promptly");

        // The server measures the same from its side: publish to answer written, for every request that waited.
        var metrics = await server.MetricsAsync();
        Assert.True(RunningServer.Sample(metrics, "streamserver_live_reload_answer_seconds_count") >= 6, "no reload answer times recorded");
        Assert.True(RunningServer.Sample(metrics, "streamserver_live_reload_answer_seconds_bucket{le=\"0.1\"}") >= 6, "reload answers slower than 100 ms");

        // The same over h2c.
        var (m, p) = Hint(await http.GetStringAsync(Video));
        var h2 = await ProcessRunner.RunAsync("curl", ["-sS", "--http2-prior-knowledge", "-w", "\n%{http_version} %{time_total}",
            new Uri(server.HttpUri, $"{Video}?_HLS_msn={m}&_HLS_part={p}").ToString()], TimeSpan.FromSeconds(10));
        h2.EnsureSuccess("curl h2c blocking reload");
        Assert.Contains($"part_{m:D5}_{p}.m4s", h2.StdOut);
        Assert.Contains("\n2 ", h2.StdOut);
    }

    [Fact]
    public async Task The_hinted_byte_range_streams_the_rest_of_its_segment_as_parts_complete_and_bad_reload_parameters_get_400()
    {
        var (server, data, http) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        using var ___ = http;
        var video = LowLatencyPlaylist.Parse(await http.GetStringAsync(Video));
        var (msn, start) = (video.OpenMsn, video.Hint!.Value.Start);
        var segmentUri = $"/live/test/video/seg_{msn:D5}.m4s";
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Get, segmentUri);
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(start, null);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var headersAfter = clock.Elapsed;
        Assert.Equal(System.Net.HttpStatusCode.PartialContent, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var bodyAfter = clock.Elapsed;
        Assert.Equal("moof", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
        Assert.True(headersAfter < TimeSpan.FromSeconds(2), $"the hinted part took {headersAfter.TotalSeconds:0.00} s");

        // The response ran from the hinted part to the end of the segment: exactly the tail of the file it became.
        var whole = await http.GetByteArrayAsync(segmentUri);
        Assert.Equal(whole.AsSpan((int)start).ToArray(), bytes);
        TestContext.Current.TestOutputHelper?.WriteLine($"hinted range @{start}: head after {headersAfter.TotalMilliseconds:0} ms, {bytes.Length} bytes by {bodyAfter.TotalMilliseconds:0} ms");

        // The same over h2c: DATA frames as the parts complete.
        var next = LowLatencyPlaylist.Parse(await http.GetStringAsync(Video));
        var h2 = await ProcessRunner.RunAsync("curl", ["-sS", "--http2-prior-knowledge", "-r", $"{next.Hint!.Value.Start}-", "-o", "/dev/null",
            "-w", "%{http_version} %{response_code} %{size_download}", new Uri(server.HttpUri, $"/live/test/video/seg_{next.OpenMsn:D5}.m4s").ToString()],
            TimeSpan.FromSeconds(10));
        h2.EnsureSuccess("curl h2c hinted range");
        Assert.StartsWith("2 206 ", h2.StdOut);
        Assert.True(long.Parse(h2.StdOut.Split(' ')[2], CultureInfo.InvariantCulture) > 0, h2.StdOut);

        // A segment that will never come (far ahead) is a 404 at once, not a hang.
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync($"/live/test/video/seg_{msn + 50:D5}.m4s")).StatusCode);

        // RFC 8216bis 6.2.5.2: _HLS_msn beyond the playlist's last segment + 2, _HLS_part without _HLS_msn, and non-numbers are 400.
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await http.GetAsync($"{Video}?_HLS_msn={msn + 10}")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await http.GetAsync($"{Video}?_HLS_part=1")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await http.GetAsync($"{Video}?_HLS_msn=x")).StatusCode);

        // A segment already published answers at once.
        clock.Restart();
        Assert.Contains("#EXTINF", await http.GetStringAsync($"{Video}?_HLS_msn={msn - 1}"));
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, TracingMetric(await server.MetricsAsync()));
        Assert.DoesNotContain("fail:", server.Output);
    }

    private static double TracingMetric(string metrics) =>
        global::StreamServer.Tests.Tracing.TracingEnvironment.MetricSum(metrics, "streamserver_live_blocked_reloads");
}
