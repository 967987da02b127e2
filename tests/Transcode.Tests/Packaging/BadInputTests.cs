using System.Globalization;
using StreamServer.TestSupport;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Tests.Packaging;

/// <summary>Each bad input either packages correctly or fails with a clear message, and never leaves anything at the output (nor a staging folder).</summary>
public class BadInputTests
{
    private static readonly PackagingOptions Fast = new() { Ladder = [240, 120], Preset = "ultrafast", SegmentSeconds = 1 };

    [Fact]
    public async Task Zero_byte_file_fails_clearly()
    {
        using var dir = new TempDir();
        var input = dir.Combine("empty.mp4");
        await File.WriteAllBytesAsync(input, []);
        var ex = await FailsCleanlyAsync(dir, input);
        Assert.Contains("empty", ex.Message);
    }

    [Fact]
    public async Task Random_bytes_named_mp4_fail_clearly()
    {
        using var dir = new TempDir();
        var input = dir.Combine("noise.mp4");
        var bytes = new byte[64 * 1024];
        new Random(42).NextBytes(bytes);
        await File.WriteAllBytesAsync(input, bytes);
        var ex = await FailsCleanlyAsync(dir, input);
        Assert.Contains("cannot read input noise.mp4", ex.Message);
    }

    [Fact]
    public async Task Missing_path_fails_clearly()
    {
        using var dir = new TempDir();
        var ex = await FailsCleanlyAsync(dir, dir.Combine("nope", "missing.mp4"));
        Assert.Contains("input not found", ex.Message);
    }

