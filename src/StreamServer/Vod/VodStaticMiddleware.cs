using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using StreamServer.Live;
using StreamServer.Transport;

namespace StreamServer.Vod;

/// <summary>
/// Library files through Kestrel's own HTTP stacks (HTTP/2 over TLS and h2c, HTTP/1.1 over TLS, and
/// cleartext HTTP/1.1 when the zero-copy path is off or has handed the connection over). Same
/// semantics as the raw path (shared <see cref="VodPath"/> and <see cref="VodResponsePlanner"/>);
/// headers come from values precomputed per file and the body is read (pread) straight into the
/// response pipe's pooled memory. Requests for anything that is not a published file fall through.
/// Also counts every other response in streamserver_http_requests_total (kind "api").
/// </summary>
internal sealed class VodStaticMiddleware
{
    private const int ChunkBytes = 64 * 1024;
    private const int MaxWaitingBodiesPerConnection = 8;
    private const int RefusedStream = 0x7;
    private static readonly StringValues AllowMethods = "GET, HEAD, OPTIONS";
    private static readonly StringValues AllowHeaders = "Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range, Origin";
    private static readonly StringValues PreflightMaxAge = "86400";
    private static readonly StringValues Bytes = "bytes";
    private static readonly StringValues AnyOrigin = "*";
    private static readonly StringValues ExposeHeaders = VodFile.ExposeHeaders;

    private readonly RequestDelegate _next;
    private readonly VodFileCache _cache;
    private readonly IWholeBodyGate _wholeBody;
    private readonly LiveChannelRegistry _channels;
    private readonly TimeSpan _reloadTimeout;
    private readonly TimeSpan _partTimeout;

    private readonly StringValues _hsts;

    public VodStaticMiddleware(RequestDelegate next, VodFileCache cache, IWholeBodyGate wholeBody, LiveChannelRegistry channels, LiveOptions live, TlsOptions tls)
    {
        _next = next;
        _cache = cache;
        _wholeBody = wholeBody;
        _channels = channels;

        // RFC 8216bis 6.2.5.2: a blocked reload that is not answered within three target durations may get 503.
        _reloadTimeout = TimeSpan.FromSeconds(Math.Max(3, 3 * live.SegmentSeconds));
        _partTimeout = TimeSpan.FromSeconds(Math.Max(1, 3 * live.PartSeconds));
        _hsts = tls.HstsMaxAgeSeconds > 0 ? $"max-age={tls.HstsMaxAgeSeconds}" : default;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        if (_hsts.Count > 0 && context.Request.IsHttps)
        {
            context.Response.Headers.StrictTransportSecurity = _hsts; // RFC 6797 7.2: only over secure transport
        }

        var protocol = ProtocolOf(context.Request);
        var raw = OriginForm(context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "");
        if (raw.Length == 0 || raw[0] != '/' || raw.Length > VodPath.MaxLength + 8 || !VodPath.HasServedPrefix(raw))
        {
            return CountingNext(context, protocol, start);
        }

        Span<byte> rawBytes = stackalloc byte[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            // Kestrel hands the target over as Latin-1; anything beyond ASCII is refused by VodPath below.
            rawBytes[i] = raw[i] < 0x80 ? (byte)raw[i] : (byte)0xff;
        }

        Span<char> relative = stackalloc char[VodPath.MaxLength];
        switch (VodPath.Decode(rawBytes, relative, out var written))
        {
            case VodPathStatus.NotVod:
                return CountingNext(context, protocol, start);
            case VodPathStatus.Invalid:
                context.Response.StatusCode = 400;
                context.Response.ContentLength = 0;
                if (protocol.Value is ServingMetrics.Http11 or ServingMetrics.Http10)
                {
                    context.Response.Headers.Connection = "close";
                }

                ServingMetrics.Response(protocol, VodKind.Other, 400, start, RequestRef.Of(context));
                return Task.CompletedTask;
        }

        // RFC 9110 9.1: method names are case-sensitive ("get" is not GET). Kestrel hands the known ones over interned.
        var method = context.Request.Method;
        var isHead = string.Equals(method, HttpMethods.Head, StringComparison.Ordinal);
        if (!isHead && !string.Equals(method, HttpMethods.Get, StringComparison.Ordinal))
        {
            if (string.Equals(method, HttpMethods.Options, StringComparison.Ordinal))
            {
                return Preflight(context, protocol, start);
            }

            return MethodNotAllowed(context, method, protocol, start);
        }

        var key = relative[..written];
        if (key.StartsWith(VodPath.LiveRoot + "/", StringComparison.Ordinal))
        {
            _channels.FindByKey(key)?.Viewers.Seen(context.Connection.Id.GetHashCode());
            if (LiveRequest.TryParse(key, raw, out var live))
            {
                if (live.IsSegment && _cache.TryAcquire(key, out var complete))
                {
                    return Serve(context, complete, isHead, protocol, start, _wholeBody); // written: a file like any other
                }

                return LiveAsync(context, key.ToString(), live, isHead, protocol, start);
            }
        }

        if (!_cache.TryAcquire(key, out var file))
        {
            return CountingNext(context, protocol, start);
        }

        return Serve(context, file, isHead, protocol, start, _wholeBody);
    }

