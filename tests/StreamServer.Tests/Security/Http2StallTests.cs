using System.Diagnostics;
using System.Globalization;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Security;

/// <summary>
/// 32 connections x 100 streams for a 1 MiB segment whose flow-control window is never opened (h2c and h2): the memory
/// they pin stays bounded, every connection gets GOAWAY and is closed within the send timeout plus 10 s, memory goes
/// back near its baseline afterwards, and a normal client's segment downloads stay fast meanwhile.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class Http2StallTests(ITestOutputHelper output)
{
    private const int SendTimeoutSeconds = 10;
    private const long MiB = 1024 * 1024;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stalled_streams_pin_bounded_memory_and_their_connections_are_closed(bool tls)
    {
        var missing = Capabilities.MissingTool("curl");
        Assert.SkipWhen(missing is not null, missing ?? "");
        using var data = new TempDir("ss-stall-h2");
        await TestLibrary.PublishAsync(data.Path);
        var tlsPort = RunningServer.FreePort();
        await using var server = await RunningServer.StartProcessAsync(data.Path, $"--StreamServer:HttpsPort={tlsPort}",
            $"--StreamServer:Transport:SendTimeoutSeconds={SendTimeoutSeconds}", "--Logging:LogLevel:StreamServer.Transport=Information");
        var uri = tls ? new Uri($"https://127.0.0.1:{tlsPort}/") : server.HttpUri;
        var segment = new Uri(uri, "/vod/clip/big.m4s").ToString();

        // Warm-up and baseline: JIT, TLS, the file cache, a pool grown for normal traffic.
        var normal = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            normal.Add(await TimedDownloadAsync(segment, tls));
        }

        var baselineRss = await Eventually.SettledAsync(() => Task.FromResult(server.ResidentBytes()), MiB, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(15));
        var baselinePool = await PoolBytesAsync(server);

        var opened = Stopwatch.StartNew();
        var clients = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => StalledHttp2Client.OpenAsync(uri, tls, "/vod/clip/big.m4s", 100)));
        try
        {
            var peakRss = baselineRss;
            var peakPool = baselinePool;
            var during = new List<double>();
            while (clients.Any(c => c.ClosedAt is null) && opened.Elapsed < TimeSpan.FromSeconds(SendTimeoutSeconds + 15))
            {
                peakRss = Math.Max(peakRss, server.ResidentBytes());
                peakPool = Math.Max(peakPool, await PoolBytesAsync(server));
                if (during.Count < 5)
                {
                    during.Add(await TimedDownloadAsync(segment, tls));
                }
                else
                {
                    await Task.Delay(250);
                }
            }

            var closedAfter = opened.Elapsed.TotalSeconds;
            output.WriteLine($"{(tls ? "h2" : "h2c")}: RSS baseline {baselineRss / MiB} MiB, peak {peakRss / MiB} MiB; pool {baselinePool / MiB} -> {peakPool / MiB} MiB; all closed after {closedAfter:0.0} s; " +
                $"normal download {Median(normal) * 1000:0} ms before, {Median(during) * 1000:0} ms during; data sent to stalled clients {clients.Sum(c => c.DataBytes) / 1024} KiB");
            Assert.True(peakRss - baselineRss < 64 * MiB, $"RSS grew {(peakRss - baselineRss) / MiB} MiB");
            Assert.All(clients, c => Assert.NotNull(c.ClosedAt));
            Assert.True(closedAfter < SendTimeoutSeconds + 10, $"closed after {closedAfter:0.0} s");
            Assert.All(clients, c => Assert.NotNull(c.GoAwayError));
            Assert.True(Median(during) < Math.Max(0.5, Median(normal) * 5), $"normal downloads {Median(during):0.000} s during the stall vs {Median(normal):0.000} s before");
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }

        // Memory back near its baseline within 30 s: the pool drops blocks that stayed idle.
        var back = Stopwatch.StartNew();
        long rss, pool;
        do
        {
            await Task.Delay(1000);
            rss = server.ResidentBytes();
            pool = await PoolBytesAsync(server);
        }
        while ((rss - baselineRss > 32 * MiB || pool - baselinePool > 32 * MiB) && back.Elapsed < TimeSpan.FromSeconds(30));

        output.WriteLine($"after {back.Elapsed.TotalSeconds:0} s: RSS {rss / MiB} MiB (baseline {baselineRss / MiB}), pool {pool / MiB} MiB (baseline {baselinePool / MiB})");
        Assert.True(rss - baselineRss <= 32 * MiB, $"RSS {rss / MiB} MiB vs baseline {baselineRss / MiB} MiB");
        Assert.True(pool - baselinePool <= 32 * MiB, $"pool {pool / MiB} MiB vs baseline {baselinePool / MiB} MiB");
        Assert.Contains("closing it", server.Output, StringComparison.Ordinal);
        var log = server.Output;
        var failAt = log.IndexOf("fail:", StringComparison.Ordinal);
        Assert.True(failAt < 0, failAt < 0 ? "" : log[failAt..Math.Min(log.Length, failAt + 1500)]);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }

    private static async Task<long> PoolBytesAsync(RunningServer server)
    {
        var metrics = await server.MetricsAsync();
        return (long)(RunningServer.Sample(metrics, "streamserver_transport_pool_bytes{state=\"rented\"}")
            + RunningServer.Sample(metrics, "streamserver_transport_pool_bytes{state=\"free\"}"));
    }

    private static async Task<double> TimedDownloadAsync(string url, bool tls)
    {
        var result = await ProcessRunner.RunAsync("curl",
            ["-s", "-k", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", tls ? "--http2" : "--http2-prior-knowledge", url], TimeSpan.FromSeconds(30));
        result.EnsureSuccess("curl");
        var parts = result.StdOut.Trim().Split(' ');
        Assert.Equal(1_048_576 + 333, long.Parse(parts[1], CultureInfo.InvariantCulture));
        return double.Parse(parts[0], CultureInfo.InvariantCulture);
    }
}
