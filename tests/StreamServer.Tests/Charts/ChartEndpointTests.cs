using System.Net;
using System.Net.Http.Headers;
using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using StreamServer.Charts;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Tracing;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Charts;

[Collection(ServerTestsCollection.Name)]
public sealed class ChartEndpointTests
{
    [Fact]
    public async Task Charts_need_the_token_validate_parameters_and_answer_png_svg_with_an_etag()
    {
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: "--StreamServer:Tracing:Enabled=false");
        var history = server.Services.GetRequiredService<ChartHistory>();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var row = new long[ChartHistory.Rows];
        row[6] = 42;
        for (var s = 30; s >= 0; s--)
        {
            history.Append(now - s, row, 1, 0);
        }

        using var anonymous = server.CreateHttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/trace/charts/send-latency.png")).StatusCode);

        using var http = server.CreateAdminClient();
        using var png = await http.GetAsync("/api/trace/charts/send-latency.png?window=1m&width=800&height=300");
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        Assert.True(png.Headers.CacheControl is { Private: true, MaxAge.TotalSeconds: 1 }, png.Headers.CacheControl?.ToString());
        var bytes = await png.Content.ReadAsByteArrayAsync();
        var rgb = await ViridisPixels.DecodeAsync(bytes);
        Assert.Equal(800 * 300 * 3, rgb.Length);
        Assert.True(ViridisPixels.Count(rgb, 800, 0, 800, 0, 300) > 100);

