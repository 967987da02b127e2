using System.Globalization;

namespace StreamServer.LoadTest.Players;

/// <summary>The parts of HLS playlists a player needs: variants (master), init + segments (media).</summary>
internal sealed record Variant(Uri Uri, long Bandwidth, string? Resolution, string? AudioGroup);

/// <summary>A media playlist. Live ones carry the media sequence, the wall-clock start of each segment and, for LL-HLS,
/// the listed parts with the msn of the segment they belong to.</summary>
internal sealed record MediaPlaylist(Uri? Init, List<(Uri Uri, double Duration)> Segments)
{
    public long MediaSequence { get; init; }

    public double TargetDuration { get; init; }

    public bool Ended { get; init; }

    /// <summary>PART-TARGET; 0 when the playlist has no parts.</summary>
    public double PartTarget { get; init; }

    public List<Part> Parts { get; init; } = [];

    /// <summary>EXT-X-PROGRAM-DATE-TIME of each segment by msn (the open one included once it has parts).</summary>
    public Dictionary<long, DateTimeOffset> StartTimes { get; init; } = [];

    /// <summary>The msn of the segment being written (the one after the last complete segment).</summary>
    public long OpenMsn => MediaSequence + Segments.Count;
}

/// <summary>
/// An EXT-X-PART: <paramref name="Msn"/> is the segment it belongs to, <paramref name="Index"/> its place in it;
/// <paramref name="Length"/> > 0 when it is the byte range [<paramref name="Offset"/>, +<paramref name="Length"/>) of <paramref name="Uri"/>.
/// </summary>
internal sealed record Part(Uri Uri, double Duration, bool Independent, long Msn, int Index, long Offset = 0, long Length = -1);

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
        var parts = new List<Part>();
        var starts = new Dictionary<long, DateTimeOffset>();
        double? duration = null;
        long sequence = 0;
        double target = 0, partTarget = 0;
        var ended = false;
        var partIndex = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal))
            {
                init = new Uri(baseUri, Attributes(line["#EXT-X-MAP:".Length..])["URI"]);
            }
            else if (line.StartsWith("#EXT-X-MEDIA-SEQUENCE:", StringComparison.Ordinal))
            {
                sequence = long.Parse(line["#EXT-X-MEDIA-SEQUENCE:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-SKIP:", StringComparison.Ordinal))
            {
                // A delta playlist: the skipped segments still count in the numbering of what follows.
                sequence += long.Parse(Attributes(line["#EXT-X-SKIP:".Length..])["SKIPPED-SEGMENTS"], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-TARGETDURATION:", StringComparison.Ordinal))
            {
                target = double.Parse(line["#EXT-X-TARGETDURATION:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-PART-INF:", StringComparison.Ordinal))
            {
                partTarget = double.Parse(Attributes(line["#EXT-X-PART-INF:".Length..])["PART-TARGET"], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-PROGRAM-DATE-TIME:", StringComparison.Ordinal))
            {
                starts[sequence + segments.Count] = DateTimeOffset.Parse(line["#EXT-X-PROGRAM-DATE-TIME:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-PART:", StringComparison.Ordinal))
            {
                var attrs = Attributes(line["#EXT-X-PART:".Length..]);
                long offset = 0, length = -1;
                if (attrs.TryGetValue("BYTERANGE", out var range))
                {
                    var at = range.IndexOf('@', StringComparison.Ordinal);
                    length = long.Parse(at < 0 ? range : range[..at], CultureInfo.InvariantCulture);
                    offset = at < 0 ? 0 : long.Parse(range[(at + 1)..], CultureInfo.InvariantCulture);
                }

                parts.Add(new Part(new Uri(baseUri, attrs["URI"]), double.Parse(attrs["DURATION"], CultureInfo.InvariantCulture),
                    attrs.GetValueOrDefault("INDEPENDENT") == "YES", sequence + segments.Count, partIndex++, offset, length));
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                var value = line["#EXTINF:".Length..].Split(',')[0];
                duration = double.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (line == "#EXT-X-ENDLIST")
            {
                ended = true;
            }
            else if (duration is { } d && line.Length > 0 && line[0] != '#')
            {
                segments.Add((new Uri(baseUri, line), d));
                duration = null;
                partIndex = 0;
            }
        }

        return new MediaPlaylist(init, segments)
        {
            MediaSequence = sequence,
            TargetDuration = target,
            Ended = ended,
            PartTarget = partTarget,
            Parts = parts,
            StartTimes = starts,
        };
    }

    /// <summary>Attribute lists (RFC 8216 4.2): KEY=value pairs, values optionally quoted, commas inside quotes.</summary>
    public static Dictionary<string, string> Attributes(string list)
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
                if (close < 0)
                {
                    throw new FormatException($"unterminated quoted value in \"{list}\"");
                }

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
