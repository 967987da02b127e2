using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Security;

/// <summary>What the admin surface tells and logs: no token on stdout, no server paths or file existence in errors,
/// malformed bodies answered 400 with one Information line, /metrics behind the token when asked.</summary>
[Collection(ServerTestsCollection.Name)]
public class AdminSurfaceTests
{
    private const string Token = "test-token-0123456789";

    [Fact]
    public async Task Banner_names_where_the_token_is_never_the_token()
    {
        using var data = new TempDir();
        await using var server = await RunningServer.StartProcessAsync(data.Path);
        var tokenFile = Path.Combine(data.Path, "admin-token");
        var token = (await File.ReadAllTextAsync(tokenFile)).Trim();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!server.Output.Contains("admin token:", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Contains($"admin token: generated into {tokenFile}", server.Output);
        Assert.DoesNotContain(token, server.Output);
    }

    [Fact]
    public async Task Missing_and_outside_sources_get_one_answer_without_paths()
    {
        using var import = new TempDir();
        using var outside = new TempDir();
        var existingOutside = Path.Combine(outside.Path, "movie.mp4");
        await File.WriteAllBytesAsync(existingOutside, [1, 2, 3]);
        await using var server = await RunningServer.StartAsync(null, true, $"--StreamServer:AdminToken={Token}", $"--StreamServer:ImportRoots:0={import.Path}");
        using var client = server.CreateAdminClient();
        var answers = new List<(int Status, string Error)>();
        foreach (var source in new[] { existingOutside, Path.Combine(outside.Path, "missing.mp4"), Path.Combine(import.Path, "missing.mp4"), "/etc/passwd", "/proc/self/environ" })
        {
            using var response = await client.PostAsJsonAsync("/api/vod", new { source });
            var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
            Assert.DoesNotContain("/", error.Replace("(StreamServer:ImportRoots or the uploads folder)", "", StringComparison.Ordinal));
            answers.Add(((int)response.StatusCode, error));
        }

        Assert.All(answers, a => Assert.Equal(answers[0], a));
        Assert.Equal(403, answers[0].Status);
    }

    [Fact]
    public async Task Malformed_admin_bodies_get_400_and_one_information_line()
    {
        using var data = new TempDir();
        await using var server = await RunningServer.StartProcessAsync(data.Path, $"--StreamServer:AdminToken={Token}", "--Logging:LogLevel:StreamServer=Information");
        foreach (var chunkSize in new[] { new string('f', 24), "1" + new string('0', 23), "zz" })
        {
            await using var c = await RawHttpConnection.OpenAsync(server.HttpUri);
            await c.SendAsync($"POST /api/vod HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {Token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{chunkSize}\r\n{{}}\r\n0\r\n\r\n");
            var response = await c.ReadResponseAsync();
            Assert.NotNull(response);
            Assert.Equal(400, response.Status);
        }

        // The console log is written asynchronously: wait for the three lines, then check nothing worse came with them.
        await Eventually.TrueAsync(() => server.Output.Split('\n').Count(l => l.Contains("bad request body", StringComparison.Ordinal)) >= 3,
            TimeSpan.FromSeconds(15), () => server.Output);
        var output = server.Output;
        Assert.DoesNotContain("fail:", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Metrics_can_require_the_token()
    {
        await using (var open = await RunningServer.StartAsync(null, false))
        {
            using var anonymous = open.CreateHttpClient();
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
        }

        await using var server = await RunningServer.StartAsync(null, false, $"--StreamServer:AdminToken={Token}", "--StreamServer:Metrics:RequireToken=true");
        using var client = server.CreateHttpClient();
        using var refused = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.DoesNotContain("streamserver_", await refused.Content.ReadAsStringAsync());
        using var admin = server.CreateAdminClient();
        using var ok = await admin.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Contains("streamserver_http_requests_total", await ok.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Run_from_the_checkout_keeps_its_data_in_the_repository_data_folder()
    {
        // `dotnet run --project src/StreamServer` is what run.sh does; its working directory decides where "data" is.
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var a in (string[])["run", "--project", RepoPaths.Combine("src", "StreamServer"), "-c", "Release", "--no-build", "--",
                     "--StreamServer:ListenAddress=127.0.0.1", "--StreamServer:HttpPort=0", "--StreamServer:HttpsPort=-1",
                     "--StreamServer:GenerateSample=false", "--StreamServer:Tracing:Enabled=false", "--StreamServer:RtmpPort=-1", "--StreamServer:Live:TestChannel=false"])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("StreamServer__DataDir");
        using var process = System.Diagnostics.Process.Start(psi)!;
        var output = new StringBuilder();
        var banner = new TaskCompletionSource<string>();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }

            if (e.Data?.Contains("admin token:", StringComparison.Ordinal) == true)
            {
                banner.TrySetResult(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var line = await banner.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Contains(RepoPaths.Combine("data", "admin-token"), line);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }
}
