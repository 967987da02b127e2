using StreamServer.BufferPool;
using StreamServer.TestSupport;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Tests.Media;

namespace StreamServer.Transcode.Tests.Packaging;

/// <summary>Muxer output: every segment is assembled in buffer-pool memory and written to its file once.</summary>
[Collection(FrameCopyMetricsCollection.Name)] // exact values of the process-wide segment bytes counter
public class SegmentOutputTests
{
    [Fact]
    public async Task Segments_are_assembled_in_the_given_pool_written_once_and_every_lease_returns()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 3, width: 320, height: 240, fps: 25);
        // Frames stay in FFmpeg's allocator here, so every rent of this pool is segment output.
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "segments-test", CapacityBytes = 32L * 1024 * 1024 });
        using var bytes = new TranscodeCounters();

        var options = new PackagingOptions { Ladder = [240, 144], Preset = "ultrafast", SegmentSeconds = 1, SegmentPool = pool };
        var result = await Packager.PackageAsync(clip, dir.Combine("out"), options, null, TestContext.Current.CancellationToken);

        var files = Directory.GetFiles(result.OutputDirectory, "*.m4s", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(result.OutputDirectory, "init.mp4", SearchOption.AllDirectories)).ToArray();
        var onDisk = files.Sum(f => new FileInfo(f).Length);
        var mediaSegments = files.Count(f => f.EndsWith(".m4s", StringComparison.Ordinal));
        Assert.Equal(3 * 3, mediaSegments); // v240, v144, audio x 3 one-second segments

        // Every byte on disk went through the pool path (pool="shared"), none through a private pool.
        Assert.Equal(onDisk, bytes.SegmentBytes("shared"));
        Assert.Equal(0, bytes.SegmentBytes("private"));

        var stats = pool.GetStatistics();
        Assert.True(stats.Allocations >= mediaSegments, $"{stats.Allocations} pool rents for {mediaSegments} segments");
        Assert.Equal(0, stats.LeasedBlocks);
        Assert.Equal(0, stats.ExhaustedFailures + stats.TimeoutFailures);
        pool.VerifyQuiescentIntegrity();

        // Still valid output: each rendition decodes end to end from init + segments.
        foreach (var r in result.Renditions)
        {
            var joined = await Probe.JoinTrackAsync(Path.Combine(result.OutputDirectory, r.Name), dir.Combine($"{r.Name}.mp4"));
            Assert.Equal(75, (await Probe.DecodeVideoAsync(joined)).Frames);
        }
    }

    [Fact]
    public async Task Without_a_pool_the_run_uses_a_private_one()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 1, width: 320, height: 240, fps: 25, audio: false);
        using var bytes = new TranscodeCounters();

        var options = new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 1 };
        var result = await Packager.PackageAsync(clip, dir.Combine("out"), options, null, TestContext.Current.CancellationToken);

        var onDisk = Directory.GetFiles(result.OutputDirectory, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".m4s", StringComparison.Ordinal) || f.EndsWith("init.mp4", StringComparison.Ordinal))
            .Sum(f => new FileInfo(f).Length);
        Assert.Equal(onDisk, bytes.SegmentBytes("private"));
        Assert.Equal(0, bytes.SegmentBytes("shared"));
    }

    [Fact]
    public async Task A_pool_that_cannot_hold_a_segment_fails_the_run_clearly_and_leaves_nothing()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 2, width: 320, height: 240, fps: 25, audio: false);
        // Two 4 KiB blocks: the init segment fits, a one-second fragment of 240p does not.
        using var pool = new MemfdBufferPool(new BufferPoolOptions
        {
            Name = "segments-starved",
            CapacityBytes = 2 * 4096,
            SizeClasses = [new("4k", 4096, 1.0)],
        });
        var options = new PackagingOptions
        {
            Ladder = [240],
            Preset = "ultrafast",
            SegmentSeconds = 1,
            SegmentPool = pool,
            SegmentRentTimeout = TimeSpan.FromMilliseconds(100),
        };

        var ex = await Assert.ThrowsAsync<TranscodeException>(() =>
            Packager.PackageAsync(clip, dir.Combine("out"), options, null, TestContext.Current.CancellationToken));

        Assert.Contains("v240: the buffer pool cannot hold the segment", ex.Message);
        Assert.IsType<BufferPoolExhaustedException>(ex.InnerException);
        Assert.False(Directory.Exists(dir.Combine("out")));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".staging-*"));
        Assert.True(pool.GetStatistics().TimeoutFailures >= 1);
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
        pool.VerifyQuiescentIntegrity();
    }
}
