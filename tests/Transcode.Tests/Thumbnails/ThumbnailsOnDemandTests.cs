using StreamServer.TestSupport;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Thumbnails;

public sealed class ThumbnailsOnDemandTests
{
    [Theory]
    [InlineData(2.48, 160)]
    [InlineData(0, 320)]
    [InlineData(3.96, 200)] // the last frame
    public async Task Thumbnail_matches_the_frame_ffmpeg_extracts_at_t(double t, int width)
    {
        Assert.SkipWhen(Capabilities.MissingTool("ffmpeg") is not null, "ffmpeg missing");
        using var dir = new TempDir("thumbs");
        // One keyframe per second, so most times need seek-to-keyframe + decode forward.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 4, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-g", "25"]);
        using var service = new ThumbnailService();

        var thumb = await service.GetAsync("clip", clip, t, width, 90);

        var path = dir.Combine("thumb.jpg");
        await File.WriteAllBytesAsync(path, thumb.Jpeg);
        using (var decoder = new JpegDecoder())
        {
            Assert.Equal((width, SpriteLayout.ScaledHeight(width, 320, 240)), (decoder.ReadHeader(thumb.Jpeg).Width, decoder.ReadHeader(thumb.Jpeg).Height));
        }

        var same = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(clip, t, width, dir.Combine("ref.y4m")));
        var other = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(clip, t >= 2 ? t - 1.2 : t + 1.2, width, dir.Combine("other.y4m")));
        TestContext.Current.SendDiagnosticMessage($"t={t} w={width}: SSIM {same} (other frame {other})");
        Assert.True(same > 0.95, $"SSIM against ffmpeg's frame at t={t}: {same}");
        Assert.True(same > other, $"the frame at t matches worse ({same}) than a frame 1.2 s away ({other})");
    }

    [Fact]
    public async Task With_b_frames_skipped_while_seeking_every_time_still_gets_its_own_frame()
    {
        using var dir = new TempDir("thumbs-b");
        // B-frames (pyramid) and 2 s GOPs: decode-forward skips the non-reference ones before t.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 4, width: 320, height: 240, audio: false,
            extraOutputArgs: ["-g", "50", "-x264-params", "bframes=3:b-pyramid=normal:b-adapt=0"]);
        using var service = new ThumbnailService(new ThumbnailServiceOptions { CacheEntries = 0 });

        foreach (var t in new[] { 1.36, 1.4, 3.0, 3.96 })
        {
            var path = dir.Combine($"t{t}.jpg");
            await File.WriteAllBytesAsync(path, (await service.GetAsync("b", clip, t, 320, 95)).Jpeg);
            var same = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(clip, t, 320, dir.Combine($"r{t}.y4m")));
            var next = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(clip, t - 0.04, 320, dir.Combine($"p{t}.y4m")));
            Assert.True(same > 0.97, $"SSIM at {t}: {same}");
            Assert.True(same > next, $"t={t} matches the previous frame ({next}) better than its own ({same})");
        }
    }

    [Fact]
    public async Task Identical_concurrent_requests_share_one_render()
    {
        using var dir = new TempDir("thumbs-burst");
        // One keyframe: t = 2.9 s decodes ~70 frames, long enough for all requests to arrive while it runs.
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 3, width: 640, height: 360, audio: false,
            extraOutputArgs: ["-g", "100"]);
        using var service = new ThumbnailService(new ThumbnailServiceOptions { MaxConcurrentRenders = 8 });

        var all = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => service.GetAsync("v", clip, 2.9, 160, 75).AsTask()));

        Assert.Equal(1, service.Renders);
        Assert.All(all, t => Assert.Same(all[0], t));
    }

    [Fact]
    public async Task A_request_wider_than_the_source_gets_the_source_width_not_an_upscale()
    {
        using var dir = new TempDir("thumbs-wide");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 1, width: 320, height: 240, audio: false);
        using var service = new ThumbnailService();
        using var decoder = new JpegDecoder();

        var wide = await service.GetAsync("v", clip, 0.5, 1280, 75);

        Assert.Equal((320, 240), (wide.Width, wide.Height));
        var info = decoder.ReadHeader(wide.Jpeg);
        Assert.Equal((320, 240), (info.Width, info.Height));
        var narrow = await service.GetAsync("v", clip, 0.5, 200, 75);
        Assert.Equal((200, 150), (narrow.Width, narrow.Height));
    }

    [Fact]
    public async Task Invalidate_drops_the_vods_cached_thumbnails_and_opened_sources_under_its_folder()
    {
        using var dir = new TempDir("thumbs-invalidate");
        Directory.CreateDirectory(dir.Combine("a"));
        Directory.CreateDirectory(dir.Combine("b"));
        var a = await TestMedia.GenerateAsync(dir.Combine("a", "clip.mp4"), seconds: 1, width: 160, height: 120, audio: false);
        var b = await TestMedia.GenerateAsync(dir.Combine("b", "clip.mp4"), seconds: 1, width: 160, height: 120, audio: false);
        using var service = new ThumbnailService(new ThumbnailServiceOptions { CacheEntries = 10 });
        _ = await service.GetAsync("a", a, 0.2, 160, 75);
        _ = await service.GetAsync("a", a, 0.6, 160, 75);
        _ = await service.GetAsync("b", b, 0.2, 160, 75);
        Assert.Equal((3, 2), (service.Cache.Count, service.OpenSources));

        service.Invalidate("a", dir.Combine("a"));

        Assert.Equal((1, 1), (service.Cache.Count, service.OpenSources));
        _ = await service.GetAsync("b", b, 0.2, 160, 75);
        Assert.Equal(1, service.Cache.Hits); // b's entry survived
        _ = await service.GetAsync("a", a, 0.2, 160, 75);
        Assert.Equal(4, service.Renders); // a's was gone
    }

    [Fact]
    public async Task Second_request_is_a_cache_hit_and_t_past_the_end_is_refused()
    {
        using var dir = new TempDir("thumbs");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 3, width: 320, height: 240, audio: false);
        using var service = new ThumbnailService(new ThumbnailServiceOptions { CacheEntries = 10 });

        var first = await service.GetAsync("v", clip, 1.0, 160, 75);
        var second = await service.GetAsync("v", clip, 1.0, 160, 75);
        var otherQuality = await service.GetAsync("v", clip, 1.0, 160, 40);

        Assert.Same(first, second);
        Assert.NotEqual(first.ETag, otherQuality.ETag);
        Assert.True(otherQuality.Jpeg.Length < first.Jpeg.Length);
        Assert.Equal(1, service.Cache.Hits);
        Assert.Equal(2, service.Cache.Misses); // one per render, not one per lookup
        Assert.Equal(3.0, service.DurationOf(clip), 1);
        var e = await Assert.ThrowsAsync<ThumbnailRequestException>(() => service.GetAsync("v", clip, 3.5, 160, 75).AsTask());
        Assert.Contains("past the end", e.Message);
        // The service keeps working after a refused request.
        Assert.NotEmpty((await service.GetAsync("v", clip, 2.0, 160, 75)).Jpeg);
    }
}

public sealed class ThumbnailsFromPackagedRenditionTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)] // exactly on a segment boundary
    [InlineData(1.52)]
    [InlineData(3.96)]
    public async Task Thumbnails_decode_from_the_packaged_hls_rendition(double t)
    {
        using var dir = new TempDir("thumbs-hls");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 4, width: 320, height: 240);
        var outDir = dir.Combine("vod");
        await StreamServer.Transcode.Packaging.Packager.PackageAsync(clip, outDir, new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 1 }, null, CancellationToken.None);
        using var service = new ThumbnailService();

        var thumb = await service.GetAsync("v", Path.Combine(outDir, "v240", "index.m3u8"), t, 160, 90);

        var path = dir.Combine("thumb.jpg");
        await File.WriteAllBytesAsync(path, thumb.Jpeg);
        var same = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(clip, t, 160, dir.Combine("ref.y4m")));
        Assert.True(same > 0.9, $"SSIM at {t}: {same}");
    }

    [Fact]
    public async Task One_opened_rendition_serves_times_in_any_order()
    {
        using var dir = new TempDir("thumbs-hls");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 4, width: 320, height: 240, audio: false);
        var outDir = dir.Combine("vod");
        await StreamServer.Transcode.Packaging.Packager.PackageAsync(clip, outDir, new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 1 }, null, CancellationToken.None);
        using var service = new ThumbnailService(new ThumbnailServiceOptions { MaxConcurrentRenders = 1 });
        var playlist = Path.Combine(outDir, "v240", "index.m3u8");

        // 2.6 then 2.2: same segment, backwards; then an earlier segment; then the last frame.
        foreach (var t in new[] { 2.6, 2.2, 0.4, 3.96 })
        {
            var path = dir.Combine($"t{t}.jpg");
            await File.WriteAllBytesAsync(path, (await service.GetAsync("v", playlist, t, 160, 90)).Jpeg);
            var ssim = await FfmpegSsim.CompareAsync(path, await FfmpegSsim.ExtractFrameAsync(clip, t, 160, dir.Combine($"r{t}.y4m")));
            Assert.True(ssim > 0.9, $"SSIM at {t}: {ssim}");
        }

        Assert.Equal(4.0, service.DurationOf(playlist), 2);
    }
}
