using System.Globalization;
using System.Text.RegularExpressions;
using StreamServer.TestSupport;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Thumbnails;

public sealed partial class ThumbnailsSpriteTests
{
    [Theory]
    [InlineData(1234.56, 5, 1920, 1080)]
    [InlineData(4.0, 1, 320, 240)]
    [InlineData(10.0, 5, 640, 360)] // duration an exact multiple of the interval: no empty trailing cue
    [InlineData(0.4, 2, 320, 240)] // shorter than one interval: one cue over the whole clip
    public void Vtt_cues_cover_the_whole_duration_and_every_region_lies_inside_its_sheet(double duration, double interval, int w, int h)
    {
        var layout = new SpriteLayout(new SpriteSheetOptions { IntervalSeconds = interval }, duration, w, h);

        var cues = ParseVtt(WebVttThumbnailWriter.Write(layout));

        Assert.Equal(layout.TileCount, cues.Count);
        Assert.Equal(0, cues[0].Start);
        Assert.Equal(Math.Round(duration, 3), cues[^1].End, 3);
        for (var i = 0; i < cues.Count; i++)
        {
            Assert.True(cues[i].End > cues[i].Start, $"cue {i} is empty");
            if (i > 0)
            {
                Assert.Equal(cues[i - 1].End, cues[i].Start, 3);
            }

            var sheet = int.Parse(cues[i].File[7..10], CultureInfo.InvariantCulture);
            var (sw, sh) = layout.SheetSize(sheet);
            Assert.True(cues[i].X >= 0 && cues[i].Y >= 0 && cues[i].X + cues[i].W <= sw && cues[i].Y + cues[i].H <= sh,
                $"cue {i} region {cues[i].X},{cues[i].Y},{cues[i].W},{cues[i].H} outside {sw}x{sh}");
        }
    }

    [Fact]
    public void Tiles_are_160_wide_with_the_aspect_kept_and_fill_10x10_sheets()
    {
        var layout = new SpriteLayout(new SpriteSheetOptions(), 1234.56, 1920, 1080);
        Assert.Equal((160, 90), (layout.TileWidth, layout.TileHeight));
        Assert.Equal(247, layout.TileCount);
        Assert.Equal(3, layout.SheetCount);
        Assert.Equal((1600, 900), layout.SheetSize(0));
        Assert.Equal((1600, 900), layout.SheetSize(2)); // every sheet of a multi-sheet set has the full grid size (DASH)
        Assert.Equal((640, 90), new SpriteLayout(new SpriteSheetOptions(), 20, 1920, 1080).SheetSize(0)); // one sheet: 4 tiles
        Assert.Equal(new SpriteTile(123, 1, 3 * 160, 2 * 90, 160, 90, 615, 620), layout.Tile(123));
        Assert.Equal(120, new SpriteLayout(new SpriteSheetOptions(), 10, 720, 576, 16.0 / 15).TileHeight); // anamorphic PAL 4:3
    }

    [Theory]
    [InlineData(7.5, 3, 2)] // two sheets, the second partly filled
    [InlineData(2.5, 3, 2)] // one sheet, cropped to its tiles
    public void Builder_writes_every_sheet_as_a_jpeg_of_the_layout_size(double duration, int cols, int rows)
    {
        using var dir = new TempDir("sprites");
        var options = new SpriteSheetOptions { IntervalSeconds = 1, Columns = cols, Rows = rows };
        var layout = new SpriteLayout(options, duration, 320, 240);
        var tile = SyntheticFrames.Pattern(layout.TileWidth, layout.TileHeight);
        using (var builder = new SpriteSheetBuilder(options, layout.TileWidth, layout.TileHeight, dir.Path))
        {
            for (var i = 0; i < layout.TileCount - 1; i++)
            {
                if (i != 1) // a missing tile stays black, the sheet is still written
                {
                    builder.AddTile(i, tile.Planes);
                }
            }

            builder.Finish(layout); // the last tile never came: it repeats the previous picture
        }

        using var decoder = new JpegDecoder();
        for (var s = 0; s < layout.SheetCount; s++)
        {
            var info = decoder.ReadHeader(File.ReadAllBytes(Path.Combine(dir.Path, SpriteLayout.SheetFileName(s))));
            Assert.Equal(layout.SheetSize(s), (info.Width, info.Height));
        }

        Assert.Equal(layout.SheetCount, Directory.GetFiles(dir.Path).Length);
        Assert.All(Directory.GetFiles(dir.Path), f => Assert.Matches(@"sprite_\d{3}\.jpg$", f));
    }

    [Theory]
    [InlineData(0, 160)]
    [InlineData(5, 15)]
    [InlineData(5, 161)]
    public void Bad_sprite_options_are_refused(double interval, int width) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpriteLayout(new SpriteSheetOptions { IntervalSeconds = interval, TileWidth = width }, 10, 320, 240));

    internal sealed record Cue(double Start, double End, string File, int X, int Y, int W, int H);

    /// <summary>A strict reader for the subset players use: header, blank line, timing line, one payload line.</summary>
    internal static List<Cue> ParseVtt(string vtt)
    {
        var lines = vtt.Split('\n');
        Assert.Equal("WEBVTT", lines[0]);
        var cues = new List<Cue>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            var timing = TimingLine().Match(lines[i]);
            Assert.True(timing.Success, $"bad timing line '{lines[i]}'");
            var payload = PayloadLine().Match(lines[++i]);
            Assert.True(payload.Success, $"bad payload line '{lines[i]}'");
            cues.Add(new Cue(Seconds(timing.Groups[1].Value), Seconds(timing.Groups[2].Value), payload.Groups[1].Value,
                Int(payload.Groups[2]), Int(payload.Groups[3]), Int(payload.Groups[4]), Int(payload.Groups[5])));
        }

        return cues;
    }

    private static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);

    private static double Seconds(string ts)
    {
        var p = ts.Split(':');
        return (int.Parse(p[0], CultureInfo.InvariantCulture) * 3600) + (int.Parse(p[1], CultureInfo.InvariantCulture) * 60)
            + double.Parse(p[2], CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^(\d{2,}:\d{2}:\d{2}\.\d{3}) --> (\d{2,}:\d{2}:\d{2}\.\d{3})$")]
    private static partial Regex TimingLine();

    [GeneratedRegex(@"^(sprite_\d{3}\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$")]
    private static partial Regex PayloadLine();
}
