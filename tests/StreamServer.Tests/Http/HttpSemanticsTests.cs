using System.Net;
using System.Text;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;

namespace StreamServer.Tests.Http;

/// <summary>
/// RFC 9110 / 9112 answers every path must give alike: the zero-copy HTTP/1.1 path (cleartext port), Kestrel's
/// HTTP/1.1 (TLS port) and h2c. Each case states the expected status, not only that the paths agree.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class HttpSemanticsTests
{
    private const string Big = "/vod/clip/big.m4s";

    private static IEnumerable<(string Name, string ExtraHeaders, int Status, string? ContentRange)> Cases(string etag, string lastModified, long length)
    {
        var earlier = DateTime.Parse(lastModified, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime().AddDays(-1).ToString("R");
        yield return ("if-match same", $"If-Match: {etag}\r\n", 200, null);
        yield return ("if-match star", "If-Match: *\r\n", 200, null);
        yield return ("if-match list", $"If-Match: \"a\", {etag}\r\n", 200, null);
        yield return ("if-match other", "If-Match: \"other\"\r\n", 412, null);
        yield return ("if-match weak", $"If-Match: W/{etag}\r\n", 412, null);
        yield return ("if-unmodified-since later", $"If-Unmodified-Since: {lastModified}\r\n", 200, null);
        yield return ("if-unmodified-since earlier", $"If-Unmodified-Since: {earlier}\r\n", 412, null);
        yield return ("if-match wins over ius", $"If-Match: {etag}\r\nIf-Unmodified-Since: {earlier}\r\n", 200, null);
        yield return ("412 before range", "If-Match: \"other\"\r\nRange: bytes=0-9\r\n", 412, null);
        yield return ("first position past long", "Range: bytes=9223372036854775807-\r\n", 416, $"bytes */{length}");
        yield return ("first position of 30 digits", "Range: bytes=999999999999999999999999999999-\r\n", 416, $"bytes */{length}");
        yield return ("last position past long", "Range: bytes=0-99999999999999999999\r\n", 206, $"bytes 0-{length - 1}/{length}");
        yield return ("suffix past long", "Range: bytes=-99999999999999999999\r\n", 206, $"bytes 0-{length - 1}/{length}");
        yield return ("empty if-range", "Range: bytes=0-9\r\nIf-Range:\r\n", 200, null);
        yield return ("blank if-range", "Range: bytes=0-9\r\nIf-Range:   \r\n", 200, null);
        yield return ("if-range holds", $"Range: bytes=0-9\r\nIf-Range: {etag}\r\n", 206, $"bytes 0-9/{length}");
        var list = string.Join(", ", Enumerable.Range(0, 80).Select(i => $"\"old-{i:D4}-0123456789\"")) + ", " + etag;
        yield return ("if-none-match of 81 tags", $"If-None-Match: {list}\r\n", 304, null);
    }

    [Fact]
    public async Task Preconditions_and_ranges_answer_per_rfc_9110_on_every_path()
    {
        await using var server = await RunningServer.StartAsync(tls: true);
        await TestLibrary.PublishAsync(server.DataDir);
        var probe = await SendAsync(server.HttpUri, false, $"GET {Big} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var etag = probe.Header("ETag")!;
        var lastModified = probe.Header("Last-Modified")!;
        var length = probe.Body.Length;

        using var h2c = H2cClient(server.HttpUri);
        var failures = new List<string>();
        foreach (var (name, extra, status, contentRange) in Cases(etag, lastModified, length))
        {
            var request = $"GET {Big} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n";
            foreach (var (path, response) in new[]
            {
                ("zero-copy", await SendAsync(server.HttpUri, false, request)),
                ("kestrel h1", await SendAsync(server.HttpsUri!, true, request)),
            })
            {
                if (response.Status != status || (contentRange is not null && response.Header("Content-Range") != contentRange))
                {
                    failures.Add($"{name} on {path}: {response.Status} {response.Header("Content-Range")} (expected {status} {contentRange})");
                }
            }

            var h2Status = await H2cStatusAsync(h2c, extra);
            if (h2Status != status)
            {
                failures.Add($"{name} on h2c: {h2Status} (expected {status})");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Methods_are_case_sensitive_and_absolute_form_is_accepted()
    {
        await using var server = await RunningServer.StartAsync(tls: true);
        await TestLibrary.PublishAsync(server.DataDir);
        foreach (var (uri, tls) in new[] { (server.HttpUri, false), (server.HttpsUri!, true) })
        {
            var lower = await SendAsync(uri, tls, $"get {Big} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            Assert.Equal(501, lower.Status);
            var post = await SendAsync(uri, tls, $"POST {Big} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
            Assert.Equal(405, post.Status);
            Assert.Equal("GET, HEAD, OPTIONS", post.Header("Allow"));
            var absolute = await SendAsync(uri, tls, $"GET http://localhost{Big} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            Assert.Equal(200, absolute.Status);
            Assert.Equal((await SendAsync(uri, tls, $"GET {Big} HTTP/1.1\r\nHost: localhost\r\n\r\n")).BodySha256, absolute.BodySha256);
        }
    }

    [Fact]
    public async Task Header_bytes_above_ascii_are_refused_on_both_ports()
    {
        await using var server = await RunningServer.StartAsync(tls: true);
        await TestLibrary.PublishAsync(server.DataDir);
        for (var b = 0x80; b <= 0xff; b += 0x3f)
        {
            var request = Encoding.Latin1.GetBytes($"GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: localhost\r\nX-A: a{(char)b}b\r\n\r\n");
            foreach (var (uri, tls) in new[] { (server.HttpUri, false), (server.HttpsUri!, true) })
            {
                await using var c = await RawHttpConnection.OpenAsync(uri, tls);
                await c.SendAsync(request);
                var response = await c.ReadResponseAsync();
                Assert.True(response?.Status == 400, $"0x{b:x2} on {(tls ? "TLS" : "cleartext")}: {response}");
            }
        }
    }

    private static async Task<RawHttpResponse> SendAsync(Uri uri, bool tls, string request)
    {
        await using var c = await RawHttpConnection.OpenAsync(uri, tls);
        await c.SendAsync(Encoding.Latin1.GetBytes(request));
        return await c.ReadResponseAsync() ?? throw new InvalidOperationException($"no response to {request.Split('\r')[0]}");
    }

    private static HttpClient H2cClient(Uri uri) => new()
    {
        BaseAddress = uri,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static async Task<int> H2cStatusAsync(HttpClient client, string extraHeaders)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Big);
        foreach (var line in extraHeaders.Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':');
            request.Headers.TryAddWithoutValidation(line[..colon], line[(colon + 1)..].Trim());
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return (int)response.StatusCode;
    }
}
