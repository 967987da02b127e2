using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Transcode.Tests.Thumbnails;

public sealed class ThumbnailsPosterAndCacheTests
{
    [Fact]
    public void Poster_picker_skips_black_and_faded_frames_and_keeps_the_detailed_one()
    {
        var black = SyntheticFrames.Uniform(320, 240, 16);
        var faded = SyntheticFrames.Pattern(320, 240);
        for (var i = 0; i < faded.Y.Length; i++)
        {
            faded.Y[i] = (byte)(faded.Y[i] / 8); // fade-in: same picture, very dark
        }

        var detailed = SyntheticFrames.Pattern(320, 240, seed: 5);
        var picker = new PosterPicker(new PosterOptions(), durationSeconds: 12);
        var copy = new PosterCandidateCopy(picker);

        for (var f = 0; f < 100; f++)
        {
            var t = f / 25.0;
            if (picker.Wants(t))
            {
                copy.Offer(t, (t < 1 ? black : t < 2 ? faded : detailed).Planes);
            }
        }

        Assert.True(picker.BestTime >= 2, $"picked {picker.BestTime}");
        Assert.False(picker.BestScore.IsUniform);
        Assert.Equal(detailed.Y, copy.Best!.Y);
        Assert.Equal(0, FrameScore.Measure(black.Planes).Value);
        Assert.True(FrameScore.Measure(detailed.Planes).Value > 5 * FrameScore.Measure(faded.Planes).Value);
    }

    [Fact]
    public void Fixed_poster_time_overrides_the_search()
    {
        var black = SyntheticFrames.Uniform(64, 64, 0);
        var detailed = SyntheticFrames.Pattern(64, 64);
        var picker = new PosterPicker(new PosterOptions { FixedTimeSeconds = 1.0 }, durationSeconds: 4);
        var copy = new PosterCandidateCopy(picker);

        for (var f = 0; f < 100 && !picker.IsDone; f++)
        {
            var t = f / 25.0;
            if (picker.Wants(t))
            {
                copy.Offer(t, (t < 0.5 ? detailed : black).Planes);
            }
        }

        Assert.True(picker.IsDone);
        Assert.Equal(1.0, picker.BestTime, 3);
        Assert.True(picker.BestScore.IsUniform); // the operator asked for it
    }

    [Fact]
    public void Cache_evicts_least_recently_used_entries_when_over_the_byte_budget()
    {
        var cache = new ThumbnailCache(maxBytes: 3000, maxEntries: 100);
        var a = new ThumbnailKey("v", 1, 0, 160, 75);
        var b = a with { TimeMs = 1000 };
        var c = a with { TimeMs = 2000 };
        cache.Set(a, new CachedThumbnail(new byte[1000], 160, 90));
        cache.Set(b, new CachedThumbnail(new byte[1000], 160, 90));
        Assert.True(cache.TryGet(a, out _)); // a is now the most recent
        cache.Set(c, new CachedThumbnail(new byte[1500], 160, 90));

        Assert.False(cache.TryGet(b, out _));
        Assert.True(cache.TryGet(a, out _));
        Assert.True(cache.TryGet(c, out _));
        Assert.Equal(2500, cache.Bytes);
        Assert.Equal(1, cache.Evictions);
    }

    [Fact]
    public void Cache_bounds_entry_count_and_refuses_entries_bigger_than_the_budget()
    {
        var cache = new ThumbnailCache(maxBytes: 1 << 20, maxEntries: 2);
        for (var i = 0; i < 5; i++)
        {
            cache.Set(new ThumbnailKey("v", 1, i, 160, 75), new CachedThumbnail([(byte)i], 1, 1));
        }

        Assert.Equal(2, cache.Count);
        Assert.True(cache.TryGet(new ThumbnailKey("v", 1, 4, 160, 75), out var hit));
        Assert.Equal([(byte)4], hit.Jpeg);

        cache.Set(new ThumbnailKey("w", 1, 0, 160, 75), new CachedThumbnail(new byte[(1 << 20) + 1], 1, 1));
        Assert.False(cache.TryGet(new ThumbnailKey("w", 1, 0, 160, 75), out _));
        cache.Invalidate("v");
        Assert.Equal(0, cache.Count);
        Assert.Equal(0, cache.Bytes);
    }

    [Fact]
    public void Etag_depends_on_the_bytes_only()
    {
        Assert.Equal(new CachedThumbnail([1, 2, 3], 1, 1).ETag, new CachedThumbnail([1, 2, 3], 1, 1).ETag);
        Assert.NotEqual(new CachedThumbnail([1, 2, 3], 1, 1).ETag, new CachedThumbnail([1, 2, 4], 1, 1).ETag);
    }
}
