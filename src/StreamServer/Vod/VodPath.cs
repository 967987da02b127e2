namespace StreamServer.Vod;

internal enum VodPathStatus
{
    /// <summary>Not a /vod/{id}/{file} or /live/{channel}/{file} target: the application decides (routing, 404).</summary>
    NotVod,

    /// <summary>A /vod/ or /live/ target that tries to escape or hide (traversal, encoded dots, dot-folders, NUL, backslash): 400.</summary>
    Invalid,

    /// <summary>A clean "vod/id/relative/path" or "live/channel/relative/path" written to the destination.</summary>
    Valid,
}

/// <summary>
/// Turns the raw request target (bytes as they came off the wire, before any decoding or dot-segment
/// removal) into the served-file key "vod/id/rel/path" (library) or "live/channel/rel/path" (live window): the
/// root's name, then the path below it. It is deliberately strict: published
/// libraries only contain plain ASCII names, so any percent-escape of a separator or dot, any
/// dot-prefixed segment (".", "..", ".staging-*"), empty segment, backslash or control byte is refused
/// rather than normalised. Both serving paths call this same function on the raw target.
/// </summary>
internal static class VodPath
{
    public const int MaxLength = 1024;

    public const string VodRoot = "vod";
    public const string LiveRoot = "live";

    /// <summary>True when the raw target (as Kestrel hands it over) is under one of the served roots.</summary>
    public static bool HasServedPrefix(string rawTarget) =>
        rawTarget.StartsWith("/vod/", StringComparison.Ordinal) || rawTarget.StartsWith("/live/", StringComparison.Ordinal);

    public static VodPathStatus Decode(ReadOnlySpan<byte> rawTarget, Span<char> destination, out int written)
    {
        written = 0;
        var query = rawTarget.IndexOf((byte)'?');
        var path = query >= 0 ? rawTarget[..query] : rawTarget;
        var prefix = path.StartsWith("/vod/"u8) ? 5 : path.StartsWith("/live/"u8) ? 6 : 0;
        if (prefix == 0)
        {
            return VodPathStatus.NotVod;
        }

        // The key keeps the root's name ("vod/" or "live/"): it is copied as is, the rest is checked below.
        if (path.Length > MaxLength || path.Length > destination.Length)
        {
            return VodPathStatus.Invalid;
        }

        for (var i = 1; i < prefix; i++)
        {
            destination[written++] = (char)path[i];
        }

        path = path[prefix..];
        var segments = 0;
        var segmentStart = written;
        for (var i = 0; i < path.Length; i++)
        {
            var b = path[i];
            char c;
            if (b == (byte)'%')
            {
                if (i + 2 >= path.Length || !TryHex(path[i + 1], out var hi) || !TryHex(path[i + 2], out var lo))
                {
                    return VodPathStatus.Invalid;
                }

                c = (char)((hi << 4) | lo);
                i += 2;

                // An escaped separator, dot, percent or anything outside plain names is how traversal
                // and double-decoding attacks are spelled; real library names never need it.
                if (!IsNameChar(c) || c == '.')
                {
                    return VodPathStatus.Invalid;
                }
            }
            else if (b == (byte)'/')
            {
                if (written == segmentStart)
                {
                    return VodPathStatus.Invalid; // "//" or an absolute path after the prefix
                }

                segments++;
                destination[written++] = '/';
                segmentStart = written;
                continue;
            }
            else
            {
                c = (char)b;
                if (b >= 0x80 || !(IsNameChar(c) || c == '.'))
                {
                    return VodPathStatus.Invalid;
                }

                if (c == '.' && written == segmentStart)
                {
                    return VodPathStatus.Invalid; // ".", "..", ".staging-*", dot files
                }
            }

            destination[written++] = c;
        }

        if (written == segmentStart)
        {
            // "/vod/x/" or "/vod/": a folder, and folders are never listed.
            return VodPathStatus.NotVod;
        }

        return segments >= 1 ? VodPathStatus.Valid : VodPathStatus.NotVod;
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '~' or '=' or ',' or '+' or '@';

    private static bool TryHex(byte b, out int value)
    {
        value = b switch
        {
            >= (byte)'0' and <= (byte)'9' => b - '0',
            >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
            >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
            _ => -1,
        };
        return value >= 0;
    }
}
