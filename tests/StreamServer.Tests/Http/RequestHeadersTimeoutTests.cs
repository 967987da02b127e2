using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;

namespace StreamServer.Tests.Http;

/// <summary>
/// A request head that does not complete within RequestHeadersTimeoutSeconds (slowloris) gets what
/// Kestrel answers: 408 with Connection: close, then the connection closes. Both the zero-copy path
/// (cleartext port) and Kestrel's own HTTP/1.1 (TLS port) are asked the same way and must agree.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class RequestHeadersTimeoutTests
{
    [Fact]
    public async Task SlowRequestHeadGets408AndCloseOnBothPaths()
    {
        await using var server = await RunningServer.StartAsync(null, true, "--StreamServer:Http1:RequestHeadersTimeoutSeconds=1");
        await TestLibrary.PublishAsync(server.DataDir);

        var raw = Task.Run(() => TrickleAsync(server.HttpUri, tls: false));
        var kestrel = Task.Run(() => TrickleAsync(server.HttpsUri!, tls: true));
        var (rawResponse, rawClosed, rawSeconds) = await raw;
        var (kestrelResponse, kestrelClosed, _) = await kestrel;

        Assert.NotNull(kestrelResponse);
        Assert.Equal(408, kestrelResponse.Status);
        Assert.NotNull(rawResponse);
        Assert.Equal(kestrelResponse.Status, rawResponse.Status);
        foreach (var header in new[] { "Content-Length", "Connection", "Content-Type", "Transfer-Encoding" })
        {
            Assert.Equal(kestrelResponse.Header(header), rawResponse.Header(header));
        }

        Assert.Equal(kestrelResponse.Body.Length, rawResponse.Body.Length);
        Assert.True(rawClosed && kestrelClosed, $"closed: zero-copy {rawClosed}, kestrel {kestrelClosed}");

        // The clock starts with the head's first byte; trickling more bytes must not extend it. The trickle lasts 12 s, so
        // an answer well before that is the timeout (1 s + Kestrel's 1 s heartbeat + a loaded scheduler), not the trickle's end.
        Assert.InRange(rawSeconds, 0.8, 8.0);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task ConnectionThatSendsNoRequestClosesAfterTheHeadersTimeoutNotTheKeepAliveTimeout(bool tls, bool emptyLines)
    {
        await using var server = await RunningServer.StartAsync(null, true,
            "--StreamServer:Http1:RequestHeadersTimeoutSeconds=1", "--StreamServer:Http1:KeepAliveTimeoutSeconds=60");
        await using var c = await RawHttpConnection.OpenAsync(tls ? server.HttpsUri! : server.HttpUri, tls);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var closed = c.IsClosedByServerAsync(TimeSpan.FromSeconds(15));
        while (emptyLines && !closed.IsCompleted && started.Elapsed < TimeSpan.FromSeconds(15))
        {
            try
            {
                await c.SendAsync("\r\n"u8.ToArray());
            }
            catch (IOException)
            {
                break;
            }

            await Task.WhenAny(closed, Task.Delay(200));
        }

        Assert.True(await closed, $"still open after {started.Elapsed.TotalSeconds:0.0} s");
        Assert.InRange(started.Elapsed.TotalSeconds, 0.5, 10); // the keep-alive timeout would be 60 s
    }

    // Sends a request head a few bytes at a time, never finishing it, until the server answers.
    private static async Task<(RawHttpResponse? Response, bool Closed, double Seconds)> TrickleAsync(Uri uri, bool tls)
    {
        await using var c = await RawHttpConnection.OpenAsync(uri, tls);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var head = "GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: localhost\r\nX-Slow: "u8.ToArray();
        await c.SendAsync(head);
        var reading = c.ReadResponseAsync(timeout: TimeSpan.FromSeconds(15));
        for (var i = 0; i < 80 && !reading.IsCompleted; i++)
        {
            await Task.WhenAny(reading, Task.Delay(150));
            if (!reading.IsCompleted)
            {
                try
                {
                    await c.SendAsync("a"u8.ToArray());
                }
                catch (IOException)
                {
                    break;
                }
            }
        }

        RawHttpResponse? response;
        try
        {
            response = await reading;
        }
        catch (IOException)
        {
            response = null;
        }

        var seconds = started.Elapsed.TotalSeconds;
        return (response, await c.IsClosedByServerAsync(TimeSpan.FromSeconds(3)), seconds);
    }
}
