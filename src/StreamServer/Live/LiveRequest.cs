using System.Globalization;

namespace StreamServer.Live;

/// <summary>
/// A /live/ request that may wait for the packager: a media playlist with _HLS_msn (and _HLS_part), a part file
/// (part_{msn}_{index}.m4s, what EXT-X-PRELOAD-HINT names before it exists), or a segment (seg_{msn}.m4s: while it is
/// written, its byte-range parts and LL-DASH chunks are read from the packager). Parsed from the served-file key
/// ("live/{channel}/{track}/{file}") and the raw target's query. <see cref="Skip"/>: _HLS_skip=YES or v2 asks for the
/// playlist's delta form (RFC 8216bis 6.2.5.1); without _HLS_msn such a request does not wait (Msn is -1).
/// </summary>
internal readonly record struct LiveRequest(string Channel, bool Audio, int Msn, int Part, bool IsPart, bool Invalid, bool Skip = false,
    bool IsSegment = false, string Track = "")
{
    /// <summary>Whether the request waits for the packager (a blocking reload or a hinted part).</summary>
    public bool Waits => IsPart || (Msn >= 0 && !IsSegment);

    /// <summary>The parts of a served-file key "live/{channel}/{track}/{file}", without allocating; false for other shapes.</summary>
    public static bool TrySplit(ReadOnlySpan<char> key, out ReadOnlySpan<char> channel, out ReadOnlySpan<char> track, out ReadOnlySpan<char> file)
    {
        channel = track = file = default;
        var rest = key[(Vod.VodPath.LiveRoot.Length + 1)..];
        var slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        channel = rest[..slash];
        var inTrack = rest[(slash + 1)..];
        var trackEnd = inTrack.IndexOf('/');
        if (trackEnd <= 0)
        {
            return false;
        }

        track = inTrack[..trackEnd];
        file = inTrack[(trackEnd + 1)..];
        return true;
    }

    /// <summary>The media sequence number of a segment file name (seg_{msn}.m4s).</summary>
    public static bool TrySegmentNumber(ReadOnlySpan<char> file, out int number)
    {
        number = 0;
        return file.StartsWith("seg_", StringComparison.Ordinal) && file.EndsWith(".m4s", StringComparison.Ordinal) && TryNumber(file[4..^4], out number);
    }

    public static bool TryParse(ReadOnlySpan<char> key, string rawTarget, out LiveRequest request)
    {
        request = default;
        if (!TrySplit(key, out var channel, out var track, out var file))
        {
            return false;
        }

        var audio = track.SequenceEqual(Transcode.Packaging.Packager.AudioFolder);
        if (file.StartsWith("part_", StringComparison.Ordinal) && file.EndsWith(".m4s", StringComparison.Ordinal))
        {
            var name = file[5..^4];
            var underscore = name.IndexOf('_');
            if (underscore <= 0 || !TryNumber(name[..underscore], out var msn) || !TryNumber(name[(underscore + 1)..], out var index))
            {
                return false; // not a part name: an ordinary lookup (404)
            }

            request = new LiveRequest(channel.ToString(), audio, msn, index, IsPart: true, Invalid: false);
            return true;
        }

        if (file.StartsWith("seg_", StringComparison.Ordinal))
        {
            if (!TrySegmentNumber(file, out var number))
            {
                return false;
            }

            request = new LiveRequest(channel.ToString(), audio, number, -1, IsPart: false, Invalid: false, IsSegment: true, Track: track.ToString());
            return true;
        }

        var query = rawTarget.IndexOf('?');
        if (query < 0 || !file.SequenceEqual(Transcode.Live.LiveRemuxer.MediaPlaylist))
        {
            return false;
        }

        var q = rawTarget.AsSpan(query + 1);
        var hasMsn = TryParameter(q, "_HLS_msn", out var msnText);
        var hasPart = TryParameter(q, "_HLS_part", out var partText);
        var skip = TryParameter(q, "_HLS_skip", out var skipText) && (skipText.SequenceEqual("YES") || skipText.SequenceEqual("v2"));
        if (!hasMsn && !hasPart)
        {
            if (skip)
            {
                request = new LiveRequest(channel.ToString(), audio, -1, -1, IsPart: false, Invalid: false, Skip: true);
            }

            return skip;
        }

        // RFC 8216bis 6.2.5.2: _HLS_part without _HLS_msn, or either not a decimal integer, is a 400.
        var part = -1;
        var valid = TryNumber(msnText, out var msnValue) && hasMsn && (!hasPart || TryNumber(partText, out part));
        request = new LiveRequest(channel.ToString(), audio, msnValue, part, IsPart: false, Invalid: !valid, Skip: skip);
        return true;
    }

    private static bool TryParameter(ReadOnlySpan<char> query, string name, out ReadOnlySpan<char> value)
    {
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            if (pair.Length > name.Length && pair.StartsWith(name, StringComparison.Ordinal) && pair[name.Length] == '=')
            {
                value = pair[(name.Length + 1)..];
                return true;
            }
        }

        value = default;
        return false;
    }

    private static bool TryNumber(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 9)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        value = int.Parse(text, CultureInfo.InvariantCulture);
        return true;
    }
}
