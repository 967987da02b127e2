using System.Net;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Players;
using StreamServer.Tests.Tracing;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Dashboard;

[Collection(ServerTestsCollection.Name)]
public class DashboardTests
{
    [Fact]
    public async Task DashboardPageAndItsScriptsAreServed()
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        using var client = server.CreateHttpClient();

        using var page = await client.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        foreach (var asset in (string[])["vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "dashboard.js", "dashboard.css"])
        {
            Assert.Contains(asset, html);
            using var response = await client.GetAsync("/dashboard/" + asset);
            Assert.True(response.IsSuccessStatusCode, asset);
            Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 100, asset);
        }

        Assert.Contains("/api/trace/charts/", html + await client.GetStringAsync("/dashboard/dashboard.js")); // "download PNG"

        // The script reads the fixed metric names; a rename on either side must fail here.
        var script = await client.GetStringAsync("/dashboard/dashboard.js");
        foreach (var metric in (string[])["streamserver_http_requests_total", "streamserver_http_response_bytes_total",
            "streamserver_send_syscall_duration_seconds", "streamserver_tcp_retransmits_total", "streamserver_skb_alloc_total"])
        {
            Assert.Contains(metric, script);
        }
    }

    /// <summary>
    /// The page in Chromium under load: the request-duration heatmap (and the send-syscall one when the kernel tracers
    /// run) holds coloured cells in the screenshot's pixels, not only canvases in the DOM.
    /// </summary>
    [Fact]
    public async Task Heatmaps_render_cells_from_live_traffic()
    {
        var missing = Capabilities.MissingTool("chromium", "ffmpeg");
        Assert.SkipWhen(missing is not null, missing ?? "");
        var tracers = TracingEnvironment.MissingBpf(out _) is null;
        await using var server = await RunningServer.StartProcessAsync(null);
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        if (tracers)
        {
            await server.WaitForTracersAsync(TimeSpan.FromSeconds(30));
        }

        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            using var http = server.CreateHttpClient();
            while (!stop.IsCancellationRequested)
            {
                await http.GetByteArrayAsync("/vod/clip/seg_000.m4s");
                await http.GetStringAsync("/vod/clip/media.m3u8");
            }
        });
        byte[] png;
        try
        {
            png = await HeadlessChromium.ScreenshotAsync(new Uri(server.HttpUri, "/dashboard/"), 1200, 700, virtualMilliseconds: 9000);
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }

        // The heatmaps come first on the page, one above the other in the left column.
        var rgb = await ViridisPixels.DecodeAsync(png);
        Assert.Equal(1200 * 700 * 3, rgb.Length);
        var send = ViridisPixels.Count(rgb, 1200, 0, 620, 60, 370);
        var request = ViridisPixels.Count(rgb, 1200, 0, 620, 370, 700);
        TestContext.Current.TestOutputHelper?.WriteLine($"heat pixels: send {send}, request {request}" + (tracers ? "" : " (no kernel tracers here: the send heatmap is not checked)"));
        Assert.True(request > 50, $"request-duration heatmap has {request} coloured pixels");
        if (tracers)
        {
            Assert.True(send > 50, $"send-syscall heatmap has {send} coloured pixels");
        }
    }
}
