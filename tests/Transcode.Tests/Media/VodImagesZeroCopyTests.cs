using StreamServer.BufferPool;
using StreamServer.TestSupport;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Media;

/// <summary>
/// Production packaging with the image sink (poster + sprites + VTT) on pool frames: tiles are scaled straight into
/// the sheet and the poster is kept by reference, so the copy counter stays 0 and every lease comes back.
/// </summary>
[Collection(FrameCopyMetricsCollection.Name)]
public class VodImagesZeroCopyTests
{
    [Fact]
    public async Task Packaging_with_poster_and_sprites_on_pool_frames_copies_no_pixels()
    {
        using var dir = new TempDir("vodimg-zero-copy");

        // Video stops at 2.2 s, audio runs to 4 s: tiles at 3 s and 4 s have no frame and repeat the last one.
        var clip = dir.Combine("in.mp4");
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2.2",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", clip])).EnsureSuccess("ffmpeg clip");
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "vodimg-zero-copy", CapacityBytes = 48L * 1024 * 1024, DebugChecks = true });
        var memory = new PooledFrameMemory(pool);

        // Two tiles per sheet: tiles land in both columns of several sheets (the right one next to the row padding).
        var sprites = new SpriteSheetOptions { IntervalSeconds = 1, Columns = 2, Rows = 1 };
        using var sink = new VodImageSink(new VodImageOptions { Sprites = sprites });
        var outDir = dir.Combine("out");
        var options = new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 1, FrameMemory = memory, FrameSinks = [sink] };
        using var counters = new TranscodeCounters();

        var result = await Packager.PackageAsync(clip, outDir, options, null, TestContext.Current.CancellationToken);

        Assert.Equal(55, result.FramesDecoded);
        Assert.Equal(0, counters.CopiedBytes);
        Assert.Equal(0, counters.FramesOutsidePool);
        Assert.Equal(0, memory.UnpooledRents);
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks); // poster and last-tile references were given back
        pool.VerifyQuiescentIntegrity();

        using var jpeg = new JpegDecoder();
        var poster = jpeg.Decode(await File.ReadAllBytesAsync(Path.Combine(outDir, VodImageOptions.PosterFileName)));
        Assert.Equal((320, 240), (poster.Info.Width, poster.Info.Height));
        var layout = sink.Layout!;
        Assert.True(layout.TileCount >= 4, $"{layout.TileCount} tiles for a 4 s clip");
        var cues = StreamServer.Transcode.Tests.Thumbnails.ThumbnailsSpriteTests.ParseVtt(await File.ReadAllTextAsync(Path.Combine(outDir, VodImageOptions.ThumbnailTrackFileName)));
        Assert.Equal(layout.TileCount, cues.Count);

        // Real pictures in the sheet (testsrc2 is colourful, never flat), the tail repeats tile 2 (the frame at 2 s),
        // and tile 1 differs from it (the comparison can tell frames apart).
        var tile1 = TileLuma(jpeg, outDir, layout.Tile(1));
        var tile2 = TileLuma(jpeg, outDir, layout.Tile(2));
        Assert.True(StdDev(tile2) > 20, $"tile 2 luma stddev {StdDev(tile2)}: not a picture");
        Assert.True(MeanAbsDiff(tile1, tile2) > 3, "tiles 1 and 2 look the same: the comparison below proves nothing");
        for (var i = 3; i < layout.TileCount; i++)
        {
            var diff = MeanAbsDiff(TileLuma(jpeg, outDir, layout.Tile(i)), tile2);
            Assert.True(diff < 2, $"tail tile {i} differs from the last frame's tile by {diff}");
        }
    }

    private static byte[] TileLuma(JpegDecoder jpeg, string outDir, SpriteTile tile)
    {
        var sheet = jpeg.Decode(File.ReadAllBytes(Path.Combine(outDir, tile.SheetFileName)));
        var luma = new byte[tile.Width * tile.Height];
        for (var row = 0; row < tile.Height; row++)
        {
            sheet.Y.AsSpan(((tile.Y + row) * sheet.Info.Width) + tile.X, tile.Width).CopyTo(luma.AsSpan(row * tile.Width));
        }

        return luma;
    }

    private static double MeanAbsDiff(byte[] a, byte[] b)
    {
        long sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return (double)sum / a.Length;
    }

    private static double StdDev(byte[] a)
    {
        double mean = 0;
        foreach (var v in a)
        {
            mean += v;
        }

        mean /= a.Length;
        double sq = 0;
        foreach (var v in a)
        {
            sq += (v - mean) * (v - mean);
        }

        return Math.Sqrt(sq / a.Length);
    }
}
