namespace StreamServer.Http1;

/// <summary>
/// A strict HTTP/1.1 request-head parser (RFC 9112) over a contiguous span. Its accepted language is a
/// subset of Kestrel's: exactly "GET"/"HEAD", an origin-form target, "HTTP/1.1" or "HTTP/1.0", CRLF line
/// ends, token header names directly followed by ':', field values of visible characters, at most one
/// Host (required for 1.1, a plain host[:port]), no body. Whatever falls outside is handed to
/// Kestrel untouched, so both paths answer malformed input identically (Kestrel's 400/414/431) and
/// this parser never has to get an error response right.
/// </summary>
internal static class Http1RequestParser
{
    public static Http1ParseStatus Parse(ReadOnlySpan<byte> data, int maxRequestLine, int maxHeadersBytes, int maxHeaderCount, ref Http1Request request)
    {
        var lineEnd = data.IndexOf((byte)'\n');
        if (lineEnd < 0)
        {
            return data.Length > maxRequestLine ? Http1ParseStatus.HandOff : Http1ParseStatus.Incomplete;
        }

        if (lineEnd + 1 > maxRequestLine || lineEnd == 0 || data[lineEnd - 1] != (byte)'\r')
        {
            return Http1ParseStatus.HandOff;
        }

        var line = data[..(lineEnd - 1)];
        if (!line.StartsWith("GET "u8) && !line.StartsWith("HEAD "u8))
        {
            return Http1ParseStatus.HandOff;
        }

        request = default;
        request.IsHead = line.StartsWith("HEAD "u8);
        line = line[(request.IsHead ? 5 : 4)..];
        var space = line.IndexOf((byte)' ');
        if (space <= 0 || line[0] != (byte)'/')
        {
            return Http1ParseStatus.HandOff;
        }

        request.Target = line[..space];
        foreach (var b in request.Target)
        {
            // Visible ASCII only: no controls, spaces, NUL or bytes above 0x7e (RFC 3986 characters and '%').
            if (b <= 0x20 || b >= 0x7f)
            {
                return Http1ParseStatus.HandOff;
            }
        }

        var version = line[(space + 1)..];
        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            request.IsHttp10 = false;
        }
        else if (version.SequenceEqual("HTTP/1.0"u8))
        {
            request.IsHttp10 = true;
        }
        else
        {
            return Http1ParseStatus.HandOff;
        }

        var hosts = 0;
        var contentLengths = 0;
        var count = 0;
        var pos = lineEnd + 1;
        while (true)
        {
            var rest = data[pos..];
            var nl = rest.IndexOf((byte)'\n');
            if (nl < 0)
            {
                return pos - lineEnd - 1 + rest.Length > maxHeadersBytes ? Http1ParseStatus.HandOff : Http1ParseStatus.Incomplete;
            }

            if (nl == 0 || rest[nl - 1] != (byte)'\r')
            {
                return Http1ParseStatus.HandOff; // bare LF
            }

            var field = rest[..(nl - 1)];
            pos += nl + 1;
            if (pos - lineEnd - 1 > maxHeadersBytes)
            {
                return Http1ParseStatus.HandOff;
            }

            if (field.IsEmpty)
            {
                break;
            }

            if (++count > maxHeaderCount)
            {
                return Http1ParseStatus.HandOff;
            }

            var colon = field.IndexOf((byte)':');
            if (colon <= 0)
            {
                return Http1ParseStatus.HandOff; // includes obs-fold (line starting with SP/HTAB has no token before ':')
            }

            var name = field[..colon];
            foreach (var b in name)
            {
                if (!IsTokenChar(b))
                {
                    return Http1ParseStatus.HandOff;
                }
            }

            var value = field[(colon + 1)..];
            foreach (var b in value)
            {
                // Visible ASCII, SP and HTAB only: bytes above 0x7e go to Kestrel, which refuses them (400) on every port.
                if ((b < 0x20 && b != (byte)'\t') || b >= 0x7f)
                {
                    return Http1ParseStatus.HandOff;
                }
            }

            value = value.Trim(" \t"u8);
            switch (Classify(name))
            {
                case Field.Host:
                    if (++hosts > 1 || !IsPlainHost(value))
                    {
                        return Http1ParseStatus.HandOff;
                    }

                    break;
                case Field.Body:
                    // A request body (even an empty chunked one) or an upgrade: Kestrel's business.
                    if (!value.SequenceEqual("0"u8) || !name.EqualsLower("content-length"u8, true) || ++contentLengths > 1)
                    {
                        return Http1ParseStatus.HandOff;
                    }

                    break;
                case Field.Connection:
                    if (!ParseConnection(value, ref request))
                    {
                        return Http1ParseStatus.HandOff;
                    }

                    break;
                case Field.Range:
                    if (!request.Range.IsEmpty)
                    {
                        return Http1ParseStatus.HandOff;
                    }

                    request.Range = OrPresent(value);
                    break;
                case Field.IfNoneMatch:
                    if (!request.IfNoneMatch.IsEmpty)
                    {
                        return Http1ParseStatus.HandOff;
                    }

                    request.IfNoneMatch = OrPresent(value);
                    break;
                case Field.IfMatch:
                    if (!request.IfMatch.IsEmpty)
                    {
                        return Http1ParseStatus.HandOff;
                    }

                    request.IfMatch = OrPresent(value);
                    break;
                case Field.IfModifiedSince:
                    request.IfModifiedSince = OrPresent(value);
                    break;
                case Field.IfUnmodifiedSince:
                    request.IfUnmodifiedSince = OrPresent(value);
                    break;
                case Field.IfRange:
                    request.IfRange = OrPresent(value);
                    break;
            }
        }