        // Same data, same size: 304 for the ETag a poller already has.
        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/trace/charts/send-latency.png?window=1m&width=800&height=300");
        again.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(png.Headers.ETag!.ToString()));
        var second = await http.SendAsync(again);
        Assert.True(second.StatusCode is HttpStatusCode.NotModified or HttpStatusCode.OK, second.StatusCode.ToString()); // OK if a new second began

        using var svg = await http.GetAsync("/api/trace/charts/retransmits.svg?window=10m");
        Assert.Equal("image/svg+xml", svg.Content.Headers.ContentType?.MediaType);
        XDocument.Parse(await svg.Content.ReadAsStringAsync());

        foreach (var bad in (string[])["window=5s", "window=2h", "window=abc", "width=50", "height=99999", "width=-1"])
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/api/trace/charts/send-latency.png?" + bad)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/trace/charts/cpu.png")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/trace/charts/send-latency.gif")).StatusCode);
    }

    [Fact]
    public async Task The_requests_chart_follows_the_requests_served_each_second_without_the_tracers()
    {
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: "--StreamServer:Tracing:Enabled=false");
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        using var http = server.CreateAdminClient();
        Assert.Contains("no data yet", await http.GetStringAsync("/api/trace/charts/requests.svg?window=1m"));
        var playlist = Array.IndexOf(ChartHistory.RequestKinds, "playlist");
        var history = server.Services.GetRequiredService<ChartHistory>();
        long served = 0;
        await Eventually.TrueAsync(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                await http.GetStringAsync("/vod/clip/media.m3u8");
                await http.GetByteArrayAsync("/vod/clip/seg_000.m4s");
            }

            var window = history.Window(60);
            served = 0;
            for (var i = 0; i < window.Seconds.Length; i++)
            {
                served += window.Requests[i, playlist];
            }

            return served >= 20;
        }, TimeSpan.FromSeconds(20), () => $"{served} playlist requests in the history");

        var svg = await http.GetStringAsync("/api/trace/charts/requests.svg?window=1m&width=900");
        XDocument.Parse(svg);
        Assert.DoesNotContain("no data yet", svg);
        var rgb = await ViridisPixels.DecodeAsync(await http.GetByteArrayAsync("/api/trace/charts/requests.png?window=1m&width=900&height=300"));
        Assert.Equal(900 * 300 * 3, rgb.Length);
    }

    [Fact]
    public async Task The_live_chart_follows_the_test_channels_publish_delay()
    {
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: ["--StreamServer:Tracing:Enabled=false",
            "--StreamServer:Live:TestChannel=true", "--StreamServer:Live:SegmentSeconds=1"]);
        var history = server.Services.GetRequiredService<ChartHistory>();
        using var http = server.CreateAdminClient();
        ChartData data = history.Window(60);
        await Eventually.TrueAsync(() =>
        {
            data = history.Window(60);
            var c = -1;
            for (var i = 0; i < data.LiveChannels.Count; i++)
            {
                c = data.LiveChannels[i] == "test" ? i : c;
            }

            // The built-in channel is encoded in-process: no RTMP bytes come in (its ingest is 0 b/s), but every part it
            // publishes has a publish delay.
            var delay = false;
            for (var i = 0; c >= 0 && i < data.Seconds.Length; i++)
            {
                delay |= data.LivePublishDelaySeconds[i, c] > 0 && data.LiveBitsPerSecond[i, c] == 0;
            }

            return Task.FromResult(delay);
        }, TimeSpan.FromSeconds(45), () => $"channels [{string.Join(',', data.LiveChannels)}] over {data.Seconds.Length} s");

        var svg = await http.GetStringAsync("/api/trace/charts/live.svg?window=1m");
        XDocument.Parse(svg);
        Assert.DoesNotContain("no data yet", svg);
        Assert.Equal(1200 * 400 * 3, (await ViridisPixels.DecodeAsync(await http.GetByteArrayAsync("/api/trace/charts/live.png?window=1m"))).Length);
    }

    [Fact]
    public async Task With_the_real_tracers_the_send_latency_chart_shows_the_servers_sends()
    {
        var missing = TracingEnvironment.MissingBpf(out _) ?? Capabilities.MissingTool("ffmpeg");
        Assert.SkipWhen(missing is not null, missing ?? "");
        const string Token = "charts-e2e-token-0123456789abcdef";
        await using var server = await RunningServer.StartProcessAsync(null, $"--StreamServer:AdminToken={Token}");
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        await server.WaitForTracersAsync(TimeSpan.FromSeconds(30));
        using var http = server.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var deadline = DateTime.UtcNow.AddSeconds(4);
        while (DateTime.UtcNow < deadline)
        {
            await http.GetByteArrayAsync("/vod/clip/seg_000.m4s");
        }

        var pixels = 0;
        await Eventually.TrueAsync(async () =>
        {
            var rgb = await ViridisPixels.DecodeAsync(await http.GetByteArrayAsync("/api/trace/charts/send-latency.png?window=1m&width=1200&height=400"));
            pixels = ViridisPixels.Count(rgb, 1200, 0, 1200, 0, 400);
            return pixels > 200;
        }, TimeSpan.FromSeconds(15), () => $"{pixels} heatmap pixels");
    }

    [Fact]
    public async Task A_slow_reader_on_a_1_MiB_segment_shows_as_refused_sends_in_the_send_latency_chart()
    {
        var missing = TracingEnvironment.MissingBpf(out _) ?? Capabilities.MissingTool("ip", "curl", "ffmpeg");
        Assert.SkipWhen(missing is not null, missing ?? "");
        const string Token = "charts-slow-token-0123456789abcdef";
        // An Ethernet MTU: on loopback's 64 KiB one the kernel sizes the send buffer to hold the whole MiB at once.
        await using var netns = await NetworkNamespace.CreateAsync(mtu: 1500);
        var port = 20000 + Random.Shared.Next(20000);
        await using var server = await RunningServer.StartProcessAsync(netns, port, $"--StreamServer:AdminToken={Token}");
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        Assert.Contains("\"state\":\"attached\"", await server.WaitForTracersAsync(TimeSpan.FromSeconds(30)));

        // A player taking 200 KB/s through a 4 KiB receive window (the namespace's TCP receive memory, as a small device
        // would have): the server's non-blocking sendfile keeps finding the socket buffer full.
        (await netns.ExecAsync(["sh", "-c", "echo 4096 4096 4096 > /proc/sys/net/ipv4/tcp_rmem"])).EnsureSuccess("tcp_rmem");
        (await netns.ExecAsync(["curl", "-sf", "-o", "/dev/null", "--limit-rate", "200k", $"http://127.0.0.1:{port}/vod/clip/big.m4s"], TimeSpan.FromMinutes(1)))
            .EnsureSuccess("slow download");
        var refused = RunningServer.Sample(await server.GetAsync("/metrics"), "streamserver_send_syscall_would_block_total{syscall=\"sendfile\"}");
        Assert.True(refused >= 3, $"{refused} sendfile calls refused with EAGAIN");

        using var work = new TempDir("ss-chart-slow");
        var magenta = 0;
        await Eventually.TrueAsync(async () =>
        {
            var png = work.Combine("send-latency.png");
            (await netns.ExecAsync(["curl", "-sf", "-H", $"Authorization: Bearer {Token}", "-o", png,
                $"http://127.0.0.1:{port}/api/trace/charts/send-latency.png?window=1m&width=1200&height=400"])).EnsureSuccess("chart");
            var rgb = await ViridisPixels.DecodeAsync(await File.ReadAllBytesAsync(png));
            // The right half only (the last 30 s, where the download was; the legend's swatch is upper left).
            magenta = ViridisPixels.Count(rgb, 1200, 600, 1200, 0, 400, static (r, g, b) => r > 200 && g < 80 && b > 200);

            return magenta > 30;
        }, TimeSpan.FromSeconds(15), () => $"{magenta} pixels of the EAGAIN line");
    }

    [Fact]
    public async Task Retransmits_from_real_packet_loss_show_in_the_retransmits_chart()
    {
        var missing = TracingEnvironment.MissingBpf(out _) ?? Capabilities.MissingTool("ip", "nft", "curl", "ffmpeg");
        Assert.SkipWhen(missing is not null, missing ?? "");
        const string Token = "charts-loss-token-0123456789abcdef";
        await using var netns = await NetworkNamespace.CreateAsync(mtu: 1500);
        var port = 20000 + Random.Shared.Next(20000);
        await using var server = await RunningServer.StartProcessAsync(netns, port, $"--StreamServer:AdminToken={Token}");
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        Assert.Contains("\"state\":\"attached\"", await server.WaitForTracersAsync(TimeSpan.FromSeconds(30)));
        await netns.AddRandomDropAsync(port, oneIn: 20);
        (await netns.ExecAsync(["sh", "-c",
            $"for i in $(seq 1 40); do curl -s -o /dev/null --max-time 20 http://127.0.0.1:{port}/vod/clip/seg_000.m4s; done"], TimeSpan.FromMinutes(2)))
            .EnsureSuccess("downloads under loss");
        await netns.RemoveDropsAsync();

        using var work = new TempDir("ss-chart-loss");
        var red = 0;
        await Eventually.TrueAsync(async () =>
        {
            var png = work.Combine("retransmits.png");
            (await netns.ExecAsync(["curl", "-sf", "-H", $"Authorization: Bearer {Token}", "-o", png,
                $"http://127.0.0.1:{port}/api/trace/charts/retransmits.png?window=1m&width=1200&height=400"])).EnsureSuccess("chart");
            var rgb = await ViridisPixels.DecodeAsync(await File.ReadAllBytesAsync(png));
            // The right half only (the last 30 s, where the downloads were; the legend's swatch is upper left); the server
            // side's fill: OrangeRed at 80 % over white.
            red = ViridisPixels.Count(rgb, 1200, 600, 1200, 0, 400, static (r, g, b) => r > 230 && g is > 80 and < 130 && b is > 30 and < 80);

            return red > 50;
        }, TimeSpan.FromSeconds(15), () => $"{red} pixels of the server's retransmits");
    }
}
