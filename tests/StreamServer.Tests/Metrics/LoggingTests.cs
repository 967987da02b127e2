using System.Net;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Metrics;

/// <summary>Structured logs: JSON console lines carrying request ids, and the optional access log on both HTTP paths.</summary>
[Collection(ServerTestsCollection.Name)]
public sealed class LoggingTests
{
    [Fact]
    public async Task Json_console_lines_parse_and_carry_the_request_id_of_the_request_they_were_logged_in()
    {
        const string Token = "json-logs-token-0123456789abcdef";
        await using var server = await RunningServer.StartProcessAsync(null, "--StreamServer:Logging:Format=json", $"--StreamServer:AdminToken={Token}",
            "--Logging:LogLevel:StreamServer=Information");
        // A malformed chunked body on /api/vod: the admin API logs the rejection inside the request.
        using (var client = new System.Net.Sockets.TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, server.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
                $"POST /api/vod HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
            var buffer = new byte[4096];
            var read = await stream.ReadAsync(buffer);
            Assert.StartsWith("HTTP/1.1 400", System.Text.Encoding.ASCII.GetString(buffer, 0, read));
        }

        await server.WaitForOutputAsync("bad request body");

        var lines = server.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.Contains("StreamServer is up.", StringComparison.Ordinal)); // the banner is a JSON line too
        string? requestId = null;
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line); // every line is one JSON object
            var root = doc.RootElement;
            Assert.True(root.TryGetProperty("Timestamp", out var ts) && ts.GetString()!.EndsWith('Z'), line);
            if (root.GetProperty("Message").GetString()!.Contains("bad request body", StringComparison.Ordinal))
            {
                foreach (var scope in root.GetProperty("Scopes").EnumerateArray())
                {
                    if (scope.ValueKind == JsonValueKind.Object && scope.TryGetProperty("RequestId", out var id))
                    {
                        requestId = id.GetString();
                    }
                }
            }
        }

        Assert.False(string.IsNullOrEmpty(requestId), string.Join('\n', lines));
        Assert.Matches("^[0-9A-Z]+:[0-9A-F]{8}$", requestId);
    }

    [Fact]
    public async Task The_access_log_has_a_line_per_request_on_the_zero_copy_path_and_through_kestrel_and_is_absent_when_off()
    {
        await using var server = await RunningServer.StartProcessAsync(null, "--StreamServer:Logging:AccessLog=true");
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        var segment = await Vod.TestLibrary.ReadAsync("seg_000.m4s");
        using (var http = server.CreateHttpClient())
        {
            Assert.Equal(segment.Length, (await http.GetByteArrayAsync("/vod/clip/seg_000.m4s")).Length); // HTTP/1.1, zero-copy
            using var headResponse = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/vod/clip/seg_000.m4s"));
            await http.GetStringAsync("/healthz"); // handed to Kestrel on the same connection
        }

        using (var h2c = new HttpClient { BaseAddress = server.HttpUri, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact })
        {
            await h2c.GetByteArrayAsync("/vod/clip/media.m3u8"); // h2c prior knowledge: Kestrel's HTTP/2
        }

        var file = Path.Combine(server.DataDir, "logs", "access.log");
        var entries = new List<JsonElement>();
        await Eventually.TrueAsync(() =>
        {
            entries.Clear();
            if (File.Exists(file))
            {
                foreach (var line in File.ReadAllLines(file))
                {
                    entries.Add(JsonDocument.Parse(line).RootElement.Clone());
                }
            }

            return Task.FromResult(entries.Count >= 4);
        }, TimeSpan.FromSeconds(15), () => "access log: " + (File.Exists(file) ? File.ReadAllText(file) : "(none)"));

        JsonElement Find(string method, string path, string protocol)
        {
            foreach (var e in entries)
            {
                if (e.GetProperty("method").GetString() == method && e.GetProperty("path").GetString() == path && e.GetProperty("protocol").GetString() == protocol)
                {
                    return e;
                }
            }

            throw new KeyNotFoundException($"no {method} {path} {protocol} in the access log:\n{string.Join('\n', entries)}");
        }

        var get = Find("GET", "/vod/clip/seg_000.m4s", "HTTP/1.1");
        Assert.Equal(200, get.GetProperty("status").GetInt32());
        Assert.Equal(segment.Length, get.GetProperty("bytes").GetInt64());
        Assert.Matches(@"^[0-9A-Z]+\.00000001$", get.GetProperty("requestId").GetString());
        Assert.StartsWith("127.0.0.1:", get.GetProperty("remote").GetString());
        var head = Find("HEAD", "/vod/clip/seg_000.m4s", "HTTP/1.1");
        Assert.Equal(0, head.GetProperty("bytes").GetInt64());
        Assert.Matches(@"^[0-9A-Z]+\.00000002$", head.GetProperty("requestId").GetString());
        var healthz = Find("GET", "/healthz", "HTTP/1.1"); // the same connection, handed to Kestrel: its own id, no clash
        Assert.Equal(200, healthz.GetProperty("status").GetInt32());
        Assert.Matches("^[0-9A-Z]+:00000001$", healthz.GetProperty("requestId").GetString());
        var h2 = Find("GET", "/vod/clip/media.m3u8", "HTTP/2");
        Assert.Equal(200, h2.GetProperty("status").GetInt32());
        Assert.True(h2.GetProperty("durationMs").GetDouble() >= 0);

        // Off (the default): no file, nothing queued.
        await using var quiet = await RunningServer.StartProcessAsync(null);
        await Vod.TestLibrary.PublishAsync(quiet.DataDir);
        using (var http = quiet.CreateHttpClient())
        {
            await http.GetByteArrayAsync("/vod/clip/seg_000.m4s");
        }

        Assert.False(File.Exists(Path.Combine(quiet.DataDir, "logs", "access.log")));
    }
}
