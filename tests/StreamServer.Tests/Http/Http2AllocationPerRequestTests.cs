using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;
using StreamServer.Transport;

namespace StreamServer.Tests.Http;

/// <summary>
/// Managed bytes the whole process allocates per HTTP/2 request (Kestrel's HTTP/2 stack + our file
/// middleware): h2c with prior knowledge on the cleartext port and h2 over TLS. The client is h2load,
/// a separate process, so everything GC.GetTotalAllocatedBytes counts here is the server's (and the
/// test runner's background work). On failure the message names the allocating types.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class Http2AllocationPerRequestTests
{
    private const long Budget = 256;

    // 1 MiB segments measure ~150-500 B per request here (from ~15 KB / ~7.5 KB), depending on load and on how much
    // of one connection's setup a 1000-request window carries; what is left is Kestrel's own (see the report). The
    // bar sits above that noise and below the regressions it guards: heap iovec arrays back (~+450 B), one flush
    // wait per request back (~+400 B), chunked flushing back (~+7 KB).
    private const long SegmentBudget = 768;
    private const int Requests = 20_000;
    private const int SegmentRequests = 1000;
    private const int SegmentStreams = 16;

    [Fact]
    public async Task H2cAndH2PlaylistsAllocateWithinBudget()
    {
        var missing = Capabilities.MissingTool("h2load");
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var server = await RunningServer.StartAsync(tls: true);
        await TestLibrary.PublishAsync(server.DataDir);
        using var sampler = new AllocationSampler();
        var h2c = new Uri(server.HttpUri, "/vod/clip/media.m3u8").ToString();
        var h2 = new Uri(server.HttpsUri!, "/vod/clip/media.m3u8").ToString();

        // Warm-up: JIT tiering, connection pools, the file cache, metric series.
        await H2Load(h2c, 4000);
        await H2Load(h2, 4000);

        // Best of two windows: a background burst in the test process (tiered JIT, a timer) can land in
        // one; a real per-request allocation shows in both.
        var viaH2c = double.MaxValue;
        var viaH2 = double.MaxValue;
        for (var round = 0; round < 2; round++)
        {
            viaH2c = Math.Min(viaH2c, await Measure(h2c, round == 0 ? sampler : null));
            viaH2 = Math.Min(viaH2, await Measure(h2, round == 0 ? sampler : null));
        }

        Assert.True(viaH2c <= Budget && viaH2 <= Budget,
            $"allocated per request: h2c {viaH2c:F1} B, h2 {viaH2:F1} B (budget {Budget} B); sampled types per request:{sampler.Report()}");

        // Operators see the same figure: the gauge covers the interval between two scrapes.
        using var client = server.CreateHttpClient();
        await Scrape(client);
        await H2Load(h2c, Requests);
        var exposed = await Scrape(client);
        Assert.True(exposed <= Budget, $"streamserver_http_allocated_bytes_per_request = {exposed:F1} B after an h2c run (budget {Budget} B)");
    }

    /// <summary>
    /// 1 MiB segments: the body is read into the stream's pooled pipe whole (no flush that waits, so no task state
    /// per request) and leaves through our own gathered sendmsg (no heap iovec arrays for many-block sends). One
    /// connection with 16 streams, as a player fetching segments ahead on its one h2 connection.
    /// </summary>
    [Fact]
    public async Task H2cAndH2SegmentsAllocateWithinBudget()
    {
        var missing = Capabilities.MissingTool("h2load");
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var server = await RunningServer.StartAsync(tls: true);
        await TestLibrary.PublishAsync(server.DataDir);
        using var sampler = new AllocationSampler();
        var h2c = new Uri(server.HttpUri, "/vod/clip/big.m4s").ToString();
        var h2 = new Uri(server.HttpsUri!, "/vod/clip/big.m4s").ToString();

        // Warm-up: JIT, the transport pool grown to what 16 whole bodies in flight need, Kestrel's stream pools.
        await H2Load(h2c, SegmentRequests, SegmentStreams);
        await H2Load(h2, SegmentRequests, SegmentStreams);

        // Blocks the transport pool creates when the bytes in flight reach a new peak are kept and reused, not
        // per-request garbage: they are counted apart. A second window only if the first is over budget (a
        // background burst lands in one window, a real per-request allocation in both).
        var pool = server.Services.GetRequiredService<TransportMemoryAccounting>();
        var (viaH2c, h2cGrowth) = await MeasureSegments(h2c, sampler, pool);
        var (viaH2, h2Growth) = await MeasureSegments(h2, sampler, pool);
        if (viaH2c > SegmentBudget)
        {
            (viaH2c, h2cGrowth) = Min((viaH2c, h2cGrowth), await MeasureSegments(h2c, null, pool));
        }

        if (viaH2 > SegmentBudget)
        {
            (viaH2, h2Growth) = Min((viaH2, h2Growth), await MeasureSegments(h2, null, pool));
        }

        var report = $"allocated per 1 MiB segment: h2c {viaH2c:F1} B, h2 {viaH2:F1} B (budget {SegmentBudget} B; transport pool growth "
            + $"{h2cGrowth:F1} / {h2Growth:F1} B per request not included); sampled types per request (pool blocks are byte[]):{sampler.Report()}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(viaH2c <= SegmentBudget && viaH2 <= SegmentBudget, report);
    }

    private static (double PerRequest, double PoolGrowth) Min((double PerRequest, double PoolGrowth) a, (double PerRequest, double PoolGrowth) b)
        => a.PerRequest <= b.PerRequest ? a : b;

    private static async Task<(double PerRequest, double PoolGrowth)> MeasureSegments(string url, AllocationSampler? sampler, TransportMemoryAccounting pool)
    {
        var poolBefore = pool.TotalBytes;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        sampler?.Start(url, SegmentRequests);
        await H2Load(url, SegmentRequests, SegmentStreams);
        sampler?.Stop();
        var growth = pool.TotalBytes - poolBefore;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before - Math.Max(0, growth);
        return ((double)allocated / SegmentRequests, (double)growth / SegmentRequests);
    }

    private static async Task<double> Scrape(HttpClient client)
    {
        const string Name = "streamserver_http_allocated_bytes_per_request ";
        var text = await client.GetStringAsync("/metrics");
        var at = text.IndexOf("\n" + Name, StringComparison.Ordinal);
        Assert.True(at >= 0, "metric missing from /metrics");
        var start = at + 1 + Name.Length;
        return double.Parse(text.AsSpan(start, text.IndexOf('\n', start) - start), CultureInfo.InvariantCulture);
    }

    private static async Task<double> Measure(string url, AllocationSampler? sampler)
    {
        sampler?.Start(url, Requests);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await H2Load(url, Requests);
        var after = GC.GetTotalAllocatedBytes(precise: true);
        sampler?.Stop();
        return (double)(after - before) / Requests;
    }

    // Few connections with several streams each, as players multiplex on one h2 connection: the
    // per-stream costs dominate, connection setup (TLS handshake) is spread over thousands of requests.
    // streams > 0: one connection with that many concurrent streams.
    private static async Task H2Load(string url, int requests, int streams = 0)
    {
        string[] shape = streams > 0 ? ["-c", "1", "-m", streams.ToString(CultureInfo.InvariantCulture)] : ["-c", "4", "-m", "8"];
        var result = await ProcessRunner.RunAsync("h2load", ["-n", requests.ToString(CultureInfo.InvariantCulture), .. shape, "-t", "1", url],
            TimeSpan.FromSeconds(60));
        result.EnsureSuccess("h2load");
        Assert.Contains($"{requests} succeeded", result.StdOut, StringComparison.Ordinal);
    }
}
