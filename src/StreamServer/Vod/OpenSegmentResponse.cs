using System.Globalization;
using Microsoft.Extensions.Primitives;
using StreamServer.Transcode.Live;

namespace StreamServer.Vod;

/// <summary>
/// Answers a request for a live segment that is still being written, from its bytes in the buffer pool
/// (<see cref="LiveOpenSegment"/>), part by whole part as they complete:
/// <list type="bullet">
/// <item>a bounded range (an EXT-X-PART BYTERANGE) waits until its bytes are there, then is a 206 with its length;</item>
/// <item>an open range (<c>bytes=N-</c>, the EXT-X-PRELOAD-HINT BYTERANGE-START) or no range (an LL-DASH player asking
/// for the segment at its availability start) streams the segment from there to its end as parts complete: chunked
/// on HTTP/1.1, DATA frames on HTTP/2. The length is not known yet, so a 206 says <c>bytes N-9007199254740991/*</c>,
/// the form RFC 8673 gives for content that is still growing.</item>
/// </list>
/// Waiting is a task per request (no thread); a segment whose next part takes longer than <c>partWait</c> ends the
/// response (404 when nothing was sent yet, else the connection is aborted so the client sees a short body).
/// </summary>
internal static class OpenSegmentResponse
{
    /// <summary>The last-byte-pos of an open range over a growing resource (RFC 8673: 2^53 - 1).</summary>
    private const long GrowingEnd = 9007199254740991;
    private static readonly StringValues NoCache = "no-cache";

    public static async Task WriteAsync(HttpContext context, string key, LiveOpenSegment segment, bool isHead, KeyValuePair<string, object?> protocol,
        long start, TimeSpan partWait)
    {
        var status = 500;
        try
        {
            status = await RespondAsync(context, key, segment, isHead, protocol, partWait);
        }
        finally
        {
            ServingMetrics.Response(protocol, VodKind.Segment, status, start, RequestRef.Of(context));
        }
    }

    private static async Task<int> RespondAsync(HttpContext context, string key, LiveOpenSegment segment, bool isHead, KeyValuePair<string, object?> protocol,
        TimeSpan partWait)
    {
        var aborted = context.RequestAborted;
        var (from, to, ranged) = Range(context.Request.Headers.Range);
        // The first byte asked for (and, for a bounded range, the last) must be in whole parts before anything is said.
        var needed = to >= 0 ? to : from;
        while (segment.Committed <= needed && !segment.IsComplete && !segment.IsAbandoned)
        {
            if (!await Arrived(segment.WaitBeyondAsync(needed), partWait, aborted))
            {
                return NotThere(context);
            }
        }

        var committed = segment.Committed;
        if (from >= committed)
        {
            if (!segment.IsComplete)
            {
                return NotThere(context); // abandoned before reaching it
            }

            context.Response.StatusCode = 416;
            context.Response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{committed}");
            context.Response.ContentLength = 0;
            return 416;
        }

        var response = context.Response;
        var headers = response.Headers;
        VodContentTypes.TryGet(key, out var contentType, out _);
        headers.ContentType = contentType;
        headers.AccessControlAllowOrigin = "*";
        headers.AccessControlExposeHeaders = VodFile.ExposeHeaders;
        var complete = segment.IsComplete;
        if (to >= 0 || complete)
        {
            // Bounded: the bytes never change once there (whole parts), so it may be cached like the segment.
            var last = to >= 0 ? Math.Min(to, committed - 1) : committed - 1;
            var status = ranged ? 206 : 200;
            response.StatusCode = status;
            if (ranged)
            {
                headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{last}/{(complete ? committed.ToString(CultureInfo.InvariantCulture) : "*")}");
            }

            headers.CacheControl = VodFile.CacheControl;
            response.ContentLength = last - from + 1;
            if (!isHead)
            {
                await SendAsync(context, segment, from, last + 1, protocol);
            }

            return status;
        }

        response.StatusCode = ranged ? 206 : 200;
        if (ranged)
        {
            headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{GrowingEnd}/*");
        }

        headers.CacheControl = NoCache;
        if (isHead)
        {
            return response.StatusCode;
        }

        var sent = from;
        while (true)
        {
            committed = segment.Committed;
            if (committed > sent)
            {
                await SendAsync(context, segment, sent, committed, protocol);
                sent = committed;
                continue;
            }

            if (segment.IsComplete)
            {
                return response.StatusCode;
            }

            if (segment.IsAbandoned || !await Arrived(segment.WaitBeyondAsync(sent), partWait, aborted))
            {
                context.Abort(); // a short body must not look like a whole one
                return response.StatusCode;
            }
        }
    }

    // Copies [from, end) into the response (Kestrel's pipe: chunks on HTTP/1.1, DATA frames on HTTP/2) and flushes it.
    private static async Task SendAsync(HttpContext context, LiveOpenSegment segment, long from, long end, KeyValuePair<string, object?> protocol)
    {
        var writer = context.Response.BodyWriter;
        segment.CopyTo(from, end - from, writer);
        ServingMetrics.BodyBytes(protocol, end - from, sendfile: false);
        await writer.FlushAsync(context.RequestAborted);
    }

    private static async Task<bool> Arrived(Task grown, TimeSpan wait, CancellationToken aborted)
    {
        try
        {
            await grown.WaitAsync(wait, aborted);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static int NotThere(HttpContext context)
    {
        context.Response.StatusCode = 404;
        context.Response.ContentLength = 0;
        context.Response.Headers.CacheControl = "no-store";
        return 404;
    }

    // "bytes=a-b" (to = b) or "bytes=a-" (to = -1); anything else (no header, suffix, several ranges) is the whole segment.
    private static (long From, long To, bool Ranged) Range(StringValues header)
    {
        if (header.Count != 1 || header[0] is not { Length: > 0 and <= 256 } value)
        {
            return (0, -1, false);
        }

        Span<byte> bytes = stackalloc byte[value.Length];
        for (var i = 0; i < value.Length; i++)
        {
            bytes[i] = value[i] < 0x80 ? (byte)value[i] : (byte)0xff; // Kestrel hands headers over as Latin-1
        }

        if (!VodResponsePlanner.TryParseRange(bytes, out var from, out var to, out var suffix) || suffix)
        {
            return (0, -1, false);
        }

        return (from, to == long.MaxValue ? -1 : to, true);
    }
}
