using StreamServer.TestSupport;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Thumbnails;

/// <summary>How much an on-demand thumbnail decodes, and that the shortcuts taken for speed return the same frame.</summary>
public sealed class ThumbnailsDecodeWorkTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)] // frame threads: each would hold packets in flight past the target
    public async Task Decoding_stops_at_the_frame_at_t_instead_of_running_ahead(int threads)
    {
        using var dir = new TempDir("thumbs-work");
        // No B-frames (x264 ultrafast), one keyframe every 2 s at 25 fps: t = 0.6 s is frame 15 of its GOP.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 2, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-g", "50"]);
        var memory = new RecyclingFrameMemory(0); // its own, so the count is this grabber's alone
        using var grabber = new FrameGrabber(clip, threads, memory);

        grabber.DecodeAt(0.6);

        Assert.Equal(0.6, grabber.LastFrameTime, 3);
        Assert.Equal(16, memory.Rents); // frames 0..15: nothing after the target, nothing for probing
        grabber.DecodeAt(1.0);
        Assert.Equal(16 + 26, memory.Rents);
    }

    [Fact]
    public async Task With_b_frames_the_packets_after_the_target_in_decode_order_are_not_decoded()
    {
        using var dir = new TempDir("thumbs-work-b");
        // Fixed pattern I0 B1 B2 B3 P4 ..., B-pyramid (the middle B is a reference), decode order I0 P4 B2 B1 B3 P8 B6
        // B5 B7 P12 B10 B9 B11 P16 ...: for P12 (t = 0.48 s) the decoder needs I0 P4 B2 P8 B6 P12 and nothing after P12.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 2, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-g", "50", "-x264-params", "bframes=3:b-pyramid=normal:b-adapt=0"]);
        var memory = new RecyclingFrameMemory(0);
        using var grabber = new FrameGrabber(clip, 1, memory, skipUnneededReferences: false);

        grabber.DecodeAt(0.48);

        Assert.Equal(0.48, grabber.LastFrameTime, 3);
        Assert.Equal(6, memory.Rents);
        Assert.Equal(0, grabber.SkippedReferencePictures);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)] // frame threads pick the skip decisions up per packet
    [InlineData(2, 1)] // ref=2: a P picture may predict from the B reference before it, so nothing is skipped
    public async Task Reference_b_pictures_nothing_after_t_needs_are_skipped_and_every_frame_is_unchanged(int refs, int threads)
    {
        using var dir = new TempDir("thumbs-bref");
        // B-pyramid with real motion (testsrc2 moves), 1 s GOPs at 25 fps: every display position in a GOP.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 2, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-g", "25", "-x264-params", $"ref={refs}:bframes=3:b-pyramid=normal:b-adapt=0:weightp=1"]);
        using var exact = new FrameGrabber(clip, threads, new RecyclingFrameMemory(0), skipUnneededReferences: false);
        using var skipping = new FrameGrabber(clip, threads, new RecyclingFrameMemory(0));

        for (var frame = 0; frame < 50; frame++)
        {
            var t = frame / 25.0;
            var expected = PlaneHash(exact.DecodeAt(t));
            Assert.Equal(t, exact.LastFrameTime, 3);
            var actual = PlaneHash(skipping.DecodeAt(t));
            Assert.Equal(t, skipping.LastFrameTime, 3);
            Assert.True(expected == actual, $"frame {frame} (t={t:0.00}s) differs when reference B pictures are skipped");
        }

        Assert.Equal(0, exact.SkippedReferencePictures);
        if (refs == 1)
        {
            // Per GOP of 25 (decode order I P B b b P B b b ...): the B references of the mini-GOPs wholly before t.
            Assert.True(skipping.SkippedReferencePictures > 50, $"only {skipping.SkippedReferencePictures} skipped");
        }
        else
        {
            Assert.Equal(0, skipping.SkippedReferencePictures);
        }
    }

    private static unsafe string PlaneHash(FrameHandle frame)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        for (var p = 0; p < 3; p++)
        {
            var (data, linesize) = frame.Plane(p);
            var (w, h) = p == 0 ? (frame.Width, frame.Height) : ((frame.Width + 1) / 2, (frame.Height + 1) / 2);
            for (var y = 0; y < h; y++)
            {
                hash.AppendData(new ReadOnlySpan<byte>((byte*)data + ((long)y * linesize), w));
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_opened_source_kept_between_requests_gives_the_frames_a_fresh_open_gives(bool packagedRendition)
    {
        using var dir = new TempDir("thumbs-reuse");
        // B-frames (pyramid) and 1 s GOPs; as a packaged rendition, 1 s segments: the kept decoder moves between
        // segments, forwards and backwards, and within one.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 4, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-g", "25", "-x264-params", "bframes=3:b-pyramid=normal:b-adapt=0"]);
        var source = clip;
        if (packagedRendition)
        {
            var outDir = dir.Combine("vod");
            await StreamServer.Transcode.Packaging.Packager.PackageAsync(clip, outDir,
                new PackagingOptions { Ladder = [240], Preset = "veryfast", SegmentSeconds = 1 }, null, CancellationToken.None);
            source = Path.Combine(outDir, "v240", "index.m3u8");
        }

        var times = new[] { 2.6, 0.4, 2.2, 3.99, 1.0, 0.0, 1.52, 3.0 };
        using var kept = new ThumbnailService(new ThumbnailServiceOptions { CacheEntries = 0, MaxConcurrentRenders = 1 });
        foreach (var t in times)
        {
            var reused = await kept.GetAsync("v", source, t, 320, 90);
            using var fresh = new ThumbnailService(new ThumbnailServiceOptions { CacheEntries = 0 });
            var cold = await fresh.GetAsync("v", source, t, 320, 90);
            Assert.True(cold.Jpeg.AsSpan().SequenceEqual(reused.Jpeg), $"t={t}: the kept source's frame differs from a fresh open's");
        }

        Assert.Equal(1, kept.OpenSources);
    }

    [Fact]
    public async Task Pixel_aspect_only_in_the_bitstream_still_shapes_the_thumbnail()
    {
        using var dir = new TempDir("thumbs-sar");
        // SAR 2:1 in the SPS only (no 'pasp' box): the demuxer, opened without probing, does not know it.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 1, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-bsf:v", "h264_metadata=sample_aspect_ratio=2/1"]);
        using var service = new ThumbnailService();

        var thumb = await service.GetAsync("v", clip, 0.5, 320, 75);

        Assert.Equal((320, 120), (thumb.Width, thumb.Height)); // displayed 640x240
        using var decoder = new JpegDecoder();
        var info = decoder.ReadHeader(thumb.Jpeg);
        Assert.Equal((320, 120), (info.Width, info.Height));
    }

    [Fact]
    public void Recycled_frame_blocks_are_reused_by_size_and_kept_within_the_budget()
    {
        var memory = new RecyclingFrameMemory(2 * 4096);
        var a = memory.Rent(4096, 64);
        var b = memory.Rent(4096, 64);
        var c = memory.Rent(4096, 64);
        memory.Release(a);
        memory.Release(b);
        memory.Release(c); // over budget: the oldest idle block (a) is freed
        Assert.Equal(2 * 4096, memory.IdleBytes);

        Assert.Equal(c, memory.Rent(4096, 64)); // newest first
        Assert.Equal(b, memory.Rent(4096, 64));
        var other = memory.Rent(8192, 64); // no idle block of that size: a fresh one
        Assert.NotEqual(0, other);
        Assert.Equal(0, memory.IdleBytes);
        memory.Release(other);
        memory.Release(b);
        memory.Release(c);
        Assert.Equal(2 * 4096, memory.IdleBytes); // the 8 KiB block went first
    }
}
