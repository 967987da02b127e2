using StreamServer.BufferPool;
using StreamServer.TestSupport;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Transcode.Tests.Thumbnails;

/// <summary>On-demand thumbnails decode into the server's buffer pool and give it back between requests.</summary>
public sealed class ThumbnailsPoolFramesTests
{
    [Fact]
    public async Task Frames_come_from_the_pool_and_an_opened_source_holds_none_between_requests()
    {
        using var dir = new TempDir("thumbs-pool");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 2, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-g", "25", "-x264-params", "bframes=3:b-pyramid=normal:b-adapt=0"]);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { CapacityBytes = 32L * 1024 * 1024 });
        var memory = new PooledFrameMemory(pool);
        using var service = new ThumbnailService(new ThumbnailServiceOptions { CacheEntries = 0, MaxConcurrentRenders = 1, FrameMemory = memory });

        foreach (var t in new[] { 1.52, 0.2, 1.96 })
        {
            var before = pool.GetStatistics().Allocations;
            var thumb = await service.GetAsync("v", clip, t, 160, 75);

            Assert.Equal((160, 120), (thumb.Width, thumb.Height));
            var stats = pool.GetStatistics();
            Assert.True(stats.Allocations > before, $"t={t}: no frame came from the pool");
            Assert.Equal(0, stats.LeasedBytes); // decoder flushed, scaled frame released: the source is idle
        }

        Assert.Equal(1, service.OpenSources);
        Assert.Equal(0, memory.UnpooledRents);
    }

    [Fact]
    public async Task A_full_pool_fails_the_render_as_out_of_memory_after_the_rent_timeout_and_the_next_one_works()
    {
        using var dir = new TempDir("thumbs-pool-full");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 1, width: 320, height: 240, audio: false);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { CapacityBytes = 16L * 1024 * 1024 });
        var memory = new PooledFrameMemory(pool, TimeSpan.FromMilliseconds(100));
        using var service = new ThumbnailService(new ThumbnailServiceOptions { CacheEntries = 0, MaxConcurrentRenders = 1, FrameMemory = memory });
        var held = new List<BufferLease>();
        while (pool.TryRent(FrameSizes.Yuv420(320, 240), out var lease))
        {
            held.Add(lease); // every block a 240p frame may use is taken (packaging jobs holding the pool)
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TranscodeException>(async () => await service.GetAsync("v", clip, 0.5, 160, 75));
        Assert.True(e.IsOutOfMemory, e.Message);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");

        foreach (var lease in held)
        {
            lease.Release();
        }

        // Requests right after a refusal are refused at once (no render queue waiting out the rent timeout one by one);
        // past that short back-off the next render works.
        await Assert.ThrowsAsync<TranscodeException>(async () => await service.GetAsync("v", clip, 0.6, 160, 75));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var thumb = await service.GetAsync("v", clip, 0.5, 160, 75);
        Assert.Equal((160, 120), (thumb.Width, thumb.Height));
        Assert.Equal(0, pool.GetStatistics().LeasedBytes);
    }
}
