using System.Text;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;

namespace StreamServer.Tests.Http;

/// <summary>
/// One corpus of raw HTTP/1.x requests (valid, edge, malformed) sent to the zero-copy path (cleartext
/// port) and to Kestrel's own HTTP/1.1 stack (the TLS port, same server, same files); the responses
/// must agree field by field.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class Http1DifferentialTests
{
    private static readonly string[] ComparedHeaders =
    [
        "Content-Length", "Content-Range", "Content-Type", "ETag", "Last-Modified", "Cache-Control", "Accept-Ranges",
        "Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Access-Control-Allow-Methods", "Connection", "Transfer-Encoding",
    ];

    private static IEnumerable<(string Name, string Request, bool Head)> Corpus(string etag, string lastModified)
    {
        const string H = "Host: localhost\r\n";
        var big = "/vod/clip/big.m4s";
        foreach (var file in new[] { "master.m3u8", "media.m3u8", "manifest.mpd", "init.mp4", "seg_000.m4s", "big.m4s" })
        {
            yield return ($"get {file}", $"GET /vod/clip/{file} HTTP/1.1\r\n{H}\r\n", false);
        }

        yield return ("head", $"HEAD {big} HTTP/1.1\r\n{H}\r\n", true);
        yield return ("head+range", $"HEAD {big} HTTP/1.1\r\n{H}Range: bytes=0-9\r\n\r\n", true);
        foreach (var range in new[] { "bytes=0-0", "bytes=10-19", "bytes=1000-", "bytes=-500", "bytes=-0", "bytes=99999999-", "bytes=5-2", "bytes=0-9,20-29", "items=0-5", "bytes=abc", "bytes=0-99999999", " bytes=3-4 " })
        {
            yield return ($"range {range}", $"GET {big} HTTP/1.1\r\n{H}Range: {range}\r\n\r\n", false);
        }

        foreach (var inm in new[] { etag, "W/" + etag, "*", "\"x\"", $"\"x\", {etag}", "garbage" })
        {
            yield return ($"if-none-match {inm}", $"GET {big} HTTP/1.1\r\n{H}If-None-Match: {inm}\r\n\r\n", false);
        }

        var earlier = DateTime.Parse(lastModified, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime().AddDays(-1).ToString("R");
        foreach (var ims in new[] { lastModified, earlier, "yesterday", "Sun, 06 Nov 2094 08:49:37 GMT" })
        {
            yield return ($"if-modified-since {ims}", $"GET {big} HTTP/1.1\r\n{H}If-Modified-Since: {ims}\r\n\r\n", false);
        }

        yield return ("inm wins over ims", $"GET {big} HTTP/1.1\r\n{H}If-None-Match: \"x\"\r\nIf-Modified-Since: {lastModified}\r\n\r\n", false);
        foreach (var ifRange in new[] { etag, "\"stale\"", lastModified, earlier, "W/" + etag })
        {
            yield return ($"if-range {ifRange}", $"GET {big} HTTP/1.1\r\n{H}Range: bytes=0-99\r\nIf-Range: {ifRange}\r\n\r\n", false);
        }

        yield return ("http/1.0", "GET /vod/clip/media.m3u8 HTTP/1.0\r\n\r\n", false);
        yield return ("http/1.0 keep-alive", "GET /vod/clip/media.m3u8 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false);
        yield return ("close", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Connection: close\r\n\r\n", false);
        yield return ("close, keep-alive tokens", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Connection: keep-alive, close\r\n\r\n", false);
        yield return ("content-length 0", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Content-Length: 0\r\n\r\n", false);
        yield return ("query string", $"GET /vod/clip/media.m3u8?token=abc HTTP/1.1\r\n{H}\r\n", false);
        yield return ("header case", $"get /vod/clip/media.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("mixed-case headers", $"GET {big} HTTP/1.1\r\nhOsT: localhost\r\nrAnGe: bytes=1-2\r\n\r\n", false);
        yield return ("origin", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Origin: https://player.example\r\n\r\n", false);
        yield return ("preflight", $"OPTIONS /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Origin: https://p.example\r\nAccess-Control-Request-Method: GET\r\n\r\n", false);
        yield return ("post", $"POST /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Content-Length: 3\r\n\r\nabc", false);
        yield return ("missing", $"GET /vod/clip/none.m4s HTTP/1.1\r\n{H}\r\n", false);
        yield return ("folder", $"GET /vod/clip/ HTTP/1.1\r\n{H}\r\n", false);
        yield return ("unknown type", $"GET /vod/clip/readme.txt HTTP/1.1\r\n{H}\r\n", false);
        yield return ("not vod", $"GET /healthz HTTP/1.1\r\n{H}\r\n", false);
        yield return ("dot-dot", $"GET /vod/clip/../clip/media.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("encoded dot-dot", $"GET /vod/clip/%2e%2e/clip/media.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("double encoded", $"GET /vod/clip/%252e%252e/x.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("staging", $"GET /vod/.staging-1/master.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("backslash", $"GET /vod/clip\\media.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("encoded name", $"GET /vod/clip/medi%61.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("bare LF", "GET /vod/clip/media.m3u8 HTTP/1.1\nHost: a\n\n", false);
        yield return ("obs-fold", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}X-A: 1\r\n b\r\n\r\n", false);
        yield return ("dup content-length", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Content-Length: 0\r\nContent-Length: 0\r\n\r\n", false);
        yield return ("NUL in header", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}X-A: a\0b\r\n\r\n", false);
        yield return ("NUL in target", $"GET /vod/clip/media\0.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("no host", "GET /vod/clip/media.m3u8 HTTP/1.1\r\n\r\n", false);
        yield return ("two hosts", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}{H}\r\n", false);
        yield return ("bad host", "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a b\r\n\r\n", false);
        yield return ("bad method", $"G@T /vod/clip/media.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("unknown method", $"BREW /vod/clip/media.m3u8 HTTP/1.1\r\n{H}\r\n", false);
        yield return ("bad version", $"GET /vod/clip/media.m3u8 HTTP/1.2\r\n{H}\r\n", false);
        yield return ("space before colon", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}X-A : 1\r\n\r\n", false);
        yield return ("long uri", $"GET /vod/clip/{new string('a', 9000)}.m4s HTTP/1.1\r\n{H}\r\n", false);
        yield return ("big headers", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}X-Big: {new string('b', 40000)}\r\n\r\n", false);
        yield return ("many headers", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}{string.Concat(Enumerable.Repeat("X-N: 1\r\n", 120))}\r\n", false);
        yield return ("chunked GET", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false);
        yield return ("absolute form", "GET http://localhost/vod/clip/media.m3u8 HTTP/1.1\r\nHost: localhost\r\n\r\n", false);
        yield return ("asterisk", $"OPTIONS * HTTP/1.1\r\n{H}\r\n", false);
        yield return ("byte 0x80 in header", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}X-A: a\u0080b\r\n\r\n", false);
        yield return ("byte 0xff in header", $"GET /vod/clip/media.m3u8 HTTP/1.1\r\n{H}X-A: \u00ff\r\n\r\n", false);
        var tags = string.Join(", ", Enumerable.Range(0, 75).Select(i => $"\"old-{i:D4}\""));
        yield return ("if-none-match of 76 tags", $"GET {big} HTTP/1.1\r\n{H}If-None-Match: {tags}, {etag}\r\n\r\n", false);
        yield return ("if-match other", $"GET {big} HTTP/1.1\r\n{H}If-Match: \"other\"\r\n\r\n", false);
        yield return ("if-unmodified-since earlier", $"GET {big} HTTP/1.1\r\n{H}If-Unmodified-Since: {earlier}\r\n\r\n", false);
        yield return ("empty if-range", $"GET {big} HTTP/1.1\r\n{H}Range: bytes=0-9\r\nIf-Range:\r\n\r\n", false);
        yield return ("range past long", $"GET {big} HTTP/1.1\r\n{H}Range: bytes=0-99999999999999999999\r\n\r\n", false);
    }

    [Fact]
    public async Task ZeroCopyPathAndKestrelAnswerEveryRequestAlike()
    {
        await using var server = await RunningServer.StartAsync(tls: true);
        await TestLibrary.PublishAsync(server.DataDir);
        await File.WriteAllTextAsync(Path.Combine(server.DataDir, "vod", "clip", "readme.txt"), "text");

        var first = await SendAsync(server.HttpUri, false, "GET /vod/clip/big.m4s HTTP/1.1\r\nHost: localhost\r\n\r\n", false);
        var etag = first.Response!.Header("ETag")!;
        var lastModified = first.Response.Header("Last-Modified")!;

        var failures = new List<string>();
        var count = 0;
        foreach (var (name, request, head) in Corpus(etag, lastModified))
        {
            count++;
            var raw = await SendAsync(server.HttpUri, false, request, head);
            var kestrel = await SendAsync(server.HttpsUri!, true, request, head);
            if (raw.Response is null || kestrel.Response is null)
            {
                if ((raw.Response is null) != (kestrel.Response is null))
                {
                    failures.Add($"{name}: raw={raw.Response?.ToString() ?? "no response"} kestrel={kestrel.Response?.ToString() ?? "no response"}");
                }

                continue;
            }

            var diffs = new List<string>();
            if (raw.Response.Status != kestrel.Response.Status)
            {
                diffs.Add($"status {raw.Response.Status} vs {kestrel.Response.Status}");
            }

            foreach (var header in ComparedHeaders)
            {
                var a = raw.Response.Header(header);
                var b = kestrel.Response.Header(header);
                if (!string.Equals(a, b, StringComparison.Ordinal))
                {
                    diffs.Add($"{header}: '{a}' vs '{b}'");
                }
            }

            if (raw.Response.BodySha256 != kestrel.Response.BodySha256)
            {
                diffs.Add($"body {raw.Response.Body.Length} B vs {kestrel.Response.Body.Length} B");
            }

            if (raw.Closed != kestrel.Closed)
            {
                diffs.Add($"closed {raw.Closed} vs {kestrel.Closed}");
            }

            if (diffs.Count > 0)
            {
                failures.Add($"{name}: {string.Join("; ", diffs)}");
            }
        }

        Assert.True(count > 60, $"corpus has {count} requests");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static async Task<(RawHttpResponse? Response, bool Closed)> SendAsync(Uri uri, bool tls, string request, bool head)
    {
        await using var c = await RawHttpConnection.OpenAsync(uri, tls);
        await c.SendAsync(Encoding.Latin1.GetBytes(request));
        RawHttpResponse? response;
        try
        {
            response = await c.ReadResponseAsync(head);
        }
        catch (IOException)
        {
            response = null;
        }

        // Only errors and explicit closes are expected to end the connection; keep-alive ones must stay open.
        var expectClose = response is null || response.Status is 400 or 414 or 431 or 505 || response.Header("Connection") == "close";
        if (expectClose)
        {
            return (response, await c.IsClosedByServerAsync(TimeSpan.FromSeconds(3)));
        }

        // Kept alive: proven by a second request answered on the same connection.
        try
        {
            await c.SendAsync("GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());
            return (response, await c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(3)) is null);
        }
        catch (IOException)
        {
            return (response, true);
        }
    }
}
