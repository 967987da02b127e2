using System.Globalization;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Http;

/// <summary>
/// HTTP/2 clients (h2c and h2 over TLS) that vanish mid-body must leave no descriptor and no transport memory behind:
/// the send path (our own sendmsg loop under Kestrel's HTTP/2 stack) ends with the connection, whether the socket
/// reports the reset or the wait for writability times out.
/// </summary>
[Collection(Infrastructure.ServerTestsCollection.Name)]
public class AbortedHttp2DownloadTests
{
    [Fact]
    public async Task AbortedH2cAndH2DownloadsLeaveDescriptorsAndTransportMemoryAtBaseline()
    {
        var missing = Capabilities.MissingTool("curl");
        Assert.SkipWhen(missing is not null, missing ?? "");
        using var data = new TempDir("ss-abort-h2");
        await TestLibrary.PublishAsync(data.Path);
        var tlsPort = RunningServer.FreePort();
        await using var server = await RunningServer.StartProcessAsync(data.Path, $"--StreamServer:HttpsPort={tlsPort}", "--StreamServer:Transport:SendTimeoutSeconds=3");
        var h2c = new Uri(server.HttpUri, "/vod/clip/big.m4s").ToString();
        var h2 = $"https://127.0.0.1:{tlsPort}/vod/clip/big.m4s";
        var length = (await TestLibrary.ReadAsync("big.m4s")).Length;

        // Warm-up: TLS, the file cache, the writable waiter and the abort paths exist before the baseline.
        Assert.Equal(length, await DownloadAsync(h2c, abort: false));
        Assert.Equal(length, await DownloadAsync(h2, abort: false));
        await DownloadAsync(h2c, abort: true);
        await DownloadAsync(h2, abort: true);
        await Eventually.TrueAsync(async () => RunningServer.Sample(await server.MetricsAsync(), "streamserver_transport_pool_bytes{state=\"rented\"}") == 0,
            TimeSpan.FromSeconds(15), () => "warm-up transport blocks still rented");
        var baseline = await server.SteadyDescriptorsAsync();

        // Slow readers (20 KB/s) that give up after 0.3 s, ten at a time: the server is mid-body, its socket full.
        for (var batch = 0; batch < 4; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 10).Select(i => DownloadAsync(i % 2 == 0 ? h2c : h2, abort: true)));
        }

        var deadline = DateTime.UtcNow.AddSeconds(15);
        int fds;
        double rented;
        while (true)
        {
            var metrics = await server.MetricsAsync();
            rented = RunningServer.Sample(metrics, "streamserver_transport_pool_bytes{state=\"rented\"}");
            fds = server.OpenDescriptors();
            if ((fds <= baseline && rented == 0) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.True(fds <= baseline, $"open descriptors {fds}, baseline {baseline}");
        Assert.Equal(0, rented);
        Assert.DoesNotContain("fail:", server.Output, StringComparison.Ordinal);

        // And it still serves whole segments on both.
        Assert.Equal(length, await DownloadAsync(h2c, abort: false));
        Assert.Equal(length, await DownloadAsync(h2, abort: false));
    }

    /// <summary>curl over HTTP/2 (prior knowledge for http://); returns the bytes received.</summary>
    private static async Task<long> DownloadAsync(string url, bool abort)
    {
        List<string> args = ["-s", "-k", "-o", "/dev/null", "-w", "%{size_download}", url.StartsWith("https", StringComparison.Ordinal) ? "--http2" : "--http2-prior-knowledge"];
        if (abort)
        {
            args.AddRange(["--limit-rate", "20k", "--max-time", "0.3"]);
        }

        var result = await ProcessRunner.RunAsync("curl", [.. args, url], TimeSpan.FromSeconds(30));
        if (!abort)
        {
            result.EnsureSuccess("curl");
        }

        return long.Parse(result.StdOut.Trim(), CultureInfo.InvariantCulture);
    }
}
