using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Metrics;

[Collection(ServerTestsCollection.Name)]
public class MetricsEndpointTests
{
    [Fact]
    public async Task MetricsArePrometheusTextThatPromtoolAccepts()
    {
        var missing = Capabilities.MissingTool("promtool");
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateHttpClient();
        (await client.GetAsync("/healthz")).EnsureSuccessStatusCode();

        using var response = await client.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE streamserver_", text);
        Assert.Contains("streamserver_dotnet_gc", text);

        var lint = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], stdin: text);
        Assert.True(lint.ExitCode == 0, lint.StdOut + lint.StdErr);
    }

    [Fact]
    public async Task OpenMetrics_is_negotiated_and_latency_buckets_carry_request_id_exemplars()
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        using var client = server.CreateHttpClient();
        await client.GetByteArrayAsync("/vod/clip/seg_000.m4s"); // zero-copy HTTP/1.1 path
        await client.GetStringAsync("/healthz");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        using var response = await client.SendAsync(request);
        Assert.Equal("application/openmetrics-text", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("# EOF\n", text);
        Assert.Contains("# TYPE streamserver_http_requests counter\n", text); // the family without _total ...
        Assert.Contains("\nstreamserver_http_requests_total{", text); // ... its samples with it
        Assert.DoesNotContain("# TYPE streamserver_http_requests_total", text);
        // The exemplar's value is a float as Prometheus writes them: a segment served in under 100 µs reads "9.5E-05".
        Assert.Matches(@"streamserver_http_request_duration_seconds_bucket\{kind=""segment"",protocol=""http1\.1"",le=""[^""]+""\} \d+ # \{request_id=""[0-9A-Z]+\.00000001""\} [0-9.eE+-]+ \d+\.\d{3}\n", text);

        // Without the Accept header: the classic text format, no exemplars, no # EOF.
        var plain = await client.GetStringAsync("/metrics");
        Assert.DoesNotContain("# EOF", plain);
        Assert.DoesNotContain("request_id", plain);
        Assert.Contains("# TYPE streamserver_http_requests_total counter", plain);
    }

    [Fact]
    public async Task HealthzReportsEachSubsystemAsJson()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateHttp2Client();
        using var response = await client.GetAsync("/healthz");
        Assert.Equal(System.Net.HttpVersion.Version20, response.Version);
        using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("ok", doc.RootElement.GetProperty("status").GetString());
        Assert.True(doc.RootElement.GetProperty("subsystems").TryGetProperty("http", out _));
    }
}