    // Headers and a small body (playlist, MPD) are written synchronously into the response pipe and
    // left for Kestrel to flush when the request completes: no async state, no extra flush per response.
    // So are HTTP/2 bodies the whole-body gate admits (see WholeBodyGate). Other large bodies go through the
    // chunked asynchronous loop.
    private static Task Serve(HttpContext context, VodFile file, bool isHead, KeyValuePair<string, object?> protocol, long start, IWholeBodyGate wholeBody)
    {
        var status = 0;
        var handedOff = false;
        try
        {
            var plan = PlanFor(context.Request.Headers, file, isHead);
            status = plan.Status;
            var response = context.Response;
            response.StatusCode = plan.Status;
            var headers = response.Headers;
            headers.ContentType = file.ContentType;
            headers.AcceptRanges = Bytes;
            headers.ETag = file.ETag;
            headers.LastModified = file.LastModified;
            headers.CacheControl = file.CacheControlValue;
            headers.AccessControlAllowOrigin = AnyOrigin;
            headers.AccessControlExposeHeaders = ExposeHeaders;
            if (plan.Status == 206)
            {
                headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {plan.Offset}-{plan.Offset + plan.Count - 1}/{file.Length}");
            }
            else if (plan.Status == 416)
            {
                headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{file.Length}");
            }

            if (plan.Status != 304)
            {
                response.ContentLength = plan.Count; // 0 for 412 and 416
            }

            if (!plan.SendBody || plan.Count == 0)
            {
                return Task.CompletedTask;
            }

            if (file.SmallBody is { } small)
            {
                var writer = response.BodyWriter;
                var count = (int)plan.Count;
                small.Span.Slice((int)plan.Offset, count).CopyTo(writer.GetSpan(count));
                writer.Advance(count);
                ServingMetrics.BodyBytes(protocol, count, sendfile: false);
                return Task.CompletedTask;
            }

            var memory = context.Features.Get<IMemoryPoolFeature>() as ConnectionTransportMemory;
            if (protocol.Value is ServingMetrics.H2 or ServingMetrics.H2c && wholeBody.Allows(plan.Count, memory))
            {
                WriteWholeBody(context, file, plan.Offset, plan.Count, protocol, wholeBody.BlockBytes);
                return Task.CompletedTask;
            }

            handedOff = true;
            return WriteLargeBodyAsync(context, file, plan.Offset, plan.Count, protocol, start, wholeBody, memory);
        }
        finally
        {
            if (!handedOff)
            {
                file.Release();
                ServingMetrics.Response(protocol, file.Kind, status == 0 ? 500 : status, start, RequestRef.Of(context));
            }
        }
    }

