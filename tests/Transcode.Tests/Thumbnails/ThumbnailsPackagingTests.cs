using System.Globalization;
using System.Xml.Linq;
using StreamServer.TestSupport;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Thumbnails;

public sealed class ThumbnailsPackagingTests
{
    [Fact]
    public async Task Packaging_writes_a_poster_sprites_and_a_vtt_track_from_the_frames_it_decodes()
    {
        using var dir = new TempDir("vodimg");
        // Fades in from black over 1.5 s: the first frames must not become the poster.
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 6, width: 320, height: 240, fps: 25,
            extraOutputArgs: ["-vf", "fade=t=in:st=0:d=1.5"]);
        var outDir = dir.Combine("out");
        using var sink = new VodImageSink(new VodImageOptions { Sprites = new SpriteSheetOptions { IntervalSeconds = 1 } });
        var options = new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 2, FrameSinks = [sink] };

        var result = await Packager.PackageAsync(clip, outDir, options, null, TestContext.Current.CancellationToken);

        // Poster: a JPEG of the source size, picked after the fade, not uniform.
        using var decoder = new JpegDecoder();
        var poster = decoder.Decode(await File.ReadAllBytesAsync(Path.Combine(outDir, "poster.jpg")));
        Assert.Equal((320, 240), (poster.Info.Width, poster.Info.Height));
        Assert.True(sink.PosterTime >= 1.0, $"poster from t={sink.PosterTime}, inside the fade-in");
        var score = LumaStdDev(poster.Y);
        Assert.True(score > 20, $"poster luma stddev {score}: looks uniform");

        // VTT: cues cover the duration, each region lies inside its sprite image (read from the real file).
        var vtt = await File.ReadAllTextAsync(Path.Combine(outDir, "thumbnails.vtt"));
        var cues = ThumbnailsSpriteTests.ParseVtt(vtt);
        Assert.Equal(6, cues.Count);
        Assert.Equal(0, cues[0].Start);
        Assert.Equal(result.Duration.TotalSeconds, cues[^1].End, 0.1);
        foreach (var cue in cues)
        {
            var sheet = decoder.ReadHeader(await File.ReadAllBytesAsync(Path.Combine(outDir, cue.File)));
            Assert.True(cue.X + cue.W <= sheet.Width && cue.Y + cue.H <= sheet.Height, $"{cue} outside {sheet}");
            Assert.Equal((160, 120), (cue.W, cue.H));
        }

        // Tile 3 shows the frame at 3 s: crop it out of the sheet and compare with ffmpeg's frame at 3 s.
        var tile = dir.Combine("tile3.y4m");
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", Path.Combine(outDir, "sprite_000.jpg"),
            "-vf", $"crop=160:120:{cues[3].X}:{cues[3].Y}", "-pix_fmt", "yuv420p", tile])).EnsureSuccess("ffmpeg crop");
        var reference = await FfmpegSsim.ExtractFrameAsync(clip, 3.0, 160, dir.Combine("ref3.y4m"));
        var ssim = await FfmpegSsim.CompareAsync(tile, reference);
        Assert.True(ssim > 0.85, $"tile 3 vs frame at 3 s: SSIM {ssim}");

        // DASH: DASH-IF thumbnail tiles AdaptationSet in the MPD's namespace.
        var mpd = XDocument.Load(Path.Combine(outDir, "manifest.mpd"));
        XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
        var image = mpd.Descendants(ns + "AdaptationSet").Single(a => (string?)a.Attribute("contentType") == "image");
        Assert.Equal("image/jpeg", (string?)image.Attribute("mimeType"));
        var rep = image.Element(ns + "Representation")!;
        Assert.Equal("http://dashif.org/thumbnail_tile", (string?)rep.Element(ns + "EssentialProperty")!.Attribute("schemeIdUri"));
        Assert.Equal("6x1", (string?)rep.Element(ns + "EssentialProperty")!.Attribute("value"));
        Assert.Equal((960, 120), (int.Parse((string)rep.Attribute("width")!, CultureInfo.InvariantCulture), int.Parse((string)rep.Attribute("height")!, CultureInfo.InvariantCulture)));
        Assert.Equal("sprite_$Number%03d$.jpg", (string?)image.Element(ns + "SegmentTemplate")!.Attribute("media"));
    }

    private static double LumaStdDev(byte[] y)
    {
        double sum = 0, sq = 0;
        foreach (var v in y)
        {
            sum += v;
            sq += v * v;
        }

        var mean = sum / y.Length;
        return Math.Sqrt((sq / y.Length) - (mean * mean));
    }
}
