using System.Diagnostics;
using System.Runtime.InteropServices;
using StreamServer.BufferPool;
using StreamServer.TestSupport;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Tests.Media;

/// <summary>The zero-copy frame path: decoded and scaled frames live in the memfd buffer pool.</summary>
[Collection(FrameCopyMetricsCollection.Name)]
public class PooledFrameMemoryTests
{
    [Fact]
    public async Task Packaging_with_pool_frames_copies_no_pixels_and_returns_every_lease()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 3, width: 640, height: 360, fps: 25);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "frames-test", CapacityBytes = 64L * 1024 * 1024, DebugChecks = true });
        var memory = new PooledFrameMemory(pool);
        using var counters = new TranscodeCounters();

        var options = new PackagingOptions { Ladder = [360, 240], Preset = "ultrafast", SegmentSeconds = 1, FrameMemory = memory };
        var result = await Packager.PackageAsync(clip, dir.Combine("out"), options, null, TestContext.Current.CancellationToken);

        Assert.Equal(75, result.FramesDecoded);
        Assert.Equal(0, counters.CopiedBytes);
        Assert.Equal(0, counters.FramesOutsidePool); // every decoded frame honoured get_buffer2
        var stats = pool.GetStatistics();

        // Every decoded frame came from the pool (get_buffer2), plus the 240p scaler output.
        Assert.True(stats.Allocations >= 75 + 75, $"only {stats.Allocations} pool rents for 75 frames x (decode + 240p scale)");
        Assert.Equal(0, memory.UnpooledRents);
        Assert.Equal(0, stats.LeasedBlocks);
        Assert.Equal(pool.CapacityBytes, stats.FreeBytes);
        pool.VerifyQuiescentIntegrity();
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, "master.m3u8")));
    }

    [Fact]
    public async Task A_decoded_frame_is_pool_memory_reachable_through_the_memfd()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 1, width: 320, height: 240, fps: 25, audio: false);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "frames-view", CapacityBytes = 32L * 1024 * 1024 });
        var memory = new PooledFrameMemory(pool);

        using (var source = MediaSource.Open(clip))
        {
            var video = source.BestStream(MediaKind.Video)!;
            using var decoder = new MediaDecoder(source, video, memory);
            using var packet = new PacketHandle();
            using var frame = new FrameHandle();
            var checkedFrames = 0;
            while (checkedFrames < 3 && source.ReadPacket(packet))
            {
                decoder.Send(packet);
                while (decoder.Receive(frame))
                {
                    var (data, linesize) = frame.Plane(0);
                    Assert.True(pool.TryGetLeaseAt(data, out var lease), "luma plane starts a pool block");
                    Assert.Equal(0, linesize % 64);
                    Assert.True(lease.ReferenceCount >= 1);

                    // The same pixels through the descriptor (what sendfile would read) and through the frame.
                    var viaFd = new byte[linesize * 2];
                    Assert.Equal(viaFd.Length, RandomAccess.Read(pool.FileHandle, viaFd, lease.FileOffset));
                    var viaFrame = new byte[viaFd.Length];
                    Marshal.Copy(data, viaFrame, 0, viaFrame.Length);
                    Assert.Equal(viaFrame, viaFd);
                    checkedFrames++;
                    frame.Unref();
                }
            }

            Assert.Equal(3, checkedFrames);
            Assert.True(pool.GetStatistics().LeasedBlocks > 0, "the decoder holds reference frames in the pool");
        }

        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
    }

    [Fact]
    public async Task An_exhausted_pool_fails_the_job_after_the_rent_timeout_instead_of_hanging()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 2, width: 640, height: 360, fps: 25, audio: false);
        var frame = FrameSizes.Yuv420(640, 384);
        using var pool = new MemfdBufferPool(new BufferPoolOptions
        {
            Name = "frames-starved",
            CapacityBytes = frame,
            SizeClasses = [new("one-frame", frame, 1.0)],
        });
        var memory = new PooledFrameMemory(pool, TimeSpan.FromMilliseconds(200));
        var options = new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 1, FrameMemory = memory };

        var sw = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<TranscodeException>(() =>
            Packager.PackageAsync(clip, dir.Combine("out"), options, null, TestContext.Current.CancellationToken));
        sw.Stop();

        Assert.Contains("memory", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
        Assert.True(pool.GetStatistics().TimeoutFailures >= 1);
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
        Assert.False(Directory.Exists(dir.Combine("out")));
    }
}
