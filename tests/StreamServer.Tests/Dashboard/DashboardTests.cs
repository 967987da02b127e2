using System.Net;
using StreamServer.Tests.Infrastructure;

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
}
