using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using StreamServer.Ingest.Rtmp;
using StreamServer.LoadTest.Players;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Live;

/// <summary>RTMP ingest with real publishers (the ffmpeg CLI) and hand-made hostile ones, through the running server.</summary>
[Collection(ServerTestsCollection.Name)]
public class RtmpIngestTests
{
    private const string Token = "live-test-token-0123456789";

    private static async Task<(RunningServer Server, int RtmpPort, TempDir Data)> StartAsync(params string[] extra)
    {
        var data = new TempDir("ss-rtmp");
        var port = RunningServer.FreePort();
        var server = await RunningServer.StartProcessAsync(data.Path, [$"--StreamServer:RtmpPort={port}", $"--StreamServer:AdminToken={Token}",
            "--StreamServer:Live:Channels:0:Name=cam1", "--StreamServer:Live:Channels:0:Key=s3cret",
            "--StreamServer:Live:Channels:1:Name=cam2", "--StreamServer:Live:Channels:1:Key=other", "--Logging:LogLevel:StreamServer=Information", .. extra]);
        return (server, port, data);
    }

    private static string[] PublishArgs(int port, string path, double seconds, bool realtime) =>
    [
        "-hide_banner", "-loglevel", "error", .. realtime ? (string[])["-re"] : [],
        "-f", "lavfi", "-i", $"testsrc2=size=320x240:rate=25:duration={seconds.ToString(CultureInfo.InvariantCulture)}",
        "-f", "lavfi", "-i", $"sine=frequency=440:sample_rate=48000:duration={seconds.ToString(CultureInfo.InvariantCulture)}",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
        "-f", "flv", $"rtmp://127.0.0.1:{port}/live/{path}",
    ];

    // ffmpeg can exit while its last tags are still in the socket: the channel turns idle once the server read them all.
    private static async Task<JsonElement> IdleChannelAsync(RunningServer server, string name)
    {
        var clock = Stopwatch.StartNew();
        JsonElement channel;
        while ((channel = await ChannelAsync(server, name)).GetProperty("state").GetString() != "idle" && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
        }

        return channel;
    }

    private static async Task<JsonElement> ChannelAsync(RunningServer server, string name)
    {
        using var client = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return await client.GetFromJsonAsync<JsonElement>($"/api/live/{name}");
    }

