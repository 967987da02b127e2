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