    [Fact]
    public async Task Truncated_mp4_with_moov_at_end_fails_clearly()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("full.mp4"), seconds: 2, width: 160, height: 120);
        var cut = dir.Combine("cut.mp4");
        var bytes = await File.ReadAllBytesAsync(clip);
        await File.WriteAllBytesAsync(cut, bytes[..(bytes.Length / 2)]);
        var ex = await FailsCleanlyAsync(dir, cut);
        Assert.Contains("cannot read input cut.mp4", ex.Message);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(0.8)]
    public async Task Truncated_faststart_mp4_fails_with_where_it_ends(double keep)
    {
        // moov first, cut in the middle of mdat: the index promises more than the file holds.
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("full.mp4"), seconds: 6, width: 160, height: 120, extraOutputArgs: ["-movflags", "+faststart"]);
        var cut = dir.Combine("cut.mp4");
        var bytes = await File.ReadAllBytesAsync(clip);
        await File.WriteAllBytesAsync(cut, bytes[..(int)(bytes.Length * keep)]);
        var ex = await FailsCleanlyAsync(dir, cut);
        Assert.Matches(@"source cut\.mp4 ends at \d+\.\d s of 6\.\d s \(truncated\?\)", ex.Message);
        var endsAt = double.Parse(System.Text.RegularExpressions.Regex.Match(ex.Message, @"ends at (\d+\.\d)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(endsAt, 0, 6 * keep + 1);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.95)]
    public async Task Truncated_mp4_with_moov_at_end_fails_at_any_cut(double keep)
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("full.mp4"), seconds: 6, width: 160, height: 120);
        var cut = dir.Combine("cut.mp4");
        var bytes = await File.ReadAllBytesAsync(clip);
        await File.WriteAllBytesAsync(cut, bytes[..(int)(bytes.Length * keep)]);
        var ex = await FailsCleanlyAsync(dir, cut);
        Assert.Contains("cut.mp4", ex.Message);
    }

    [Fact]
    public async Task Whole_faststart_mp4_is_not_taken_for_truncated()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("full.mp4"), seconds: 6, width: 160, height: 120, extraOutputArgs: ["-movflags", "+faststart"]);
        var result = await Packager.PackageAsync(clip, dir.Combine("out"), Fast, null, CancellationToken.None);
        Assert.Equal(6.0, result.Duration.TotalSeconds, 0.2);
    }

    [Fact]
    public async Task Audio_only_packages_an_audio_variant()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("a.m4a"), seconds: 2, video: false);
        var outDir = dir.Combine("out");
        var result = await Packager.PackageAsync(clip, outDir, Fast, null, CancellationToken.None);
        Assert.Empty(result.Renditions);
        Assert.NotNull(result.Audio);
        var master = await File.ReadAllTextAsync(Path.Combine(outDir, "master.m3u8"));
        Assert.Contains("CODECS=\"mp4a.40.2\"", master);
        Assert.Contains("audio/index.m3u8", master);
        Assert.False(Directory.Exists(Path.Combine(outDir, "v240")));
        var joined = await Probe.JoinTrackAsync(Path.Combine(outDir, "audio"), dir.Combine("audio.mp4"));
        Assert.Equal(2.0, await Probe.DurationAsync(joined, "a:0"), 0.1);
    }

    [Fact]
    public async Task Video_only_packages_without_an_audio_group()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("v.mp4"), seconds: 2, width: 320, height: 240, audio: false);
        var outDir = dir.Combine("out");
        var result = await Packager.PackageAsync(clip, outDir, Fast, null, CancellationToken.None);
        Assert.Null(result.Audio);
        var master = await File.ReadAllTextAsync(Path.Combine(outDir, "master.m3u8"));
        Assert.DoesNotContain("EXT-X-MEDIA", master);
        Assert.DoesNotContain("mp4a", master);
        await AssertDecodesAsync(dir, outDir, "v240", 320, 240, frames: 50);
    }

    [Fact]
    public async Task Odd_size_853x479_gets_even_renditions_with_the_aspect_kept()
    {
        using var dir = new TempDir();
        var clip = dir.Combine("odd.mkv");
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=853x479:rate=25:duration=2",
            "-c:v", "ffv1", "-pix_fmt", "yuv420p", clip])).EnsureSuccess("ffmpeg odd clip");
        var outDir = dir.Combine("out");
        var result = await Packager.PackageAsync(clip, outDir, Fast with { Ladder = [720, 480, 240] }, null, CancellationToken.None);
        // 720 and 480 are above 479: never upscale. 240 keeps 853:479 -> 428x240 (even).
        Assert.Equal(["v240"], result.Renditions.Select(r => r.Name));
        await AssertDecodesAsync(dir, outDir, "v240", 428, 240, frames: 50);
    }

    [Fact]
    public async Task Source_smaller_than_every_rung_gets_one_rendition_at_source_height()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("small.mp4"), seconds: 1, width: 160, height: 90, audio: false);
        var result = await Packager.PackageAsync(clip, dir.Combine("out"), Fast with { Ladder = [720, 480] }, null, CancellationToken.None);
        Assert.Equal([(160, 90)], result.Renditions.Select(r => (r.Width, r.Height)));
    }

    [Fact]
    public async Task Variable_frame_rate_keeps_renditions_aligned()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("vfr.mkv"), seconds: 3, width: 320, height: 240,
            extraOutputArgs: ["-vf", "select='not(eq(mod(n\\,5)\\,2))*not(eq(mod(n\\,7)\\,4))'", "-fps_mode", "vfr"]);
        var outDir = dir.Combine("out");
        var result = await Packager.PackageAsync(clip, outDir, Fast, null, CancellationToken.None);
        Assert.Equal(2, result.Renditions.Count);
        var keys = new List<List<double>>();
        foreach (var r in result.Renditions)
        {
            var joined = await Probe.JoinTrackAsync(Path.Combine(outDir, r.Name), dir.Combine($"{r.Name}.mp4"));
            keys.Add(await Probe.KeyframeTimesAsync(joined));
            Assert.Equal(result.FramesDecoded, (await Probe.DecodeVideoAsync(joined)).Frames);
        }

        Assert.Equal(keys[0], keys[1]);
        Assert.True(keys[0].Count >= 3, $"a keyframe per 1 s segment: {string.Join(",", keys[0])}");
    }

    [Fact]
    public async Task Mid_stream_resolution_change_is_scaled_to_the_rendition_size()
    {
        // Two MPEG-TS clips of different sizes concatenated byte-wise: the SPS changes mid-stream.
        using var dir = new TempDir();
        var a = await TestMedia.GenerateAsync(dir.Combine("a.ts"), seconds: 1, width: 320, height: 240, audio: false);
        var b = await TestMedia.GenerateAsync(dir.Combine("b.ts"), seconds: 1, width: 160, height: 120, audio: false,
            extraOutputArgs: ["-output_ts_offset", "1"]);
        var joined = dir.Combine("joined.ts");
        await File.WriteAllBytesAsync(joined, [.. await File.ReadAllBytesAsync(a), .. await File.ReadAllBytesAsync(b)]);
        var outDir = dir.Combine("out");
        var result = await Packager.PackageAsync(joined, outDir, Fast with { Ladder = [240] }, null, CancellationToken.None);
        Assert.Equal(50, result.FramesDecoded);
        await AssertDecodesAsync(dir, outDir, "v240", 320, 240, frames: 50);
    }

    [Theory]
    [InlineData("yuv420p10le")]
    [InlineData("yuv422p")]
    public async Task High_bit_depth_or_422_sources_become_8bit_420(string pixelFormat)
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine($"{pixelFormat}.mp4"), seconds: 1, width: 320, height: 240, pixelFormat: pixelFormat);
        var outDir = dir.Combine("out");
        await Packager.PackageAsync(clip, outDir, Fast, null, CancellationToken.None);
        // Same height: converted in place of scaling (8-bit 4:2:0), still every frame.
        await AssertDecodesAsync(dir, outDir, "v240", 320, 240, frames: 25);
    }

    [Fact]
    public async Task Cancellation_stops_promptly_and_leaves_nothing()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 6, width: 320, height: 240);
        var outDir = dir.Combine("out");
        using var cts = new CancellationTokenSource();
        var started = new TaskCompletionSource();
        var progress = new InlineProgress(p =>
        {
            if (p.Percent > 0)
            {
                started.TrySetResult();
            }
        });
        var run = Packager.PackageAsync(clip, outDir, Fast with { Preset = "medium" }, progress, cts.Token);
        await Task.WhenAny(started.Task, run);
        var cancelledAt = DateTime.UtcNow;
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(DateTime.UtcNow - cancelledAt < TimeSpan.FromSeconds(5), "stops promptly");
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".staging-*"));
    }

    [Fact]
    public async Task Existing_output_is_refused_unless_overwrite()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 1, width: 160, height: 120);
        var outDir = dir.Combine("out");
        Directory.CreateDirectory(outDir);
        await File.WriteAllTextAsync(Path.Combine(outDir, "keep.txt"), "x");
        var ex = await Assert.ThrowsAsync<TranscodeException>(() => Packager.PackageAsync(clip, outDir, Fast, null, CancellationToken.None));
        Assert.Contains("already exists", ex.Message);
        Assert.True(File.Exists(Path.Combine(outDir, "keep.txt")));

        await Packager.PackageAsync(clip, outDir, Fast with { Overwrite = true }, null, CancellationToken.None);
        Assert.False(File.Exists(Path.Combine(outDir, "keep.txt")));
        Assert.True(File.Exists(Path.Combine(outDir, "manifest.mpd")));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".staging-*"));
    }

    [Fact]
    public void Stale_staging_folders_are_swept()
    {
        using var dir = new TempDir();
        var stale = Directory.CreateDirectory(dir.Combine(".staging-old-1234"));
        Directory.SetLastWriteTimeUtc(stale.FullName, DateTime.UtcNow.AddHours(-2));
        Directory.CreateDirectory(dir.Combine(".staging-fresh-5678"));
        Directory.CreateDirectory(dir.Combine("published"));
        Assert.Equal(1, StagingFolder.SweepStale(dir.Path, TimeSpan.FromHours(1)));
        Assert.False(Directory.Exists(stale.FullName));
        Assert.True(Directory.Exists(dir.Combine(".staging-fresh-5678")));
        Assert.True(Directory.Exists(dir.Combine("published")));
    }

    private static async Task<TranscodeException> FailsCleanlyAsync(TempDir dir, string input)
    {
        var outDir = dir.Combine("out");
        var ex = await Assert.ThrowsAsync<TranscodeException>(() => Packager.PackageAsync(input, outDir, Fast, null, CancellationToken.None));
        Assert.DoesNotContain('\n', ex.Message);
        Assert.False(Directory.Exists(outDir), "nothing visible at the output");
        Assert.Empty(Directory.GetDirectories(dir.Path, ".staging-*"));
        return ex;
    }

    private static async Task AssertDecodesAsync(TempDir dir, string outDir, string rendition, int width, int height, int? frames = null)
    {
        var joined = await Probe.JoinTrackAsync(Path.Combine(outDir, rendition), dir.Combine($"{rendition}-{Guid.NewGuid():N}.mp4"));
        var decoded = await Probe.DecodeVideoAsync(joined);
        Assert.Equal((width, height, "yuv420p"), (decoded.Width, decoded.Height, decoded.PixFmt));
        if (frames is not null)
        {
            Assert.Equal(frames.Value, decoded.Frames);
        }

        Assert.True(decoded.Frames > 0, string.Create(CultureInfo.InvariantCulture, $"{rendition} decodes"));
    }

    private sealed class InlineProgress(Action<PackagingProgress> onReport) : IProgress<PackagingProgress>
    {
        public void Report(PackagingProgress value) => onReport(value);
    }
}