    [Fact]
    public async Task Ffmpeg_publishes_h264_and_aac_and_the_channel_counts_every_frame()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        var publish = ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, "cam1?key=s3cret", 3, realtime: true), TimeSpan.FromSeconds(60));
        var sawLive = false;
        var clock = Stopwatch.StartNew();
        while (!publish.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var live = await ChannelAsync(server, "cam1");
            sawLive |= live.GetProperty("state").GetString() == "live" && live.GetProperty("videoFrames").GetInt64() > 0;
            await Task.Delay(200);
        }

        (await publish).EnsureSuccess("ffmpeg publish");
        var channel = await IdleChannelAsync(server, "cam1");
        Assert.True(sawLive, "never saw the channel live with frames");
        Assert.Equal("idle", channel.GetProperty("state").GetString());
        Assert.Equal(75, channel.GetProperty("videoFrames").GetInt64());
        Assert.Equal(3, channel.GetProperty("keyFrames").GetInt64());
        Assert.InRange(channel.GetProperty("audioFrames").GetInt64(), 138, 143);
        Assert.True(channel.GetProperty("hasVideoConfig").GetBoolean() && channel.GetProperty("hasAudioConfig").GetBoolean());
        await server.WaitForOutputAsync("RTMP publish on channel 'cam1'");
        Assert.DoesNotContain("fail:", server.Output);
        var metrics = await server.MetricsAsync();
        Assert.Contains("streamserver_live_ingest_frames_total{channel=\"cam1\",kind=\"video\"} 75", metrics);
    }

    [Fact]
    public async Task A_publisher_that_stalls_is_disconnected_after_the_idle_timeout()
    {
        var (server, port, data) = await StartAsync("--StreamServer:Live:IngestIdleTimeoutSeconds=2");
        await using var _ = server;
        using var __ = data;
        using var tcp = await RawPublishAsync(port, "cam1?key=s3cret");
        Assert.Equal("live", (await ChannelAsync(server, "cam1")).GetProperty("state").GetString());
        var clock = Stopwatch.StartNew();
        Assert.True(await ClosedByServerAsync(tcp, TimeSpan.FromSeconds(10)), "still connected after 10 s");
        Assert.InRange(clock.Elapsed.TotalSeconds, 1, 6);
        await server.WaitForOutputAsync("no data for 2 s");
        var channel = await ChannelAsync(server, "cam1");
        Assert.Equal("idle", channel.GetProperty("state").GetString());
        Assert.Contains("no data", channel.GetProperty("lastError").GetString());
    }

    [Theory]
    [InlineData("no sequence header", "no SPS/PPS")]
    [InlineData("a sequence header without SPS", "no H.264 SPS/PPS")]
    public async Task Video_without_sps_and_pps_ends_the_publish_with_a_clear_error(string what, string error)
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        using var tcp = await RawPublishAsync(port, "cam1?key=s3cret");
        var stream = tcp.GetStream();
        if (what == "a sequence header without SPS")
        {
            // avcC version 1, High@3.1, 4-byte lengths, 0 SPS, 0 PPS.
            await stream.WriteAsync(Chunk(4, 9, [0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe0, 0]));
        }

        await stream.WriteAsync(Chunk(4, 9, [0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88]));
        Assert.True(await ClosedByServerAsync(tcp, TimeSpan.FromSeconds(10)), $"{what}: still connected");
        var channel = await ChannelAsync(server, "cam1");
        Assert.Equal("idle", channel.GetProperty("state").GetString());
        Assert.Contains(error, channel.GetProperty("lastError").GetString());
        // Nothing half-written is served, and the channel takes the next, valid publish.
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/live/cam1/video/index.m3u8")).StatusCode);
        (await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, "cam1?key=s3cret", 1, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg after the bad publish");
        Assert.Equal(25, (await IdleChannelAsync(server, "cam1")).GetProperty("videoFrames").GetInt64());
        Assert.DoesNotContain("fail:", server.Output);
    }

    [Fact]
    public async Task A_second_publisher_for_a_live_channel_is_refused_until_the_first_leaves()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        using (await RawPublishAsync(port, "cam1?key=s3cret"))
        {
            var second = await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, "cam1?key=s3cret", 1, realtime: false), TimeSpan.FromSeconds(60));
            Assert.NotEqual(0, second.ExitCode);
            await server.WaitForOutputAsync("another publisher is live");
        }

        var deadline = Stopwatch.StartNew();
        while ((await ChannelAsync(server, "cam1")).GetProperty("state").GetString() != "idle" && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }

        (await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, "cam1?key=s3cret", 1, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg after the first publisher left");
        Assert.Equal(25, (await IdleChannelAsync(server, "cam1")).GetProperty("videoFrames").GetInt64());
    }

    [Fact]
    public async Task Channels_created_by_the_api_take_publishes_with_their_key_and_deleted_ones_refuse_them()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        using var client = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await client.PostAsJsonAsync("/api/live", new { name = "news" })).StatusCode);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var created = await client.PostAsJsonAsync("/api/live", new { name = "news", mode = "passthrough" });
        Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var key = body.GetProperty("key").GetString()!;
        Assert.True(key.Length >= 32);
        Assert.Equal($"rtmp://127.0.0.1:{port}/live/news?key={key}", body.GetProperty("rtmpUrl").GetString());
        Assert.Equal("/live/news/master.m3u8", body.GetProperty("hls").GetString());
        Assert.Equal("/live/news/manifest.mpd", body.GetProperty("dash").GetString());
        Assert.Equal(System.Net.HttpStatusCode.Conflict, (await client.PostAsJsonAsync("/api/live", new { name = "news" })).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/live", new { name = "../x" })).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/live", new { name = "ok", mode = "magic" })).StatusCode);

        using var transcode = await client.PostAsJsonAsync("/api/live", new { name = "ladder", mode = "transcode" });
        Assert.Equal(System.Net.HttpStatusCode.Created, transcode.StatusCode);

        (await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, $"news?key={key}", 1, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg to an API channel");
        Assert.Equal(25, (await IdleChannelAsync(server, "news")).GetProperty("videoFrames").GetInt64());
        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await client.DeleteAsync("/api/live/news")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await client.GetAsync("/api/live/news")).StatusCode);
        var refused = await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, $"news?key={key}", 1, realtime: false), TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, refused.ExitCode);
    }

    [Fact]
    public async Task A_publisher_killed_mid_gop_ends_its_publish_cleanly()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in PublishArgs(port, "cam1?key=s3cret", 10, realtime: true))
        {
            psi.ArgumentList.Add(a);
        }

        using (var ffmpeg = Process.Start(psi)!)
        {
            var clock = Stopwatch.StartNew();
            while ((await ChannelAsync(server, "cam1")).GetProperty("videoFrames").GetInt64() < 37 && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(50);
            }

            ffmpeg.Kill(); // 1.5 s in: the middle of the second GOP
            await ffmpeg.WaitForExitAsync();
        }

        var deadline = Stopwatch.StartNew();
        JsonElement channel;
        while ((channel = await ChannelAsync(server, "cam1")).GetProperty("state").GetString() != "idle" && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }

        Assert.Equal("idle", channel.GetProperty("state").GetString());
        Assert.InRange(channel.GetProperty("videoFrames").GetInt64(), 37, 249);
        (await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, "cam1?key=s3cret", 1, realtime: false), TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg after the killed one");
        Assert.Equal(25, (await IdleChannelAsync(server, "cam1")).GetProperty("videoFrames").GetInt64());
        Assert.DoesNotContain("fail:", server.Output);
    }

    [Fact]
    public async Task Chunks_larger_than_the_receive_buffer_and_messages_split_across_reads_are_reassembled()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;

        // Lossless frames of noise: messages over 100 KiB, each sent as ONE chunk (chunk size 1 MiB), larger than the
        // 64 KiB the ingest loop reads into at first; then everything goes out in uneven pieces, down to single bytes.
        // No onMetaData is sent (some encoders send none): the frame size comes from the SPS.
        var flv = Path.Combine(data.Path, "clip.flv");
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25:duration=1",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1", "-vf", "noise=alls=60:allf=t", "-c:v", "libx264", "-preset", "ultrafast",
            "-qp", "0", "-g", "25",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-y", flv], TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg clip");
        var tags = FlvTags(await File.ReadAllBytesAsync(flv));
        var frames = tags.Count(t => t.Type == 9 && t.Data[1] == 1);
        Assert.True(tags.Max(t => t.Data.Length) > 100 * 1024, "the clip has no message larger than the receive buffer");

        using var tcp = await RawPublishAsync(port, "cam1?key=s3cret");
        tcp.NoDelay = true;
        var stream = new MemoryStream();
        stream.Write(Chunk(2, 1, [0x00, 0x10, 0x00, 0x00])); // Set Chunk Size 1 MiB
        foreach (var (type, timestamp, payload) in tags)
        {
            stream.Write([type == 9 ? (byte)6 : (byte)4, (byte)(timestamp >> 16), (byte)(timestamp >> 8), (byte)timestamp,
                (byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length, type, 1, 0, 0, 0]);
            stream.Write(payload);
        }

        var bytes = stream.ToArray();
        int[] pieces = [1, 1, 2, 3, 11, 700, 5000, 70_000, 300_000];
        for (int offset = 0, i = 0; offset < bytes.Length; i++)
        {
            var n = Math.Min(pieces[i % pieces.Length], bytes.Length - offset);
            await tcp.GetStream().WriteAsync(bytes.AsMemory(offset, n));
            offset += n;
            if (i % pieces.Length == 4)
            {
                await Task.Delay(2); // let the small pieces arrive as reads of their own
            }
        }

        tcp.Client.Shutdown(SocketShutdown.Send);
        var channel = await IdleChannelAsync(server, "cam1");
        Assert.Equal("idle", channel.GetProperty("state").GetString());
        Assert.Equal(frames, channel.GetProperty("videoFrames").GetInt64());
        Assert.Equal(tags.Count(t => t.Type == 8 && t.Data[1] == 1), channel.GetProperty("audioFrames").GetInt64());
        Assert.Equal(JsonValueKind.Null, channel.GetProperty("lastError").ValueKind);
        using var http = new HttpClient(new LowLatencyHlsValidator()) { BaseAddress = server.HttpUri };
        Assert.Contains("RESOLUTION=480x270", await http.GetStringAsync("/live/cam1/master.m3u8"));
        Assert.DoesNotContain("fail:", server.Output);
    }

    // FLV (E.4): a 9-byte header and PreviousTagSize0, then tags: type, 24-bit size, 24-bit timestamp + 8 upper bits,
    // 24-bit stream id, data, PreviousTagSize. Script data (type 18) is left out.
    private static List<(byte Type, int Timestamp, byte[] Data)> FlvTags(byte[] flv)
    {
        var tags = new List<(byte, int, byte[])>();
        for (var at = 13; at + 11 <= flv.Length;)
        {
            var type = flv[at];
            var size = (flv[at + 1] << 16) | (flv[at + 2] << 8) | flv[at + 3];
            var timestamp = (flv[at + 7] << 24) | (flv[at + 4] << 16) | (flv[at + 5] << 8) | flv[at + 6];
            if (type is 8 or 9)
            {
                tags.Add((type, timestamp, flv.AsSpan(at + 11, size).ToArray()));
            }

            at += 11 + size + 4;
        }

        return tags;
    }

    // Handshake, connect, createStream and publish by hand, then nothing: a publisher that stalls (or holds the channel).
    private static async Task<TcpClient> RawPublishAsync(int port, string streamName)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        var c0c1 = new byte[1537];
        c0c1[0] = 3;
        await stream.WriteAsync(c0c1);
        await stream.ReadExactlyAsync(new byte[1 + (2 * 1536)]);
        await stream.WriteAsync(new byte[1536]);
        await stream.WriteAsync(Chunk(3, 20, new Amf0.Writer().String("connect").Number(1).Object(("app", "live")).ToArray()));
        await stream.WriteAsync(Chunk(3, 20, new Amf0.Writer().String("createStream").Number(2).Null().ToArray()));
        await stream.WriteAsync(Chunk(4, 20, new Amf0.Writer().String("publish").Number(3).Null().String(streamName).String("live").ToArray()));
        var reply = new List<byte>();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!System.Text.Encoding.ASCII.GetString([.. reply]).Contains("NetStream.Publish.", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, cts.Token);
            Assert.True(n > 0, "closed before answering publish");
            reply.AddRange(buffer.AsSpan(0, n));
        }

        Assert.Contains("NetStream.Publish.Start", System.Text.Encoding.ASCII.GetString([.. reply]));
        return tcp;
    }

    private static async Task<bool> ClosedByServerAsync(TcpClient tcp, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (await tcp.GetStream().ReadAsync(buffer, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_wrong_or_missing_key_is_refused_at_publish_with_a_log_line_naming_the_channel()
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        foreach (var path in new[] { "cam1?key=wrong", "cam1", "cam1?key=other" })
        {
            var result = await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, path, 1, realtime: false), TimeSpan.FromSeconds(60));
            Assert.NotEqual(0, result.ExitCode);
        }

        await server.WaitForOutputAsync("RTMP publish to channel 'cam1' refused: wrong or missing stream key");
        var channel = await ChannelAsync(server, "cam1");
        Assert.Equal(0, channel.GetProperty("videoFrames").GetInt64());
        Assert.Contains("stream key", channel.GetProperty("lastError").GetString());
        var unknown = await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, "nope?key=s3cret", 1, realtime: false), TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, unknown.ExitCode);
        await server.WaitForOutputAsync("unknown channel 'nope'");
    }

    public static TheoryData<string, byte[]> Hostile => new()
    {
        { "chunk size 0", Chunk(2, 1, [0, 0, 0, 0]) },
        { "chunk size over 16 MiB", Chunk(2, 1, [0x01, 0x00, 0x00, 0x01]) },
        { "message over 8 MiB", [0x03, 0, 0, 0, 0x80, 0x00, 0x01, 20, 0, 0, 0, 0] },
        { "3 x 7 MiB announced, one chunk of each sent", [.. Enumerable.Range(4, 3).SelectMany(cs => new byte[] { (byte)cs, 0, 0, 0, 0x70, 0, 0, 9, 1, 0, 0, 0 }.Concat(new byte[128]))] },
        { "AMF string longer than its message", Chunk(3, 20, [0x02, 0xff, 0xff, (byte)'c']) },
        { "AMF object nested too deep", Chunk(3, 20, [.. Enumerable.Repeat((byte)0x03, 1).Concat(Enumerable.Range(0, 20).SelectMany(_ => new byte[] { 0, 1, (byte)'a', 0x03 }))]) },
        { "continuation chunk first", [0xC4, 1, 2, 3] },
        { "video before publish", Chunk(4, 9, [0x17, 1, 0, 0, 0, 1, 2]) },
        { "random bytes", [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 >> 3))] },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Hostile_bytes_after_the_handshake_end_that_connection_only(string name, byte[] bytes)
    {
        var (server, port, data) = await StartAsync();
        await using var _ = server;
        using var __ = data;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        var c0c1 = new byte[1537];
        c0c1[0] = 3;
        await stream.WriteAsync(c0c1);
        var s0s1s2 = new byte[1 + (2 * 1536)];
        await stream.ReadExactlyAsync(s0s1s2);
        Assert.Equal(3, s0s1s2[0]);
        await stream.WriteAsync(new byte[1536]);
        await stream.WriteAsync(bytes);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        int n;
        try
        {
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
            }
        }
        catch (IOException)
        {
        }

        Assert.False(cts.IsCancellationRequested, $"{name}: connection still open after 10 s");
        await server.WaitForOutputAsync("closed:");

        // Other publishers are unaffected.
        var ok = await ProcessRunner.RunAsync("ffmpeg", PublishArgs(port, "cam2?key=other", 1, realtime: false), TimeSpan.FromSeconds(60));
        ok.EnsureSuccess("ffmpeg publish after the hostile connection");
        Assert.Equal(25, (await IdleChannelAsync(server, "cam2")).GetProperty("videoFrames").GetInt64());
        Assert.DoesNotContain("fail:", server.Output);
    }

    // The server's console log is written asynchronously: give a line a moment to arrive.

    // One type-0 chunk (timestamp 0, stream 0) carrying the whole payload (payloads here stay under 128 bytes).
    private static byte[] Chunk(int csid, byte type, byte[] payload) =>
        [(byte)csid, 0, 0, 0, (byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length, type, 0, 0, 0, 0, .. payload];
}
