using System.Diagnostics;
using System.Globalization;
using System.Net;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.ScaleOut;

/// <summary>
/// A caching tier in front of two origins, as docs/scale-out.md describes it: nginx proxy_cache with consistent hashing
/// (by path for the library, by channel for live so a channel's playlists and segments come from the origin that makes
/// them). Players through the cache get the origin's bytes, the origins see each library file once, live playlists are
/// not kept past their max-age, and conditional and range requests answer correctly from the cache.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class CdnCacheTests
{
    private sealed class CacheTier : IAsyncDisposable
    {
        private readonly Process _nginx;

        private CacheTier(Process nginx, TempDir dir, int port)
        {
            _nginx = nginx;
            Dir = dir;
            Uri = new Uri($"http://127.0.0.1:{port}");
        }

        public TempDir Dir { get; }
        public Uri Uri { get; }

        public static async Task<CacheTier> StartAsync(params int[] origins)
        {
            var dir = new TempDir("ss-cdn");
            var port = RunningServer.FreePort();
            var servers = string.Concat(origins.Select(p => $"server 127.0.0.1:{p}; "));
            Directory.CreateDirectory(dir.Combine("tmp"));
            var template = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "ops", "nginx", "cache-tier.conf.template"));
            await File.WriteAllTextAsync(dir.Combine("nginx.conf"), template.Replace("@WORK@", dir.Path, StringComparison.Ordinal)
                .Replace("@WORKERS@", "1", StringComparison.Ordinal).Replace("@LISTEN@", $"127.0.0.1:{port}", StringComparison.Ordinal)
                .Replace("@ORIGINS@", servers, StringComparison.Ordinal));
            var nginx = Process.Start(new ProcessStartInfo("nginx", ["-c", dir.Combine("nginx.conf"), "-p", dir.Path])
            {
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var tier = new CacheTier(nginx, dir, port);
            using var http = new HttpClient();
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    using var _ = await http.GetAsync(new Uri(tier.Uri, "/healthz"));
                    return true;
                }
                catch (HttpRequestException)
                {
                    return nginx.HasExited ? throw new InvalidOperationException("nginx exited: " + await File.ReadAllTextAsync(dir.Combine("error.log"))) : false;
                }
            }, TimeSpan.FromSeconds(15), () => "nginx did not start");
            return tier;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_nginx.HasExited)
            {
                _nginx.Kill(entireProcessTree: true); // the master alone: its workers and cache manager would live on
                await _nginx.WaitForExitAsync();
            }

            _nginx.Dispose();
            Dir.Dispose();
        }
    }

    // Library requests an origin answered (playlists, MPDs, init and media segments, whatever the status).
    private static double Requests(string metrics)
    {
        double total = 0;
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith("streamserver_http_requests_total{", StringComparison.Ordinal)
                && (line.Contains("kind=\"playlist\"", StringComparison.Ordinal) || line.Contains("kind=\"segment\"", StringComparison.Ordinal)
                    || line.Contains("kind=\"init\"", StringComparison.Ordinal) || line.Contains("kind=\"mpd\"", StringComparison.Ordinal)))
            {
                total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    [Fact]
    public async Task Through_a_caching_tier_over_two_origins_players_get_the_origins_bytes_and_each_file_leaves_an_origin_once()
    {
        var missing = Capabilities.MissingTool("nginx", "ffmpeg");
        Assert.SkipWhen(missing is not null, missing ?? "");
        // Two origins with the same library (each its own copy, as two machines would have) and each its test channel.
        using var dataA = new TempDir("ss-origin-a");
        using var dataB = new TempDir("ss-origin-b");
        await TestLibrary.PublishAsync(dataA.Path);
        await TestLibrary.PublishAsync(dataB.Path);
        await using var a = await RunningServer.StartProcessAsync(dataA.Path, "--StreamServer:Live:TestChannel=true");
        await using var b = await RunningServer.StartProcessAsync(dataB.Path, "--StreamServer:Live:TestChannel=true");
        await using var cdn = await CacheTier.StartAsync(a.HttpUri.Port, b.HttpUri.Port);
        using var http = new HttpClient { BaseAddress = cdn.Uri };

        var files = Directory.GetFiles(Path.Combine(dataA.Path, "vod", TestLibrary.Id)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var before = Requests(await a.MetricsAsync()) + Requests(await b.MetricsAsync());
        int hits = 0, fetches = 0;
        for (var player = 0; player < 3; player++)
        {
            foreach (var file in files)
            {
                using var response = await http.GetAsync($"/vod/{TestLibrary.Id}/{file}");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(dataA.Path, "vod", TestLibrary.Id, file!)), await response.Content.ReadAsByteArrayAsync());
                hits += response.Headers.GetValues("X-Cache-Status").Single() == "HIT" ? 1 : 0;
                fetches++;
            }
        }

        var originRequests = Requests(await a.MetricsAsync()) + Requests(await b.MetricsAsync()) - before;
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{fetches} player requests for {files.Count} files: {hits} cache hits ({100.0 * hits / fetches:0.0} %), {originRequests} origin requests"));
        Assert.Equal(files.Count, originRequests);
        Assert.Equal(fetches - files.Count, hits);

        // Conditional and range requests answered from the cache.
        using var first = await http.GetAsync($"/vod/{TestLibrary.Id}/big.m4s");
        var etag = first.Headers.ETag!;
        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"/vod/{TestLibrary.Id}/big.m4s");
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await http.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        using var ranged = new HttpRequestMessage(HttpMethod.Get, $"/vod/{TestLibrary.Id}/big.m4s");
        ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(1000, 1999);
        using var partial = await http.SendAsync(ranged);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal((await TestLibrary.ReadAsync("big.m4s")).AsSpan(1000, 1000).ToArray(), await partial.Content.ReadAsByteArrayAsync());

        // Live: the playlist is not served from the cache past its max-age (1 s, as nginx counts it): its newest segment
        // keeps moving, and every segment it names is there, from the same origin.
        var newestSegments = new List<string>();
        var refreshes = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            using var response = await http.GetAsync("/live/test/video/index.m3u8");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var playlist = await response.Content.ReadAsStringAsync();
                var newest = playlist.Split('\n').LastOrDefault(l => l.EndsWith(".m4s", StringComparison.Ordinal));
                if (response.Headers.GetValues("X-Cache-Status").Single() is "MISS" or "EXPIRED")
                {
                    refreshes.Add(clock.Elapsed.TotalSeconds);
                }
                if (newest is not null)
                {
                    if (newestSegments.Count == 0 || newestSegments[^1] != newest)
                    {
                        newestSegments.Add(newest);
                    }

                    using var segment = await http.GetAsync("/live/test/video/" + newest);
                    Assert.Equal(HttpStatusCode.OK, segment.StatusCode);
                }
            }

            await Task.Delay(250);
        }

        Assert.True(newestSegments.Count >= 3, $"the live playlist did not move through the cache: {string.Join(',', newestSegments)}");
        // nginx keeps time in whole seconds, so max-age=1 holds a copy for up to 2 s (plus this loop's 250 ms polling).
        var longest = 0.0;
        for (var i = 1; i < refreshes.Count; i++)
        {
            longest = Math.Max(longest, refreshes[i] - refreshes[i - 1]);
        }

        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"live playlist: {refreshes.Count} refreshes from the origin in 10 s, longest served from the cache {longest:0.00} s"));
        Assert.InRange(longest, 0.5, 2.6);
    }
}
