using System.Globalization;

namespace StreamServer.LoadTest;

/// <summary>The parts of HLS playlists a player needs: variants (master), init + segments (media).</summary>
internal sealed record Variant(Uri Uri, long Bandwidth, string? Resolution, string? AudioGroup);

internal sealed record MediaPlaylist(Uri? Init, List<(Uri Uri, double Duration)> Segments);

internal static class HlsPlaylist
{
    public static (List<Variant> Variants, Dictionary<string, Uri> AudioGroups) ParseMaster(string text, Uri baseUri)
    {
        var variants = new List<Variant>();
        var audio = new Dictionary<string, Uri>(StringComparer.Ordinal);
        string? pending = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal))
            {
                var attrs = Attributes(line["#EXT-X-MEDIA:".Length..]);
                if (attrs.GetValueOrDefault("TYPE") == "AUDIO" && attrs.TryGetValue("GROUP-ID", out var group) && attrs.TryGetValue("URI", out var uri))
                {
                    audio.TryAdd(group, new Uri(baseUri, uri));
                }
            }
            else if (line.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal))
            {
                pending = line["#EXT-X-STREAM-INF:".Length..];
            }
            else if (pending is not null && line.Length > 0 && line[0] != '#')
            {
                var attrs = Attributes(pending);
                variants.Add(new Variant(new Uri(baseUri, line),
                    long.Parse(attrs.GetValueOrDefault("BANDWIDTH", "0"), CultureInfo.InvariantCulture),
                    attrs.GetValueOrDefault("RESOLUTION"), attrs.GetValueOrDefault("AUDIO")));
                pending = null;
            }
        }

        variants.Sort(static (a, b) => a.Bandwidth.CompareTo(b.Bandwidth));
        return (variants, audio);
    }

    public static MediaPlaylist ParseMedia(string text, Uri baseUri)
    {
        Uri? init = null;
        var segments = new List<(Uri, double)>();
        double? duration = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal))
            {
                init = new Uri(baseUri, Attributes(line["#EXT-X-MAP:".Length..])["URI"]);
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                var value = line["#EXTINF:".Length..].Split(',')[0];
                duration = double.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (duration is { } d && line.Length > 0 && line[0] != '#')
            {
                segments.Add((new Uri(baseUri, line), d));
                duration = null;
            }
        }

        return new MediaPlaylist(init, segments);
    }

    /// <summary>Attribute lists (RFC 8216 4.2): KEY=value pairs, values optionally quoted, commas inside quotes.</summary>
    private static Dictionary<string, string> Attributes(string list)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < list.Length)
        {
            var eq = list.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            var key = list[i..eq].Trim();
            string value;
            if (eq + 1 < list.Length && list[eq + 1] == '"')
            {
                var close = list.IndexOf('"', eq + 2);
                value = list[(eq + 2)..close];
                i = close + 1;
            }
            else
            {
                var comma = list.IndexOf(',', eq);
                value = comma < 0 ? list[(eq + 1)..] : list[(eq + 1)..comma];
                i = comma < 0 ? list.Length : comma;
            }

            result[key] = value;
            if (i < list.Length && list[i] == ',')
            {
                i++;
            }
        }

        return result;
    }
}
