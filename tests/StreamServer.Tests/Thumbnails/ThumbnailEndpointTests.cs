using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using StreamServer.BufferPool;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;
using StreamServer.Transcode;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Tests.Thumbnails;

/// <summary>A VOD packaged by the real packager (with poster/sprites) into a running server's library.</summary>
public sealed class PackagedVodFixture : IAsyncLifetime
{
    public const string Id = "thumbclip";

    private readonly TempDir _dir = new("ss-thumbs");

    public string DataDir => _dir.Combine("data");

    public string Clip => _dir.Combine("clip.mp4");

    public TempDir Temp => _dir;

    public async ValueTask InitializeAsync()
    {
        await TestMedia.GenerateAsync(Clip, seconds: 4, width: 320, height: 240, fps: 25);
        using var images = new VodImageSink(new VodImageOptions { Sprites = new SpriteSheetOptions { IntervalSeconds = 1 } });
        var options = new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 1, FrameSinks = [images] };
        await Packager.PackageAsync(Clip, Path.Combine(DataDir, "vod", Id), options, null, CancellationToken.None);
    }

    public ValueTask DisposeAsync()
    {
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

[Collection(ServerTestsCollection.Name)]
public sealed class ThumbnailEndpointTests(PackagedVodFixture vod) : IClassFixture<PackagedVodFixture>
{
    [Fact]
    public async Task Renders_decode_into_the_buffer_pool_and_a_full_pool_gets_503_with_retry_after_not_a_hang()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, false,
            "--StreamServer:BufferPoolMegabytes=32", "--StreamServer:BufferPoolRentTimeoutMilliseconds=100");
        using var http = server.CreateHttpClient();
        var pool = server.Services.GetRequiredService<MemfdBufferPool>();
        var leasedAtRest = pool.GetStatistics().LeasedBytes;
        var allocations = pool.GetStatistics().Allocations;

        using (var ok = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=0.5&w=160"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.True(pool.GetStatistics().Allocations > allocations, "the render's frames did not come from the server's pool");
        Assert.Equal(leasedAtRest, pool.GetStatistics().LeasedBytes); // the opened rendition holds no frames

        var held = new List<BufferLease>();
        while (pool.TryRent(FrameSizes.Yuv420(320, 240), out var lease))
        {
            held.Add(lease); // what packaging jobs would hold on a busy server
        }

        try
        {
            using var busy = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=1.5&w=160");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.NotNull(busy.Headers.RetryAfter);
            Assert.Contains("buffer pool", await busy.Content.ReadAsStringAsync());
        }
        finally
        {
            foreach (var lease in held)
            {
                lease.Release();
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(1)); // as a client told "Retry-After" would
        using var again = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=1.5&w=160");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(leasedAtRest, pool.GetStatistics().LeasedBytes);
    }

    [Fact]
    public async Task Under_a_burst_of_renders_a_small_pool_fails_fast_with_retry_after_and_recovers_when_it_passes()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, false,
            "--StreamServer:BufferPoolMegabytes=32", "--StreamServer:BufferPoolRentTimeoutMilliseconds=50");
        using var http = server.CreateHttpClient();
        var pool = server.Services.GetRequiredService<MemfdBufferPool>();
        var leasedAtRest = pool.GetStatistics().LeasedBytes;

        // A busy server: packaging holds all but two frames' worth of the pool; then 40 renders arrive at once, each at
        // a different time (no cache hits).
        var held = new List<BufferLease>();
        while (pool.TryRent(FrameSizes.Yuv420(320, 240), out var lease))
        {
            held.Add(lease);
        }

        for (var i = 0; i < 2; i++)
        {
            held[^1].Release();
            held.RemoveAt(held.Count - 1);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            using var response = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t={0.05 * i:0.00}&w=160");
            return (response.StatusCode, RetryAfter: response.Headers.RetryAfter is not null);
        }));
        var elapsed = clock.Elapsed;
        var busy = answers.Count(a => a.StatusCode == HttpStatusCode.ServiceUnavailable);
        TestContext.Current.TestOutputHelper?.WriteLine($"40 renders at once: {answers.Count(a => a.StatusCode == HttpStatusCode.OK)} rendered, {busy} refused with 503, in {elapsed.TotalSeconds:0.0} s");
        Assert.All(answers, a => Assert.True(a.StatusCode == HttpStatusCode.OK || (a.StatusCode == HttpStatusCode.ServiceUnavailable && a.RetryAfter), $"{a}"));
        Assert.True(busy > 0, "the pool never ran out: the burst did not test anything");
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"the burst took {elapsed.TotalSeconds:0.0} s: refusals are not fast");

        // The load gone: every render succeeds again and the pool is back to rest.
        foreach (var lease in held)
        {
            lease.Release();
        }

        await Task.Delay(TimeSpan.FromSeconds(1)); // as a client told "Retry-After" would

        for (var i = 0; i < 5; i++)
        {
            using var again = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t={1 + (0.1 * i):0.0}&w=160");
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        Assert.Equal(leasedAtRest, pool.GetStatistics().LeasedBytes);
    }

    [Fact]
    public async Task A_request_wider_than_the_rendition_gets_its_width_and_shares_its_cache_entry()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: false);
        using var http = server.CreateHttpClient();
        var thumbnails = server.Services.GetRequiredService<ThumbnailService>();

        using var wide = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=1&w=3840");
        using var exact = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=1&w=320");

        Assert.Equal(HttpStatusCode.OK, wide.StatusCode);
        Assert.Equal(HttpStatusCode.OK, exact.StatusCode);
        using (var decoder = new JpegDecoder())
        {
            var info = decoder.ReadHeader(await wide.Content.ReadAsByteArrayAsync());
            Assert.Equal((320, 240), (info.Width, info.Height)); // the 240p rendition's size, not an upscale
        }

        Assert.Equal(wide.Headers.ETag, exact.Headers.ETag);
        Assert.Equal(1, thumbnails.Renders);
        Assert.Equal(1, thumbnails.Cache.Count);
    }

    [Fact]
    public async Task Thumb_is_the_frame_at_t_scaled_with_the_aspect_kept_and_revalidates_by_etag()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: false);
        using var http = server.CreateHttpClient();

        using var response = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=2.52&w=160&q=90");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag.IsWeak);
        var jpeg = await response.Content.ReadAsByteArrayAsync();
        using (var decoder = new JpegDecoder())
        {
            var info = decoder.ReadHeader(jpeg);
            Assert.Equal((160, 120), (info.Width, info.Height));
        }

        var path = vod.Temp.Combine("served.jpg");
        await File.WriteAllBytesAsync(path, jpeg);
        var same = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(vod.Clip, 2.52, 160, vod.Temp.Combine("ref.y4m")));
        var other = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(vod.Clip, 1.2, 160, vod.Temp.Combine("other.y4m")));
        Assert.True(same > 0.9, $"SSIM against ffmpeg's frame at 2.52 s: {same}");
        Assert.True(same > other, $"matches the frame at 1.2 s ({other}) better than the one at 2.52 s ({same})");

        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=2.52&w=160&q=90");
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await http.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=2.52&w=160&q=90"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(jpeg.Length, head.Content.Headers.ContentLength);
        Assert.Equal(etag, head.Headers.ETag);
    }

    [Theory]
    [InlineData("t=1&q=0", 400, "q must be 1-100")]
    [InlineData("t=1&q=101", 400, "q must be 1-100")]
    [InlineData("t=1&q=high", 400, "q must be an integer")]
    [InlineData("t=1&w=15", 400, "w must be 16-3840 pixels")]
    [InlineData("t=1&w=3841", 400, "w must be 16-3840 pixels")]
    [InlineData("t=1&w=1.5", 400, "w must be an integer")]
    [InlineData("t=-0.5", 400, "t must not be negative")]
    [InlineData("t=abc", 400, "t must be a number of seconds")]
    [InlineData("t=NaN", 400, "t must be a number of seconds")]
    [InlineData("t=Infinity", 400, "t must be a number of seconds")]
    [InlineData("t=1e400", 400, "t must be a number of seconds")]
    [InlineData("t=", 400, "t is empty")]
    [InlineData("w=160", 400, "missing t (seconds into the video)")]
    [InlineData("t=1&t=2", 400, "t given more than once")]
    [InlineData("t=99", 400, "past the end of the video")]
    [InlineData("t=4.5", 400, "past the end of the video")]
    public async Task Bad_parameters_get_a_400_with_a_one_line_reason(string query, int status, string reason)
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: false);
        using var http = server.CreateHttpClient();

        using var response = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?{query}");

        Assert.Equal(status, (int)response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains(reason, body);
        Assert.Single(body.TrimEnd('\n').Split('\n'));

        // The server keeps serving good requests afterwards.
        using var ok = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=1");
        Assert.True(ok.IsSuccessStatusCode, await ok.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Theory]
    [InlineData("/vod/nosuchvod/thumb.jpg?t=1", 404)]
    [InlineData("/vod/has.dot/thumb.jpg?t=1", 404)]
    [InlineData("/vod/-dash/thumb.jpg?t=1", 404)]
    [InlineData("/vod/nosuchvod/thumb.jpg?t=1&q=0", 400)] // parameters are checked first
    [InlineData("/vod/bad%20id/thumb.jpg?t=1", 400)] // refused by the VOD path decoder before routing
    public async Task Unknown_ids_get_a_404(string url, int status)
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: false);
        using var http = server.CreateHttpClient();

        using var response = await http.GetAsync(url);

        Assert.Equal(status, (int)response.StatusCode);
    }

    [Fact]
    public async Task Poster_vtt_and_sprites_are_served_and_thumbs_work_over_h2()
    {
        await using var server = await RunningServer.StartAsync(vod.DataDir, tls: true);
        using var http = server.CreateHttpClient();
        using var h2 = server.CreateHttp2Client();

        using var poster = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/poster.jpg");
        Assert.Equal(HttpStatusCode.OK, poster.StatusCode);
        Assert.Equal("image/jpeg", poster.Content.Headers.ContentType?.MediaType);
        using var vtt = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumbnails.vtt");
        Assert.Equal(HttpStatusCode.OK, vtt.StatusCode);
        var text = await vtt.Content.ReadAsStringAsync();
        Assert.StartsWith("WEBVTT", text);
        Assert.Contains("sprite_000.jpg#xywh=0,0,160,120", text);
        using var sprite = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/sprite_000.jpg");
        Assert.Equal(HttpStatusCode.OK, sprite.StatusCode);

        using var thumb = await h2.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=0.5&w=320&q=75");
        Assert.Equal(HttpVersion.Version20, thumb.Version);
        Assert.Equal(HttpStatusCode.OK, thumb.StatusCode);
        using var bad = await h2.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=0.5&w=320&q=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Deleting_a_published_vod_purges_its_cached_thumbnails_and_opened_rendition()
    {
        // A copy of the fixture's VOD in a library of its own: the other tests keep theirs.
        using var data = new TempDir("ss-thumbs-delete");
        var folder = Path.Combine(data.Path, "vod", PackagedVodFixture.Id);
        CopyTree(Path.Combine(vod.DataDir, "vod", PackagedVodFixture.Id), folder);
        await using var server = await RunningServer.StartAsync(data.Path, tls: false);
        using var http = server.CreateHttpClient();
        using var admin = server.CreateAdminClient();
        var thumbnails = server.Services.GetRequiredService<ThumbnailService>();

        using (var thumb = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=1.5&w=160"))
        {
            Assert.Equal(HttpStatusCode.OK, thumb.StatusCode);
        }

        Assert.Equal(1, thumbnails.Cache.Count);
        Assert.Equal(1, thumbnails.OpenSources);

        using var deleted = await admin.DeleteAsync($"/api/vod/{PackagedVodFixture.Id}");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(0, thumbnails.Cache.Count);
        Assert.Equal(0, thumbnails.OpenSources);
        Assert.False(Directory.Exists(folder));

        // The retired copy (dot-prefixed, never served) is deleted in the background: nothing may be left.
        var library = Path.Combine(data.Path, "vod");
        for (var i = 0; i < 100 && Directory.EnumerateFileSystemEntries(library).Any(); i++)
        {
            await Task.Delay(50);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(library));
        using var gone = await http.GetAsync($"/vod/{PackagedVodFixture.Id}/thumb.jpg?t=1.5&w=160");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var job = await admin.GetAsync($"/api/vod/{PackagedVodFixture.Id}");
        Assert.Equal(HttpStatusCode.NotFound, job.StatusCode);
        using var again = await admin.DeleteAsync($"/api/vod/{PackagedVodFixture.Id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var dir in Directory.EnumerateDirectories(from))
        {
            CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
        }
    }

    [Fact]
    public async Task Packaging_jobs_publish_poster_sprites_vtt_and_an_image_adaptation_set()
    {
        using var data = new TempDir("ss-thumbs-sample");
        await using var server = await RunningServer.StartAsync(data.Path, tls: false, "--StreamServer:GenerateSample=true",
            "--StreamServer:SampleSeconds=2", "--StreamServer:Packaging:Preset=ultrafast", "--StreamServer:Thumbnails:SpriteIntervalSeconds=1");
        var master = Path.Combine(data.Path, "vod", "sample", "master.m3u8");
        for (var i = 0; i < 240 && !File.Exists(master); i++)
        {
            await Task.Delay(500);
        }

        Assert.True(File.Exists(master), "the embedded sample was not published in 2 minutes");
        using var http = server.CreateHttpClient();
        var poster = await http.GetByteArrayAsync("/vod/sample/poster.jpg");
        using (var decoder = new JpegDecoder())
        {
            Assert.Equal((1280, 720), (decoder.ReadHeader(poster).Width, decoder.ReadHeader(poster).Height));
        }

        var vtt = await http.GetStringAsync("/vod/sample/thumbnails.vtt");
        Assert.Contains("sprite_000.jpg#xywh=160,0,160,90", vtt);
        var mpd = await http.GetStringAsync("/vod/sample/manifest.mpd");
        Assert.Contains("http://dashif.org/thumbnail_tile", mpd);
        using var thumb = await http.GetAsync("/vod/sample/thumb.jpg?t=1&w=640");
        Assert.Equal(HttpStatusCode.OK, thumb.StatusCode);
    }
}