        if (hosts == 0 && !request.IsHttp10)
        {
            return Http1ParseStatus.HandOff;
        }

        request.HeadLength = pos;
        return Http1ParseStatus.Complete;
    }

    private static ReadOnlySpan<byte> OrPresent(ReadOnlySpan<byte> value) => value.IsEmpty ? Vod.VodRequestHeaders.PresentButEmpty : value;

    private enum Field
    {
        Other,
        Host,
        Body,
        Connection,
        Range,
        IfNoneMatch,
        IfModifiedSince,
        IfRange,
        IfMatch,
        IfUnmodifiedSince,
    }

    private static Field Classify(ReadOnlySpan<byte> name)
    {
        // Length first keeps this to one or two case-insensitive compares per field.
        return name.Length switch
        {
            4 when name.EqualsLower("host"u8, true) => Field.Host,
            5 when name.EqualsLower("range"u8, true) => Field.Range,
            6 when name.EqualsLower("expect"u8, true) => Field.Body,
            7 when name.EqualsLower("upgrade"u8, true) => Field.Body,
            8 when name.EqualsLower("if-range"u8, true) => Field.IfRange,
            8 when name.EqualsLower("if-match"u8, true) => Field.IfMatch,
            10 when name.EqualsLower("connection"u8, true) => Field.Connection,
            13 when name.EqualsLower("if-none-match"u8, true) => Field.IfNoneMatch,
            14 when name.EqualsLower("content-length"u8, true) => Field.Body,
            17 when name.EqualsLower("transfer-encoding"u8, true) => Field.Body,
            17 when name.EqualsLower("if-modified-since"u8, true) => Field.IfModifiedSince,
            19 when name.EqualsLower("if-unmodified-since"u8, true) => Field.IfUnmodifiedSince,
            _ => Field.Other,
        };
    }

    private static bool EqualsLower(this ReadOnlySpan<byte> span, ReadOnlySpan<byte> lowerAscii, bool ignoreCase)
    {
        if (span.Length != lowerAscii.Length)
        {
            return false;
        }

        for (var i = 0; i < span.Length; i++)
        {
            var b = span[i];
            if (ignoreCase && b is >= (byte)'A' and <= (byte)'Z')
            {
                b = (byte)(b | 0x20);
            }

            if (b != lowerAscii[i])
            {
                return false;
            }
        }

        return true;
    }

    private static bool ParseConnection(ReadOnlySpan<byte> value, ref Http1Request request)
    {
        while (!value.IsEmpty)
        {
            var comma = value.IndexOf((byte)',');
            var token = (comma >= 0 ? value[..comma] : value).Trim(" \t"u8);
            value = comma >= 0 ? value[(comma + 1)..] : default;
            if (token.EqualsLower("close"u8, true))
            {
                request.ConnectionClose = true;
            }
            else if (token.EqualsLower("keep-alive"u8, true))
            {
                request.ConnectionKeepAlive = true;
            }
            else if (token.EqualsLower("upgrade"u8, true))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPlainHost(ReadOnlySpan<byte> host)
    {
        if (host.IsEmpty)
        {
            return false;
        }

        var colon = host.IndexOf((byte)':');
        var name = colon >= 0 ? host[..colon] : host;
        if (name.IsEmpty)
        {
            return false;
        }

        foreach (var b in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'.' or (byte)'-'))
            {
                return false;
            }
        }

        if (colon >= 0)
        {
            var port = host[(colon + 1)..];
            if (port.IsEmpty || port.Length > 5)
            {
                return false;
            }

            foreach (var b in port)
            {
                if (b is < (byte)'0' or > (byte)'9')
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static bool IsTokenChar(byte b) => b < 0x80 && (char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.IndexOf(b) >= 0);
}
