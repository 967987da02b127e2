using System.Globalization;
using System.Text;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// The scrub-preview track players read (video.js, JW Player, shaka): one WebVTT cue per tile whose payload is
/// `sprite_NNN.jpg#xywh=x,y,w,h` (a Media Fragments URI relative to the track).
/// </summary>
public static class WebVttThumbnailWriter
{
    public static string Write(SpriteLayout layout, string sheetUrlPrefix = "")
    {
        var sb = new StringBuilder(32 + (layout.TileCount * 80));
        sb.Append("WEBVTT\n");
        for (var i = 0; i < layout.TileCount; i++)
        {
            var t = layout.Tile(i);
            sb.Append('\n');
            AppendTimestamp(sb, t.Start);
            sb.Append(" --> ");
            AppendTimestamp(sb, t.End);
            sb.Append('\n');
            sb.Append(CultureInfo.InvariantCulture, $"{sheetUrlPrefix}{t.SheetFileName}#xywh={t.X},{t.Y},{t.Width},{t.Height}\n");
        }

        return sb.ToString();
    }

    /// <summary>hh:mm:ss.ttt (WebVTT requires hours when over an hour; always writing them is valid too).</summary>
    public static void AppendTimestamp(StringBuilder sb, double seconds)
    {
        var ms = (long)Math.Round(Math.Max(0, seconds) * 1000, MidpointRounding.AwayFromZero);
        var h = ms / 3_600_000;
        var m = ms / 60_000 % 60;
        var s = ms / 1000 % 60;
        var f = ms % 1000;
        sb.Append(CultureInfo.InvariantCulture, $"{h:00}:{m:00}:{s:00}.{f:000}");
    }
}
