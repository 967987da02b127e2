using System.Text;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Http;

/// <summary>Connection behaviour of the cleartext HTTP/1.1 path, spoken to with raw bytes.</summary>
[Collection(ServerTestsCollection.Name)]
public class Http1ZeroCopyTests
{
    private const string Playlist = "/vod/clip/media.m3u8";
    private const string Segment = "/vod/clip/big.m4s";

    [Fact]
    public async Task KeepAlivePipeliningCloseAndHttp10()
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await TestLibrary.PublishAsync(server.DataDir);
        var playlist = await TestLibrary.ReadAsync("media.m3u8");
        var segment = await TestLibrary.ReadAsync("big.m4s");

        // Three pipelined requests in one packet, answered in order on one connection.
        await using (var c = await RawHttpConnection.OpenAsync(server.HttpUri))
        {
            await c.SendAsync($"GET {Playlist} HTTP/1.1\r\nHost: a\r\n\r\nHEAD {Segment} HTTP/1.1\r\nHost: a\r\n\r\nGET {Segment} HTTP/1.1\r\nHost: a\r\nRange: bytes=10-19\r\n\r\n");
            var r1 = await c.ReadResponseAsync();
            var r2 = await c.ReadResponseAsync(headRequest: true);
            var r3 = await c.ReadResponseAsync();
            Assert.Equal(200, r1!.Status);
            Assert.Equal(playlist, r1.Body);
            Assert.Equal(200, r2!.Status);
            Assert.Equal(segment.Length.ToString(), r2.Header("Content-Length"));
            Assert.Equal(206, r3!.Status);
            Assert.Equal(segment.AsSpan(10, 10).ToArray(), r3.Body);

            // Keep-alive: the same connection serves a whole segment next.
            await c.SendAsync($"GET {Segment} HTTP/1.1\r\nHost: a\r\n\r\n");
            var r4 = await c.ReadResponseAsync();
            Assert.Equal(segment, r4!.Body);

            // Connection: close is honoured and announced.
            await c.SendAsync($"GET {Playlist} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            var r5 = await c.ReadResponseAsync();
            Assert.Equal("close", r5!.Header("Connection"));
            Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        }

        // HTTP/1.0: closes by default, keeps alive on request.
        await using (var c = await RawHttpConnection.OpenAsync(server.HttpUri))
        {
            await c.SendAsync($"GET {Playlist} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            var r = await c.ReadResponseAsync();
            Assert.Equal(200, r!.Status);
            Assert.Equal("keep-alive", r.Header("Connection"));
            await c.SendAsync($"GET {Playlist} HTTP/1.0\r\n\r\n");
            r = await c.ReadResponseAsync();
            Assert.Equal(playlist, r!.Body);
            Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        }
    }

    [Fact]
    public async Task OtherRequestsAreHandedToKestrelWithTheirBytesIntact()
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await TestLibrary.PublishAsync(server.DataDir);
        await using var c = await RawHttpConnection.OpenAsync(server.HttpUri);

        // Media first (zero-copy path), then /healthz split over two writes, pipelined with a segment request:
        // Kestrel must see every byte of both.
        await c.SendAsync($"GET {Playlist} HTTP/1.1\r\nHost: a\r\n\r\nGET /heal");
        Assert.Equal(200, (await c.ReadResponseAsync())!.Status);
        await c.SendAsync($"thz HTTP/1.1\r\nHost: a\r\n\r\nGET {Segment} HTTP/1.1\r\nHost: a\r\nRange: bytes=0-3\r\n\r\n");
        var health = await c.ReadResponseAsync();
        Assert.Equal(200, health!.Status);
        Assert.Contains("\"status\"", Encoding.UTF8.GetString(health.Body));
        var ranged = await c.ReadResponseAsync();
        Assert.Equal(206, ranged!.Status);
        Assert.Equal(4, ranged.Body.Length);

        // A missing file falls through to the application (404), not a connection error.
        await c.SendAsync("GET /vod/clip/nope.m4s HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(404, (await c.ReadResponseAsync())!.Status);
    }

    [Fact]
    public async Task H2cPriorKnowledgeWorksWithCurl()
    {
        var missing = Capabilities.MissingTool("curl");
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var server = await RunningServer.StartAsync(tls: false);
        await TestLibrary.PublishAsync(server.DataDir);
        // One curl per URL: curl 7.88 fails to reuse a prior-knowledge connection for a second URL (exit 16)
        // against any server; nghttp/h2load reuse it fine (the bench uses h2load -m4).
        var lines = new List<string>();
        foreach (var path in new[] { Segment, Playlist, "/healthz" })
        {
            var result = await ProcessRunner.RunAsync("curl",
                ["-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code} %{size_download}", new Uri(server.HttpUri, path).ToString()]);
            lines.Add(result.EnsureSuccess("curl").StdOut.Trim());
        }

        Assert.Equal($"2 200 {(await TestLibrary.ReadAsync("big.m4s")).Length}", lines[0]);
        Assert.StartsWith("2 200 ", lines[1]);
        Assert.StartsWith("2 200 ", lines[2]);
    }

    public static TheoryData<string, int> Malformed => new()
    {
        { "BREW /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n", 501 },
        { "G@T /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\nHost: a\n\n", 400 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", 400 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n", 400 },
        { "GET /vod/clip/me\0dia.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\r\n\r\n", 400 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
        { "GET /vod/clip/media.m3u8 HTTP/9.9\r\nHost: a\r\n\r\n", 505 },
        { "GET /vod/clip/%2e%2e/%2e%2e/secret HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
        { "GET /" + new string('a', 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('b', 40000) + "\r\n\r\n", 431 },
        { "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n" + string.Concat(Enumerable.Repeat("X-N: 1\r\n", 120)) + "\r\n", 431 },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task MalformedRequestsGetAnErrorAndTheConnectionCloses(string request, int expected)
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await TestLibrary.PublishAsync(server.DataDir);
        await using (var c = await RawHttpConnection.OpenAsync(server.HttpUri))
        {
            await c.SendAsync(Encoding.Latin1.GetBytes(request));
            var response = await c.ReadResponseAsync();
            Assert.NotNull(response);
            Assert.Equal(expected, response.Status);
            if (expected is 400 or 414 or 431 or 505)
            {
                Assert.True(await c.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), "connection left open");
            }
        }

        // And the server keeps serving.
        using var client = server.CreateHttpClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync(Playlist)).StatusCode);
    }
}
