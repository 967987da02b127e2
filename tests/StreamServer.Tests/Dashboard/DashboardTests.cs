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
        using var work = new TempDir("ss-dashboard");
        await File.WriteAllBytesAsync(work.Combine("shot.png"), png);
        (await ProcessRunner.RunAsync("ffmpeg", ["-v", "error", "-y", "-i", work.Combine("shot.png"), "-f", "rawvideo", "-pix_fmt", "rgb24", work.Combine("shot.rgb")]))
            .EnsureSuccess("ffmpeg decode png");
        var rgb = await File.ReadAllBytesAsync(work.Combine("shot.rgb"));
        Assert.Equal(1200 * 700 * 3, rgb.Length);
        var send = HeatPixels(rgb, 1200, 0, 620, 50, 340);
        var request = HeatPixels(rgb, 1200, 0, 620, 340, 640);
        TestContext.Current.TestOutputHelper?.WriteLine($"heat pixels: send {send}, request {request}" + (tracers ? "" : " (no kernel tracers here: the send heatmap is not checked)"));
        Assert.True(request > 50, $"request-duration heatmap has {request} coloured pixels");
        if (tracers)
        {
            Assert.True(send > 50, $"send-syscall heatmap has {send} coloured pixels");
        }
    }

    /// <summary>Pixels in the rectangle whose colour lies on the heatmaps' viridis ramp (no other part of the page uses it).</summary>
    private static int HeatPixels(byte[] rgb, int width, int x0, int x1, int y0, int y1)
    {
        int[][] stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
        var n = 0;
        for (var y = y0; y < y1; y++)
        {
            for (var x = x0; x < x1; x++)
            {
                var i = ((y * width) + x) * 3;
                for (var k = 0; k < stops.Length - 1; k++)
                {
                    if (NearSegment(rgb[i], rgb[i + 1], rgb[i + 2], stops[k], stops[k + 1]))
                    {
                        n++;
                        break;
                    }
                }
            }
        }

        return n;
    }

    private static bool NearSegment(int r, int g, int b, int[] a, int[] c)
    {
        for (var t = 0.0; t <= 1.0; t += 1.0 / 32)
        {
            if (Math.Abs(r - (a[0] + ((c[0] - a[0]) * t))) < 10 && Math.Abs(g - (a[1] + ((c[1] - a[1]) * t))) < 10 && Math.Abs(b - (a[2] + ((c[2] - a[2]) * t))) < 10)
            {
                return true;
            }
        }

        return false;
    }
}
