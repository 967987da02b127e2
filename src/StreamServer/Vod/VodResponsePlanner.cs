namespace StreamServer.Vod;

/// <summary>
/// The one place that decides conditional and range semantics (RFC 9110 sections 13 and 14) for a
/// library file, shared by the raw HTTP/1.1 path and the Kestrel path so they cannot drift apart.
/// </summary>
internal static class VodResponsePlanner
{
    public static VodResponsePlan Plan(VodFile file, bool isHead, in VodRequestHeaders headers)
    {
        var length = file.Length;

        // 13.2.2 steps 1-2: If-Match (strong comparison), else If-Unmodified-Since; a failed precondition is 412.
        if (!headers.IfMatch.IsEmpty)
        {
            if (!Matches(headers.IfMatch, file.ETagBytes, weak: false))
            {
                return new VodResponsePlan(412, 0, 0, false);
            }
        }
        else if (!headers.IfUnmodifiedSince.IsEmpty && HttpDate.TryParse(headers.IfUnmodifiedSince, out var unmodifiedSince) && file.LastModifiedUtc > unmodifiedSince)
        {
            return new VodResponsePlan(412, 0, 0, false);
        }

        // 13.2.2 steps 3-4: If-None-Match; If-Modified-Since only counts when If-None-Match is absent.
        if (!headers.IfNoneMatch.IsEmpty)
        {
            if (Matches(headers.IfNoneMatch, file.ETagBytes, weak: true))
            {
                return new VodResponsePlan(304, 0, 0, false);
            }
        }
        else if (!headers.IfModifiedSince.IsEmpty && HttpDate.TryParse(headers.IfModifiedSince, out var since) && file.LastModifiedUtc <= since)
        {
            return new VodResponsePlan(304, 0, 0, false);
        }

        // 14.2: Range is only defined for GET; If-Range turns a stale range request into a full one.
        if (!isHead && !headers.Range.IsEmpty && IfRangeHolds(headers.IfRange, file))
        {
            switch (ParseRange(headers.Range, length, out var start, out var count))
            {
                case RangeResult.Satisfiable:
                    return new VodResponsePlan(206, start, count, true);
                case RangeResult.Unsatisfiable:
                    return new VodResponsePlan(416, 0, 0, false);
            }
        }

        return new VodResponsePlan(200, 0, length, !isHead);
    }

    private enum RangeResult
    {
        Ignore,
        Satisfiable,
        Unsatisfiable,
    }

    private static bool IfRangeHolds(ReadOnlySpan<byte> ifRange, VodFile file)
    {
        if (ifRange.IsEmpty)
        {
            return true; // absent
        }

        ifRange = ifRange.Trim(" \t"u8);
        if (ifRange.IsEmpty)
        {
            return false; // present but blank: matches nothing, so the whole file (found by fuzzing: it indexed past the end)
        }

        if (ifRange[0] == (byte)'"')
        {
            return ifRange.SequenceEqual(file.ETagBytes); // strong comparison only
        }

        return HttpDate.TryParse(ifRange, out var date) && date == file.LastModifiedUtc;
    }

    // One range only ("bytes=a-b", "bytes=a-", "bytes=-n"); a multi-range request gets the whole
    // file (200), which RFC 9110 14.2 allows; an unparseable header is ignored.
    private static RangeResult ParseRange(ReadOnlySpan<byte> value, long length, out long start, out long count)
    {
        start = 0;
        count = 0;
        if (!TryParseRange(value, out var from, out var to, out var suffix))
        {
            return RangeResult.Ignore;
        }

        if (suffix)
        {
            if (to == 0 || length == 0)
            {
                return RangeResult.Unsatisfiable;
            }

            count = Math.Min(to, length);
            start = length - count;
            return RangeResult.Satisfiable;
        }

        if (from >= length)
        {
            return RangeResult.Unsatisfiable;
        }

        start = from;
        count = Math.Min(to, length - 1) - from + 1;
        return RangeResult.Satisfiable;
    }

    /// <summary>
    /// The syntax of a single-range Range header (RFC 9110 14.1.2), whatever the resource's length: "bytes=a-b" (a, b),
    /// "bytes=a-" (a, long.MaxValue), "bytes=-n" (<paramref name="suffix"/>: n in <paramref name="last"/>). False for
    /// anything else (other units, several ranges, b before a), which a server ignores. Also used for growing live
    /// segments, whose length is not known yet.
    /// </summary>
    public static bool TryParseRange(ReadOnlySpan<byte> value, out long first, out long last, out bool suffix)
    {
        first = 0;
        last = long.MaxValue;
        suffix = false;
        value = value.Trim((byte)' ');
        if (value.Length < 7 || !value[..6].SequenceEqual("bytes="u8))
        {
            return false;
        }

        var spec = value[6..].Trim((byte)' ');
        var dash = spec.IndexOf((byte)'-');
        if (spec.IndexOf((byte)',') >= 0 || dash < 0)
        {
            return false;
        }

        var from = spec[..dash].Trim((byte)' ');
        var to = spec[(dash + 1)..].Trim((byte)' ');
        if (from.IsEmpty)
        {
            suffix = true;
            return TryDigits(to, out last);
        }

        return TryDigits(from, out first) && (to.IsEmpty || TryDigits(to, out last)) && last >= first;
    }

    // 14.1.1: positions are digit strings of any length; one past what a long holds saturates at long.MaxValue, which
    // is beyond every file (a first position there is unsatisfiable, a last position there is clamped to the end).
    private static bool TryDigits(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (var b in s)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            var digit = b - '0';
            value = value > (long.MaxValue - digit) / 10 ? long.MaxValue : (value * 10) + digit;
        }

        return true;
    }

    /// <summary>
    /// Whether an entity-tag list matches the file's tag; "*" matches any existing file. If-Match compares strongly (a
    /// weak tag never matches, 13.1.1), If-None-Match weakly (W/"x" matches "x", 13.1.2).
    /// </summary>
    private static bool Matches(ReadOnlySpan<byte> list, ReadOnlySpan<byte> etag, bool weak)
    {
        while (!list.IsEmpty)
        {
            var comma = list.IndexOf((byte)',');
            var item = (comma >= 0 ? list[..comma] : list).Trim((byte)' ');
            list = comma >= 0 ? list[(comma + 1)..] : default;
            if (item.Length == 1 && item[0] == (byte)'*')
            {
                return true;
            }

            if (weak && item.StartsWith("W/"u8))
            {
                item = item[2..];
            }

            if (item.SequenceEqual(etag))
            {
                return true;
            }
        }

        return false;
    }
}
