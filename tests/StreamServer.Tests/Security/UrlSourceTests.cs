using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using StreamServer.Admin;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Security;

/// <summary>URL sources cannot reach internal addresses (literals refused at POST, every connection checked on the
/// address it uses, redirects included) unless allowed; allowed ones are downloaded and packaged; DELETE of a queued
/// job ends it at once.</summary>
[Collection(ServerTestsCollection.Name)]
public class UrlSourceTests
{
    private const string Token = "url-test-token-0123456789";

    private static Task<RunningServer> StartAsync(params string[] extra) =>
        RunningServer.StartAsync(null, false, [$"--StreamServer:AdminToken={Token}",
            "--StreamServer:Packaging:Ladder:0=120", "--StreamServer:Packaging:Preset=ultrafast", "--StreamServer:Packaging:SegmentSeconds=1", .. extra]);

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://0x7f000001:8080/x")]
    [InlineData("http://2130706433/x")]
    [InlineData("http://0177.0.0.1/x")]
    [InlineData("http://127.0.0.1:8080/api/vod")]
    [InlineData("http://169.254.169.254:80@127.0.0.1/")]
    [InlineData("http://[::1]/x")]
    [InlineData("http://[::ffff:127.0.0.1]/x")]
    [InlineData("http://[::ffff:a9fe:a9fe]/x")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/x")]
    [InlineData("http://10.1.2.3/x")]
    [InlineData("http://192.168.0.1/x")]
    [InlineData("http://[fd00::1]/x")]
    [InlineData("http://0.0.0.0/x")]
    [InlineData("http://224.0.0.1/x")]
    public async Task Internal_address_literals_are_refused_at_post(string url)
    {
        await using var server = await StartAsync();
        using var client = server.CreateAdminClient();
        using var response = await client.PostAsJsonAsync("/api/vod", new { source = url });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{url}: {(int)response.StatusCode} {body}");
        Assert.Contains("refused", body);
    }

    [Fact]
    public async Task Names_that_resolve_inside_fail_the_job_at_connect_and_download_nothing()
    {
        await using var origin = await OriginAsync("127.0.0.1");
        await using var server = await StartAsync();
        using var client = server.CreateAdminClient();
        await AssertJobRefusedAsync(client, $"http://localhost:{origin.Port}/clip.mp4", "byname");
        Assert.Equal(0, origin.Requests);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDir, "uploads")));
    }

    [Fact]
    public async Task A_redirect_from_an_allowed_origin_to_an_internal_address_is_refused()
    {
        await using var target = await OriginAsync("127.0.0.1");
        await using var origin = await OriginAsync("127.0.0.2", redirectTo: $"http://127.0.0.1:{0}/clip.mp4", redirectPort: target.Port);
        await using var server = await StartAsync("--StreamServer:UrlSourceAllowedHosts:0=127.0.0.2/32");
        using var client = server.CreateAdminClient();
        await AssertJobRefusedAsync(client, $"http://127.0.0.2:{origin.Port}/redirect", "redirected");
        Assert.Equal(1, origin.Requests);
        Assert.Equal(0, target.Requests);
    }

    [Fact]
    public async Task An_allowed_range_is_downloaded_into_uploads_and_packaged()
    {
        await using var origin = await OriginAsync("127.0.0.1");
        await using var server = await StartAsync("--StreamServer:UrlSourceAllowedHosts:0=127.0.0.0/8");
        using var client = server.CreateAdminClient();
        using var created = await client.PostAsJsonAsync("/api/vod", new { source = $"http://127.0.0.1:{origin.Port}/clip.mp4", id = "fetched" });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var job = await WaitFinishedAsync(client, "fetched");
        Assert.True(job.GetProperty("state").GetString() == "ready", job.ToString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/vod/fetched/master.m3u8")).StatusCode);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDir, "uploads")));
    }

    [Fact]
    public void Policy_sees_through_mapped_compatible_and_nat64_forms_and_honours_ranges()
    {
        var strict = new UrlAddressPolicy([]);
        foreach (var a in new[] { "127.0.0.1", "::1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "169.254.169.254", "100.64.0.1", "fe80::1", "255.255.255.255" })
        {
            Assert.NotNull(strict.Refusal(IPAddress.Parse(a)));
        }

        foreach (var a in new[] { "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34" })
        {
            Assert.Null(strict.Refusal(IPAddress.Parse(a)));
        }

        var lenient = new UrlAddressPolicy(["10.1.0.0/16", "media.internal", "192.168.1.20"]);
        Assert.Null(lenient.Refusal(IPAddress.Parse("10.1.2.3")));
        Assert.Null(lenient.Refusal(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.Null(lenient.Refusal(IPAddress.Parse("192.168.1.20")));
        Assert.NotNull(lenient.Refusal(IPAddress.Parse("10.2.0.1")));
        Assert.True(lenient.IsAllowedHost("MEDIA.internal."));
    }

    [Fact]
    public async Task Delete_of_a_queued_job_cancels_it_at_once()
    {
        using var import = new TempDir();
        var slow = await TestMedia.GenerateAsync(Path.Combine(import.Path, "slow.mp4"), seconds: 20, width: 640, height: 480);
        var clip = await TestMedia.GenerateAsync(Path.Combine(import.Path, "clip.mp4"), seconds: 2);
        await using var server = await StartAsync($"--StreamServer:ImportRoots:0={import.Path}", "--StreamServer:Packaging:Ladder:0=480", "--StreamServer:Packaging:Preset=medium");
        using var client = server.CreateAdminClient();
        (await client.PostAsJsonAsync("/api/vod", new { source = slow, id = "running" })).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await client.GetFromJsonAsync<JsonElement>("/api/vod/running")).GetProperty("state").GetString() == "running",
            TimeSpan.FromSeconds(30), () => "the first job never started");
        (await client.PostAsJsonAsync("/api/vod", new { source = clip, id = "queued" })).EnsureSuccessStatusCode();
        var clock = Stopwatch.StartNew();
        using var deleted = await client.DeleteAsync("/api/vod/queued");
        Assert.Equal(HttpStatusCode.Accepted, deleted.StatusCode);
        var job = await client.GetFromJsonAsync<JsonElement>("/api/vod/queued");
        Assert.Equal("cancelled", job.GetProperty("state").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.Elapsed}");
        var running = await client.GetFromJsonAsync<JsonElement>("/api/vod/running");
        Assert.Equal("running", running.GetProperty("state").GetString());
        (await client.DeleteAsync("/api/vod/running")).Dispose();
    }

    // Accepted at POST (a name or an allowed address), then the job fails at connect time with the refusal.
    private static async Task AssertJobRefusedAsync(HttpClient client, string url, string id)
    {
        using var created = await client.PostAsJsonAsync("/api/vod", new { source = url, id });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var job = await WaitFinishedAsync(client, id);
        Assert.Equal("failed", job.GetProperty("state").GetString());
        Assert.Contains("refused", job.GetProperty("error").GetString());
    }

    private static async Task<JsonElement> WaitFinishedAsync(HttpClient client, string id)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var job = await client.GetFromJsonAsync<JsonElement>($"/api/vod/{id}");
            if (job.GetProperty("state").GetString() is "ready" or "failed" or "cancelled")
            {
                return job;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"job {id} unfinished: {job}");
            await Task.Delay(100);
        }
    }

    private static async Task<Origin> OriginAsync(string address, string? redirectTo = null, int redirectPort = 0)
    {
        var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(Path.Combine(dir.Path, "clip.mp4"), seconds: 2);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://{address}:0");
        var app = builder.Build();
        var origin = new Origin(app, dir);
        app.Use(async (ctx, next) =>
        {
            Interlocked.Increment(ref origin.RequestCount);
            await next(ctx);
        });
        app.MapGet("/clip.mp4", () => Results.File(clip, "video/mp4"));
        if (redirectTo is not null)
        {
            app.MapGet("/redirect", () => Results.Redirect(string.Format(System.Globalization.CultureInfo.InvariantCulture, redirectTo.Replace(":0/", ":{0}/", StringComparison.Ordinal), redirectPort)));
        }

        await app.StartAsync();
        origin.Port = new Uri(app.Urls.First()).Port;
        return origin;
    }

    private sealed class Origin(WebApplication app, TempDir dir) : IAsyncDisposable
    {
        public int RequestCount;

        public int Port { get; set; }

        public int Requests => Volatile.Read(ref RequestCount);

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
            dir.Dispose();
        }
    }
}
