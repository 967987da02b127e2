using System.Net;
using System.Net.Http.Headers;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;

namespace StreamServer.Tests.Vod;

/// <summary>Serving semantics of published files over every protocol a player uses (real Kestrel, real HttpClient).</summary>
[Collection(ServerTestsCollection.Name)]
public class VodServingTests
{
    public static TheoryData<string> Protocols => new() { "http1", "h2", "h2c" };

    internal static HttpClient Client(RunningServer server, string protocol) => protocol switch
    {
        "http1" => server.CreateHttpClient(),
        "h2" => server.CreateHttp2Client(),
        "h2c" => new HttpClient
        {
            BaseAddress = server.HttpUri,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };

    private static Version Expected(string protocol) => protocol == "http1" ? HttpVersion.Version11 : HttpVersion.Version20;

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task FilesComeWithTheirContentTypeCachingAndCorsHeaders(string protocol)
    {
        await using var server = await RunningServer.StartAsync();
        await TestLibrary.PublishAsync(server.DataDir);
        using var client = Client(server, protocol);

        (string path, string type)[] cases =
        [
            ("master.m3u8", "application/vnd.apple.mpegurl"),
            ("media.m3u8", "application/vnd.apple.mpegurl"),
            ("manifest.mpd", "application/dash+xml"),
            ("init.mp4", "video/mp4"),
            ("seg_001.m4s", "video/iso.segment"),
            ("big.m4s", "video/iso.segment"),
            ($"{TestLibrary.AudioFolder}/init.mp4", "audio/mp4"),
            ($"{TestLibrary.AudioFolder}/seg_000.m4s", "audio/mp4"),
            ($"{TestLibrary.AudioFolder}/media.m3u8", "application/vnd.apple.mpegurl"),
        ];
        foreach (var (path, type) in cases)
        {
            using var response = await client.GetAsync($"/vod/{TestLibrary.Id}/{path}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Expected(protocol), response.Version);
            Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
            var expected = await TestLibrary.ReadAsync(path);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(expected.Length, response.Content.Headers.ContentLength);
            Assert.True(expected.AsSpan().SequenceEqual(body), $"{path}: body differs");
            Assert.Equal("public, max-age=31536000, immutable", response.Headers.CacheControl?.ToString());
            Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Contains("Content-Range", response.Headers.GetValues("Access-Control-Expose-Headers").Single());
            Assert.Equal("bytes", response.Headers.AcceptRanges.Single());
            Assert.NotNull(response.Headers.ETag);
            Assert.False(response.Headers.ETag!.IsWeak);
            Assert.NotNull(response.Content.Headers.LastModified);
        }
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task RangesConditionalsAndHeadFollowRfc9110(string protocol)
    {
        await using var server = await RunningServer.StartAsync();
        await TestLibrary.PublishAsync(server.DataDir);
        using var client = Client(server, protocol);
        var url = $"/vod/{TestLibrary.Id}/big.m4s";
        var content = await TestLibrary.ReadAsync("big.m4s");
        var len = content.Length;

        using var full = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        var etag = full.Headers.ETag!;
        var lastModified = full.Content.Headers.LastModified!.Value;

        // Single range -> 206 with exactly those bytes.
        var ranged = await SendAsync(client, url, r => r.Headers.Range = new RangeHeaderValue(1000, 1999));
        Assert.Equal(HttpStatusCode.PartialContent, ranged.Status);
        Assert.Equal($"bytes 1000-1999/{len}", ranged.ContentRange);
        Assert.True(content.AsSpan(1000, 1000).SequenceEqual(ranged.Body));

        // Open-ended and suffix ranges.
        var tail = await SendAsync(client, url, r => r.Headers.Range = new RangeHeaderValue(len - 10, null));
        Assert.Equal($"bytes {len - 10}-{len - 1}/{len}", tail.ContentRange);
        var suffix = await SendAsync(client, url, r => r.Headers.Range = new RangeHeaderValue(null, 500));
        Assert.Equal(HttpStatusCode.PartialContent, suffix.Status);
        Assert.True(content.AsSpan(len - 500).SequenceEqual(suffix.Body));

        // Past the end -> 416 with the length.
        var unsatisfiable = await SendAsync(client, url, r => r.Headers.Range = new RangeHeaderValue(len + 10, null));
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.Status);
        Assert.Equal($"bytes */{len}", unsatisfiable.ContentRange);

        // Multi-range may be answered with the whole file.
        var multi = await SendAsync(client, url, r => r.Headers.TryAddWithoutValidation("Range", "bytes=0-9,20-29"));
        Assert.Equal(HttpStatusCode.OK, multi.Status);
        Assert.Equal(len, multi.Body.Length);

        // If-None-Match (also weak form and lists) and If-Modified-Since -> 304 without body.
        var notModified = await SendAsync(client, url, r => r.Headers.IfNoneMatch.Add(etag));
        Assert.Equal(HttpStatusCode.NotModified, notModified.Status);
        Assert.Empty(notModified.Body);
        Assert.Equal(etag.Tag, notModified.ETag);
        var weakList = await SendAsync(client, url, r => r.Headers.TryAddWithoutValidation("If-None-Match", $"\"nope\", W/{etag.Tag}"));
        Assert.Equal(HttpStatusCode.NotModified, weakList.Status);
        var other = await SendAsync(client, url, r => r.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"other\"")));
        Assert.Equal(HttpStatusCode.OK, other.Status);
        var since = await SendAsync(client, url, r => r.Headers.IfModifiedSince = lastModified);
        Assert.Equal(HttpStatusCode.NotModified, since.Status);
        var before = await SendAsync(client, url, r => r.Headers.IfModifiedSince = lastModified.AddSeconds(-1));
        Assert.Equal(HttpStatusCode.OK, before.Status);

        // If-Range: matching validator keeps the range, a stale one gets the full file.
        var ifRangeOk = await SendAsync(client, url, r => { r.Headers.Range = new RangeHeaderValue(0, 9); r.Headers.IfRange = new RangeConditionHeaderValue(etag); });
        Assert.Equal(HttpStatusCode.PartialContent, ifRangeOk.Status);
        var ifRangeStale = await SendAsync(client, url, r => { r.Headers.Range = new RangeHeaderValue(0, 9); r.Headers.IfRange = new RangeConditionHeaderValue("\"stale\""); });
        Assert.Equal(HttpStatusCode.OK, ifRangeStale.Status);
        Assert.Equal(len, ifRangeStale.Body.Length);

        // HEAD: the GET headers, no body.
        var head = await SendAsync(client, url, r => r.Method = HttpMethod.Head);
        Assert.Equal(HttpStatusCode.OK, head.Status);
        Assert.Equal(len, head.ContentLength);
        Assert.Empty(head.Body);

        // CORS preflight.
        var preflight = await SendAsync(client, url, r =>
        {
            r.Method = HttpMethod.Options;
            r.Headers.Add("Origin", "https://player.example");
            r.Headers.Add("Access-Control-Request-Method", "GET");
            r.Headers.Add("Access-Control-Request-Headers", "range");
        });
        Assert.Equal(HttpStatusCode.NoContent, preflight.Status);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task MissingFilesFoldersAndOtherPathsAreNotServed(string protocol)
    {
        await using var server = await RunningServer.StartAsync();
        var folder = await TestLibrary.PublishAsync(server.DataDir);
        var outside = Path.Combine(server.DataDir, "secret.m3u8");
        await File.WriteAllTextAsync(outside, "#EXTM3U secret");
        File.CreateSymbolicLink(Path.Combine(folder, "escape.m3u8"), outside);
        File.CreateSymbolicLink(Path.Combine(folder, "passwd.m3u8"), "/etc/passwd");
        Directory.CreateDirectory(Path.Combine(server.DataDir, "vod", ".staging-x"));
        await File.WriteAllTextAsync(Path.Combine(server.DataDir, "vod", ".staging-x", "master.m3u8"), "#EXTM3U staging");
        await File.WriteAllTextAsync(Path.Combine(folder, "notes.txt"), "not media");
        using var client = Client(server, protocol);

        foreach (var path in new[] { "/vod/clip/missing.m4s", "/vod/clip/", "/vod/clip", "/vod/", "/vod/clip/escape.m3u8", "/vod/clip/passwd.m3u8", "/vod/clip/notes.txt", "/vod/nope/master.m3u8" })
        {
            using var response = await client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path}: {response.StatusCode}");
        }

        using var staging = await client.GetAsync("/vod/.staging-x/master.m3u8");
        Assert.True(staging.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"staging: {staging.StatusCode}");
        Assert.DoesNotContain("staging", await staging.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TraversalAttemptsOverRawHttp11AreRefused()
    {
        await using var server = await RunningServer.StartAsync();
        await TestLibrary.PublishAsync(server.DataDir);
        await File.WriteAllTextAsync(Path.Combine(server.DataDir, "secret.m3u8"), "#EXTM3U secret");
        string[] attacks =
        [
            "/vod/clip/../../secret.m3u8", "/vod/clip/%2e%2e/%2e%2e/secret.m3u8", "/vod/clip/%2E%2E%2F%2E%2E%2Fsecret.m3u8",
            "/vod/clip/..%2f..%2fsecret.m3u8", "/vod/clip/%252e%252e/secret.m3u8", "/vod/clip//etc/passwd", "/vod//etc/passwd",
            "/vod/clip/..\\..\\secret.m3u8", "/vod/clip/%5c..%5csecret.m3u8", "/vod/clip/master.m3u8%00.jpg", "/vod/.staging-1/master.m3u8",
            "/vod/clip/./master.m3u8", "/vod/clip/.hidden.m3u8",
        ];
        foreach (var tls in new[] { false, true })
        {
            foreach (var attack in attacks)
            {
                await using var connection = await RawHttpConnection.OpenAsync(tls ? server.HttpsUri! : server.HttpUri, tls);
                await connection.SendAsync($"GET {attack} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                var response = await connection.ReadResponseAsync();
                Assert.NotNull(response);
                Assert.True(response.Status is 400 or 404, $"{attack} (tls={tls}): {response}");
                Assert.DoesNotContain("secret", System.Text.Encoding.Latin1.GetString(response.Body));
                if (response.Status == 400)
                {
                    Assert.True(await connection.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), $"{attack}: connection left open after 400");
                }
            }
        }
    }

    private sealed record Result(HttpStatusCode Status, byte[] Body, string? ContentRange, string? ETag, long? ContentLength);

    private static async Task<Result> SendAsync(HttpClient client, string url, Action<HttpRequestMessage> configure)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        configure(request);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        return new Result(response.StatusCode, body, response.Content.Headers.ContentRange?.ToString(), response.Headers.ETag?.Tag,
            response.Content.Headers.ContentLength);
    }
}