    private static VodResponsePlan PlanFor(IHeaderDictionary requestHeaders, VodFile file, bool isHead)
    {
        // The six headers together fit 1 KiB for every player we know; a longer set (a long If-None-Match list) takes a
        // pooled buffer of the exact size, so the answer never depends on which path or port served the request.
        var needed = AsciiLength(requestHeaders.Range) + AsciiLength(requestHeaders.IfNoneMatch) + AsciiLength(requestHeaders.IfModifiedSince)
            + AsciiLength(requestHeaders.IfRange) + AsciiLength(requestHeaders.IfMatch) + AsciiLength(requestHeaders.IfUnmodifiedSince);
        byte[]? rented = null;
        Span<byte> buffer = needed <= 1024 ? stackalloc byte[1024] : (rented = ArrayPool<byte>.Shared.Rent(needed));
        try
        {
            var n = 0;
            var headers = new VodRequestHeaders(
                Ascii(requestHeaders.Range, buffer, ref n),
                Ascii(requestHeaders.IfNoneMatch, buffer, ref n),
                Ascii(requestHeaders.IfModifiedSince, buffer, ref n),
                Ascii(requestHeaders.IfRange, buffer, ref n),
                Ascii(requestHeaders.IfMatch, buffer, ref n),
                Ascii(requestHeaders.IfUnmodifiedSince, buffer, ref n));
            return VodResponsePlanner.Plan(file, isHead, headers);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static int AsciiLength(StringValues values)
    {
        var n = 0;
        for (var v = 0; v < values.Count; v++)
        {
            n += (values[v]?.Length ?? 0) + 2;
        }

        return n;
    }

    // Repeated header lines are joined with ", " as HTTP allows for list headers; a header sent empty is passed as
    // present (VodRequestHeaders.PresentButEmpty). Takes its bytes from buffer[n..] and moves n past them.
    private static ReadOnlySpan<byte> Ascii(StringValues values, Span<byte> buffer, ref int n)
    {
        if (values.Count == 0)
        {
            return default;
        }

        var begin = n;
        for (var v = 0; v < values.Count; v++)
        {
            if (v > 0)
            {
                buffer[n++] = (byte)',';
                buffer[n++] = (byte)' ';
            }

            n += Encoding.Latin1.GetBytes(values[v] ?? "", buffer[n..]);
        }

        return n == begin ? VodRequestHeaders.PresentButEmpty : buffer[begin..n];
    }

    /// <summary>RFC 9112 3.2.2: a server must accept the absolute form (proxies, some CDNs); its path and query are the target.</summary>
    private static string OriginForm(string raw)
    {
        if (raw.Length == 0 || raw[0] == '/')
        {
            return raw;
        }

        var scheme = raw.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? 7 : raw.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? 8 : 0;
        if (scheme == 0)
        {
            return raw;
        }

        var slash = raw.IndexOf('/', scheme);
        return slash < 0 ? "/" : raw[slash..];
    }

    // RFC 9110 15.5.6: a method the resource does not support gets 405 with Allow; one not known at all 501 (15.6.2).
    private static Task MethodNotAllowed(HttpContext context, string method, KeyValuePair<string, object?> protocol, long start)
    {
        var response = context.Response;
        var known = HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsPatch(method)
            || HttpMethods.IsTrace(method) || HttpMethods.IsConnect(method);
        var status = known && IsUpper(method) ? 405 : 501;
        response.StatusCode = status;
        response.ContentLength = 0;
        response.Headers.Allow = AllowMethods;
        ServingMetrics.Response(protocol, VodKind.Other, status, start, RequestRef.Of(context));
        return Task.CompletedTask;
    }

    private static bool IsUpper(string method)
    {
        foreach (var c in method)
        {
            if (c is < 'A' or > 'Z')
            {
                return false;
            }
        }

        return true;
    }

    private static void WriteWholeBody(HttpContext context, VodFile file, long offset, long count, KeyValuePair<string, object?> protocol, int blockBytes)
    {
        var writer = context.Response.BodyWriter;
        var sent = 0L;
        while (sent < count)
        {
            // At most one pool block per call, so every piece is a pooled block (a larger hint gets an ArrayPool array).
            var n = ReadNextPiece(context, writer, file, offset + sent, count - sent, blockBytes);
            if (n <= 0)
            {
                break;
            }

            sent += n;
        }

        ServingMetrics.BodyBytes(protocol, sent, sendfile: false);
    }

    /// <summary>Reads the next piece of the body (at most <paramref name="hint"/> bytes) straight into the response
    /// pipe; 0 when the file shrank under a published name, after aborting the response rather than sending it short.</summary>
    private static int ReadNextPiece(HttpContext context, PipeWriter writer, VodFile file, long position, long remaining, int hint)
    {
        var memory = writer.GetMemory((int)Math.Min(hint, remaining));
        var n = RandomAccess.Read(file.Handle!, memory.Span[..(int)Math.Min(memory.Length, remaining)], position);
        if (n <= 0)
        {
            context.Abort();
            return 0;
        }

        writer.Advance(n);
        return n;
    }

    private static async Task WriteLargeBodyAsync(HttpContext context, VodFile file, long offset, long count, KeyValuePair<string, object?> protocol, long start,
        IWholeBodyGate gate, ConnectionTransportMemory? memory)
    {
        var writer = context.Response.BodyWriter;
        var sent = 0L;
        try
        {
            while (sent < count)
            {
                if (!gate.HasRoom(ChunkBytes, memory))
                {
                    if (memory!.Waiters >= MaxWaitingBodiesPerConnection && context.Features.Get<IHttpResetFeature>() is { } reset)
                    {
                        // RFC 9113 8.7: REFUSED_STREAM tells the client nothing was processed and it may retry the request.
                        reset.Reset(RefusedStream);
                        return;
                    }

                    if (!await WaitForRoomAsync(context, gate, memory))
                    {
                        context.Abort(); // HTTP/2: RST_STREAM for this stream; the connection's stall check handles the rest
                        return;
                    }
                }

                var n = ReadNextPiece(context, writer, file, offset + sent, count - sent, ChunkBytes);
                if (n <= 0)
                {
                    return;
                }

                sent += n;
                var flush = await writer.FlushAsync(context.RequestAborted);
                if (flush.IsCanceled || flush.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Client went away.
        }
        finally
        {
            file.Release();
            ServingMetrics.BodyBytes(protocol, sent, sendfile: false);
            ServingMetrics.Response(protocol, file.Kind, context.Response.StatusCode, start, RequestRef.Of(context));
        }
    }

    // A chunk over the budget waits for the connection to return memory (its client taking queued bytes, another stream
    // ending), for at most the send timeout. Only the connection's own returns can make room: once it holds next to
    // nothing, the server-wide budget no longer applies to it (WholeBodyGate.HasRoom).
    private static async Task<bool> WaitForRoomAsync(HttpContext context, IWholeBodyGate gate, ConnectionTransportMemory memory)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(gate.SendTimeout.TotalSeconds * Stopwatch.Frequency);
        while (!gate.HasRoom(ChunkBytes, memory))
        {
            var left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return false;
            }

            await memory.WaitForReturnAsync(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency), context.RequestAborted);
        }

        return true;
    }

    private static Task Preflight(HttpContext context, KeyValuePair<string, object?> protocol, long start)
    {
        var response = context.Response;
        response.StatusCode = 204;
        var headers = response.Headers;
        headers.AccessControlAllowOrigin = "*";
        headers.AccessControlAllowMethods = AllowMethods;
        headers.AccessControlAllowHeaders = AllowHeaders;
        headers.AccessControlMaxAge = PreflightMaxAge;
        ServingMetrics.Response(protocol, VodKind.Other, 204, start, RequestRef.Of(context));
        return Task.CompletedTask;
    }

    // A live request that may have to wait: a blocking playlist reload (_HLS_msn), or a part that is announced but not
    // yet written (the preload hint). It waits as a task for the channel's next publish, then is served like any file.
    private async Task LiveAsync(HttpContext context, string key, LiveRequest live, bool isHead, KeyValuePair<string, object?> protocol, long start)
    {
        if (live.Invalid)
        {
            await Refuse(context, 400, protocol, start);
            return;
        }

        var channel = _channels.Find(live.Channel);
        if (live.IsSegment)
        {
            await OpenSegmentAsync(context, key, live, channel, isHead, protocol, start);
            return;
        }

        var releasedAt = 0L;
        if (live.Waits && channel is not null && !(live.IsPart && _cache.TryAcquire(key, out var existing) && Release(existing)))
        {
            LiveReloadOutcome outcome;
            try
            {
                (outcome, releasedAt) = await channel.Reload.WaitTimedAsync(live.Audio, live.Msn, live.Part, live.IsPart ? _partTimeout : _reloadTimeout,
                    context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return; // the client left while waiting
            }

            if (outcome != LiveReloadOutcome.Ready && !live.IsPart)
            {
                await Refuse(context, outcome == LiveReloadOutcome.TooFarAhead ? 400 : 503, protocol, start);
                return;
            }
        }

        // The delta form when asked for and written (a low-latency channel that is live); else the whole playlist.
        if (!(live.Skip && _cache.TryAcquire(string.Concat(key.AsSpan(0, key.Length - Transcode.Live.LiveRemuxer.MediaPlaylist.Length), Transcode.Live.LiveRemuxer.DeltaPlaylist), out var file))
            && !_cache.TryAcquire(key, out file))
        {
            await CountingNext(context, protocol, start);
            return;
        }

        await Serve(context, file, isHead, protocol, start, _wholeBody);
        channel?.Reload.Answered(releasedAt);
    }

    // A segment that is not a file yet: read from the packager while it is written, or (the next one, named by a preload
    // hint with BYTERANGE-START=0 or asked for by an LL-DASH player at its availability start) waited for until it begins.
    private async Task OpenSegmentAsync(HttpContext context, string key, LiveRequest live, LiveChannel? channel, bool isHead,
        KeyValuePair<string, object?> protocol, long start)
    {
        var packager = channel?.Packager;
        var segment = packager?.AcquireOpenSegment(live.Track, live.Msn);
        if (segment is null && channel is not null && packager is not null)
        {
            try
            {
                await channel.Reload.WaitAsync(live.Audio, live.Msn, 0, _partTimeout, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // Open now, or already complete: the writer renames the file in before it lets go of the open segment, so
            // when this finds none the file is there (looked up below).
            segment = packager.AcquireOpenSegment(live.Track, live.Msn);
        }

        if (segment is null)
        {
            if (_cache.TryAcquire(key, out var file))
            {
                await Serve(context, file, isHead, protocol, start, _wholeBody);
            }
            else
            {
                await CountingNext(context, protocol, start);
            }

            return;
        }

        try
        {
            await OpenSegmentResponse.WriteAsync(context, key, segment, isHead, protocol, start, _partTimeout);
        }
        finally
        {
            segment.Release();
        }
    }

    private static bool Release(VodFile file)
    {
        file.Release();
        return true;
    }

    private static Task Refuse(HttpContext context, int status, KeyValuePair<string, object?> protocol, long start)
    {
        context.Response.StatusCode = status;
        context.Response.ContentLength = 0;
        context.Response.Headers.CacheControl = "no-store";
        ServingMetrics.Response(protocol, VodKind.Playlist, status, start, RequestRef.Of(context));
        return Task.CompletedTask;
    }

    private async Task CountingNext(HttpContext context, KeyValuePair<string, object?> protocol, long start)
    {
        var status = 500;
        try
        {
            await _next(context);
            status = context.Response.StatusCode;
        }
        finally
        {
            ServingMetrics.ApiResponse(protocol, status, start, RequestRef.Of(context));
        }
    }

    public static KeyValuePair<string, object?> ProtocolOf(HttpRequest request)
    {
        var p = request.Protocol;
        if (HttpProtocol.IsHttp2(p))
        {
            return ServingMetrics.Protocol(request.IsHttps ? ServingMetrics.H2 : ServingMetrics.H2c);
        }

        return ServingMetrics.Protocol(HttpProtocol.IsHttp10(p) ? ServingMetrics.Http10 : ServingMetrics.Http11);
    }
}
