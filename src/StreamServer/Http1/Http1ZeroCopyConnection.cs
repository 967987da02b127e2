using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using StreamServer.Interop;
using StreamServer.Transport;
using StreamServer.Vod;

namespace StreamServer.Http1;

/// <summary>
/// One cleartext connection while the zero-copy path owns it. Per response: the head is built into
/// one per-connection buffer from per-file precomputed bytes; a small body (playlist, MPD) leaves with
/// the head in ONE gathered sendmsg; a larger body leaves by sendfile(2) from the cached descriptor
/// after a sendmsg(MSG_MORE) of the head, so head and first body bytes share a packet. Nothing on
/// this path allocates per request; EAGAIN waits on the shared epoll waiter.
/// </summary>
internal sealed class Http1ZeroCopyConnection
{
    private const int HeadBufferBytes = 4096;

    private readonly Http1ZeroCopyMiddleware _owner;
    private readonly ConnectionContext _connection;
    private readonly Socket? _socket;
    private readonly bool _serveMedia;
    private readonly int _fd;
    private readonly int _maxHead;
    private readonly TimeSpan _keepAliveTimeout;
    private readonly TimeSpan _headersTimeout;
    private readonly TimeSpan _sendTimeout;
    private byte[]? _head;
    private byte[]? _flat;
    private SocketWritableWaiter.Registration? _waiter;

    // The response being sent (set by Step, used by the async send; no span survives an await).
    private VodFile? _file;
    private VodResponsePlan _plan;
    private int _headLength;
    private bool _keepAlive;
    private KeyValuePair<string, object?> _protocol;
    private long _started;
    private bool _isHead;
    private bool _isHttp10;
    private long _requestNumber;

    // A byte range of a live segment still being written: sent by sendfile from the buffer pool's memfd.
    private Transcode.Live.LiveOpenSegment? _open;
    private long _openOffset;
    private long _openCount;
    private string? _openPath; // for the access log only
    private readonly (long Offset, int Length)[] _runs = new (long, int)[8];

    public Http1ZeroCopyConnection(Http1ZeroCopyMiddleware owner, ConnectionContext connection, Socket? socket, bool serveMedia)
    {
        _owner = owner;
        _connection = connection;
        _socket = socket;
        _serveMedia = serveMedia;
        _fd = socket is null ? -1 : (int)socket.Handle;
        var o = owner.Options;
        _maxHead = o.MaxRequestLineBytes + o.MaxRequestHeadersBytes + 4;
        _keepAliveTimeout = TimeSpan.FromSeconds(o.KeepAliveTimeoutSeconds);
        _headersTimeout = TimeSpan.FromSeconds(o.RequestHeadersTimeoutSeconds);
        _sendTimeout = TimeSpan.FromSeconds(owner.Transport.SendTimeoutSeconds);
    }

    private enum StepResult
    {
        NeedMore,
        HandOff,
        HandOffHttp2,
        Respond,
        EmptyLines,
        BadHttp2Preface,
    }

    public async Task RunAsync()
    {
        var input = _connection.Transport.Input;
        var handOff = false;
        using (var timeout = new CancellationTokenSource())
        {
            var shutdown = _connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? default;
            using var shutdownRegistration = shutdown.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
            try
            {
                // The first request must arrive within the headers timeout, like nginx's client_header_timeout: the
                // keep-alive timeout is for idle time between requests, not a free wait for a connection that sends nothing.
                timeout.CancelAfter(_headersTimeout);
                var headTimerArmed = false;
                while (!handOff)
                {
                    ReadResult result;
                    try
                    {
                        result = await input.ReadAsync(timeout.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        // Idle keep-alive and server shutdown close silently; a request head that
                        // started but did not complete in time (slowloris) gets Kestrel's answer first.
                        if (headTimerArmed && !shutdown.IsCancellationRequested)
                        {
                            SendRequestTimeout();
                        }

                        return;
                    }
                    catch (IOException)
                    {
                        return; // ConnectionResetException: the client went away between requests
                    }

                    var buffer = result.Buffer;
                    if (!buffer.IsEmpty && !headTimerArmed)
                    {
                        // The request head has started (empty lines count): from now on it must complete within
                        // the headers timeout, however slowly its bytes trickle in.
                        timeout.CancelAfter(_headersTimeout);
                        headTimerArmed = true;
                    }

                    while (!buffer.IsEmpty)
                    {
                        var step = Step(buffer, out var consumed);
                        if (step == StepResult.NeedMore)
                        {
                            break;
                        }

                        if (step == StepResult.EmptyLines)
                        {
                            buffer = buffer.Slice(consumed);
                            continue;
                        }

                        if (step == StepResult.BadHttp2Preface && _owner.H2c)
                        {
                            SendGoAwayProtocolError();
                            input.AdvanceTo(buffer.End);
                            return;
                        }

                        if (step is StepResult.HandOff or StepResult.HandOffHttp2 or StepResult.BadHttp2Preface)
                        {
                            if (step == StepResult.HandOffHttp2 && _owner.H2c)
                            {
                                H2cPriorKnowledge.Select(_connection);
                            }

                            handOff = true;
                            break;
                        }

                        var ok = await SendResponseAsync();
                        buffer = buffer.Slice(consumed);
                        if (!ok || !_keepAlive)
                        {
                            input.AdvanceTo(buffer.Start);
                            return;
                        }

                        headTimerArmed = false;
                        timeout.CancelAfter(_keepAliveTimeout);
                    }

                    if (handOff)
                    {
                        // Examined nothing past here: Kestrel's first read sees these bytes at once.
                        input.AdvanceTo(buffer.Start);
                        break;
                    }

                    if (result.IsCompleted || result.IsCanceled)
                    {
                        if (buffer.IsEmpty)
                        {
                            input.AdvanceTo(buffer.End);
                            return;
                        }

                        // A truncated request before EOF: let Kestrel give it its usual answer.
                        input.AdvanceTo(buffer.Start);
                        handOff = true;
                        break;
                    }

                    if (!buffer.IsEmpty && !headTimerArmed)
                    {
                        // A pipelined request that began after the previous response.
                        timeout.CancelAfter(_headersTimeout);
                        headTimerArmed = true;
                    }

                    input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
            finally
            {
                _waiter?.Dispose();
                _waiter = null;
                if (_head is not null)
                {
                    ArrayPool<byte>.Shared.Return(_head);
                    _head = null;
                }

                if (_flat is not null)
                {
                    ArrayPool<byte>.Shared.Return(_flat);
                    _flat = null;
                }
            }
        }

        await SocketSendPipe.RunAsync(_connection, _owner.Next, _owner.Transport);
    }

    // The server preface (an empty SETTINGS frame, which must come first) and GOAWAY(last stream 0, PROTOCOL_ERROR).
    // Best effort, one non-blocking send; the connection closes either way.
    private void SendGoAwayProtocolError()
    {
        if (_fd < 0)
        {
            return;
        }

        ReadOnlySpan<byte> frames =
        [
            0, 0, 0, 0x4, 0, 0, 0, 0, 0, // SETTINGS, length 0
            0, 0, 8, 0x7, 0, 0, 0, 0, 0, // GOAWAY, length 8, stream 0
            0, 0, 0, 0, 0, 0, 0, 0x1, // last stream id 0, error PROTOCOL_ERROR
        ];
        LinuxSocket.Send(_fd, frames, default, more: false);
    }

    // Kestrel's answer to RequestHeadersTimeout (BadHttpRequest 408): empty body, connection closes.
    // Best effort, one non-blocking send: a client that cannot take ~100 bytes is closed without it.
    private void SendRequestTimeout()
    {
        if (_fd < 0)
        {
            return;
        }

        Span<byte> response = stackalloc byte[Http1ResponseHead.RequestTimeoutBytes];
        var n = Http1ResponseHead.WriteRequestTimeout(response);
        LinuxSocket.Send(_fd, response[..n], default, more: false);
    }

    private StepResult Step(in ReadOnlySequence<byte> buffer, out long consumed)
    {
        consumed = 0;
        ReadOnlySpan<byte> data;
        if (buffer.IsSingleSegment)
        {
            data = buffer.FirstSpan;
        }
        else
        {
            var length = (int)Math.Min(buffer.Length, _maxHead);
            _flat ??= ArrayPool<byte>.Shared.Rent(_maxHead);
            buffer.Slice(0, length).CopyTo(_flat);
            data = _flat.AsSpan(0, length);
        }

        if (data[0] is (byte)'\r' or (byte)'\n')
        {
            // RFC 9112 2.2: empty lines before a request line are ignored (they do not restart any timer).
            var skip = 0;
            while (skip + 1 < data.Length && data[skip] == (byte)'\r' && data[skip + 1] == (byte)'\n')
            {
                skip += 2;
            }

            if (skip == 0)
            {
                return data.Length < 2 ? StepResult.NeedMore : StepResult.HandOff;
            }

            consumed = skip;
            return StepResult.EmptyLines;
        }

        if (data[0] == (byte)'P')
        {
            var preface = H2cPriorKnowledge.Preface;
            var n = Math.Min(data.Length, preface.Length);
            if (data[..n].SequenceEqual(preface[..n]))
            {
                return n < preface.Length ? StepResult.NeedMore : StepResult.HandOffHttp2;
            }

            // "PRI * HTTP/2.0" and then something else: an HTTP/2 client with a broken preface, owed an HTTP/2 answer
            // (RFC 9113 3.4: a connection error of type PROTOCOL_ERROR), not an HTTP/1.1 status line.
            return data.StartsWith(H2cPriorKnowledge.PrefaceRequestLine) ? StepResult.BadHttp2Preface : StepResult.HandOff;
        }

        if (!_serveMedia)
        {
            return StepResult.HandOff;
        }

        var o = _owner.Options;
        var request = default(Http1Request);
        switch (Http1RequestParser.Parse(data, o.MaxRequestLineBytes, o.MaxRequestHeadersBytes, o.MaxRequestHeaderCount, ref request))
        {
            case Http1ParseStatus.Incomplete:
                return buffer.Length > _maxHead ? StepResult.HandOff : StepResult.NeedMore;
            case Http1ParseStatus.HandOff:
                return StepResult.HandOff;
        }

        Span<char> relative = stackalloc char[VodPath.MaxLength];
        var decoded = VodPath.Decode(request.Target, relative, out var written);
        var live = decoded == VodPathStatus.Valid && relative.StartsWith(VodPath.LiveRoot + "/");
        if (live)
        {
            _owner.Channels.FindByKey(relative[..written])?.Viewers.Seen(_connection.ConnectionId.GetHashCode());
        }

        var hasQuery = request.Target.Contains((byte)'?');
        if (decoded != VodPathStatus.Valid || (hasQuery && live) || !_owner.Cache.TryAcquire(relative[..written], out var file))
        {
            if (live && !hasQuery && TryOpenSegmentRange(relative[..written], request))
            {
                consumed = request.HeadLength;
                return StepResult.Respond;
            }

            // Not a published file (or a refused path), or a live request that may have to wait for the packager (blocking
            // playlist reload, preload-hinted part): Kestrel's pipeline answers (404, thumbnails, 400, live waits).
            return StepResult.HandOff;
        }

        _head ??= ArrayPool<byte>.Shared.Rent(HeadBufferBytes);
        if (file.CommonHeaderBytes.Length + Http1ResponseHead.Overhead > _head.Length)
        {
            file.Release();
            return StepResult.HandOff;
        }

        _started = Stopwatch.GetTimestamp();
        _file = file;
        _keepAlive = request.KeepAlive;
        _protocol = ServingMetrics.Protocol(request.IsHttp10 ? ServingMetrics.Http10 : ServingMetrics.Http11);
        _isHead = request.IsHead;
        _isHttp10 = request.IsHttp10;
        _plan = VodResponsePlanner.Plan(file, request.IsHead, new VodRequestHeaders(request.Range, request.IfNoneMatch, request.IfModifiedSince, request.IfRange, request.IfMatch, request.IfUnmodifiedSince));
        _headLength = Http1ResponseHead.Write(_head, file, _plan, _keepAlive, request.IsHttp10);
        consumed = request.HeadLength;
        return StepResult.Respond;
    }

    // A bounded range of a live segment being written whose bytes are all there (a listed byte-range part): answered here
    // from the pool's memfd. Anything that must wait or stream (the hinted range, a whole open segment) is Kestrel's.
    private bool TryOpenSegmentRange(ReadOnlySpan<char> key, in Http1Request request)
    {
        if (request.Range.IsEmpty || !VodResponsePlanner.TryParseRange(request.Range, out var from, out var to, out var suffix) || suffix || to == long.MaxValue)
        {
            return false;
        }

        if (!Live.LiveRequest.TrySplit(key, out _, out var track, out var file) || !Live.LiveRequest.TrySegmentNumber(file, out var number))
        {
            return false;
        }

        var segment = _owner.Channels.FindByKey(key)?.Packager?.AcquireOpenSegment(track, number);
        if (segment is null)
        {
            return false;
        }

        if (segment.Committed <= to || segment.MemoryFile is null)
        {
            segment.Release();
            return false;
        }

        _head ??= ArrayPool<byte>.Shared.Rent(HeadBufferBytes);
        _started = Stopwatch.GetTimestamp();
        _open = segment;
        _openOffset = from;
        _openCount = to - from + 1;
        _openPath = _owner.AccessLog.Enabled ? key.ToString() : null;
        _keepAlive = request.KeepAlive;
        _protocol = ServingMetrics.Protocol(request.IsHttp10 ? ServingMetrics.Http10 : ServingMetrics.Http11);
        _isHead = request.IsHead;
        _isHttp10 = request.IsHttp10;
        _headLength = Http1ResponseHead.WriteOpenSegmentRange(_head, track.SequenceEqual(Transcode.Packaging.Packager.AudioFolder),
            from, _openCount, _keepAlive, request.IsHttp10);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendOpenSegmentRangeAsync()
    {
        var segment = _open!;
        var ok = false;
        try
        {
            ok = await SendBuffersAsync(_head!, _headLength, null, 0, 0, more: !_isHead);
            var fd = segment.MemoryFile!.DangerousGetHandle(); // valid: the pool lives as long as the server
            var (offset, count) = (_openOffset, _openCount);
            while (ok && !_isHead && count > 0)
            {
                var runs = segment.FileRuns(offset, count, _runs);
                for (var i = 0; ok && i < runs; i++)
                {
                    ok = await SendFileAsync(fd, _runs[i].Offset, _runs[i].Length);
                    offset += _runs[i].Length;
                    count -= _runs[i].Length;
                }
            }
        }
        finally
        {
            _open = null;
            segment.Release();
            var bodyBytes = ok && !_isHead ? _openCount : 0;
            ServingMetrics.BodyBytes(_protocol, bodyBytes, sendfile: true);
            _requestNumber++;
            ServingMetrics.Response(_protocol, VodKind.Segment, 206, _started, RequestRef.Of(_connection.ConnectionId, _requestNumber));
            if (_owner.AccessLog.Enabled && _openPath is not null)
            {
                _owner.AccessLog.Record(new Logging.AccessLogEntry(DateTimeOffset.UtcNow, _isHead ? "HEAD" : "GET", _openPath,
                    _isHttp10 ? "HTTP/1.0" : "HTTP/1.1", 206, bodyBytes, Stopwatch.GetElapsedTime(_started).TotalMilliseconds,
                    _connection.ConnectionId, _requestNumber, null, _connection.RemoteEndPoint));
            }
        }

        return ok;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendResponseAsync()
    {
        if (_open is not null)
        {
            return await SendOpenSegmentRangeAsync();
        }

        var file = _file!;
        var plan = _plan;
        var bodyBytes = 0L;
        var viaSendfile = false;
        var ok = false;
        try
        {
            if (!plan.SendBody || plan.Count == 0)
            {
                ok = await SendBuffersAsync(_head!, _headLength, null, 0, 0, more: false);
            }
            else if (file.SmallBody is { } small)
            {
                ok = await SendBuffersAsync(_head!, _headLength, small, (int)plan.Offset, (int)plan.Count, more: false);
                bodyBytes = ok ? plan.Count : 0;
            }
            else
            {
                viaSendfile = true;
                ok = await SendBuffersAsync(_head!, _headLength, null, 0, 0, more: true)
                    && await SendFileAsync(file.Handle!.DangerousGetHandle(), plan.Offset, plan.Count); // valid: the response holds a lease
                bodyBytes = ok ? plan.Count : 0;
            }
        }
        finally
        {
            _file = null;
            file.Release();
            ServingMetrics.BodyBytes(_protocol, bodyBytes, viaSendfile);
            _requestNumber++;
            ServingMetrics.Response(_protocol, file.Kind, plan.Status, _started, RequestRef.Of(_connection.ConnectionId, _requestNumber));
            if (_owner.AccessLog.Enabled)
            {
                _owner.AccessLog.Record(new Logging.AccessLogEntry(DateTimeOffset.UtcNow, _isHead ? "HEAD" : "GET", file.RequestPath,
                    _isHttp10 ? "HTTP/1.0" : "HTTP/1.1", plan.Status, bodyBytes, Stopwatch.GetElapsedTime(_started).TotalMilliseconds,
                    _connection.ConnectionId, _requestNumber, null, _connection.RemoteEndPoint));
            }
        }

        return ok;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendBuffersAsync(byte[] first, int firstLength, NativeBody? second, int secondOffset, int secondLength, bool more)
    {
        var firstSent = 0;
        var secondSent = 0;
        while (firstSent < firstLength || secondSent < secondLength)
        {
            var n = LinuxSocket.Send(_fd, first.AsSpan(firstSent, firstLength - firstSent),
                second is null ? default : second.Span.Slice(secondOffset + secondSent, secondLength - secondSent), more);
            if (n == -Libc.EAGAIN)
            {
                if (!await WaitWritableAsync())
                {
                    return false;
                }

                continue;
            }

            if (n <= 0)
            {
                return false; // EPIPE / ECONNRESET: the client is gone
            }

            var toFirst = (int)Math.Min(n, firstLength - firstSent);
            firstSent += toFirst;
            secondSent += (int)(n - toFirst);
        }

        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendFileAsync(nint fileFd, long offset, long count)
    {
        while (count > 0)
        {
            var n = LinuxSocket.SendFile(_fd, fileFd, offset, count);
            if (n == -Libc.EAGAIN)
            {
                if (!await WaitWritableAsync())
                {
                    return false;
                }

                continue;
            }

            if (n <= 0)
            {
                return false; // client gone, or the file shrank (n == 0): never pad a short body
            }

            offset += n;
            count -= n;
        }

        return true;
    }

    private ValueTask<bool> WaitWritableAsync()
    {
        _waiter ??= SocketWritableWaiter.Instance.Register(_fd);
        return _waiter.WaitAsync(_sendTimeout);
    }
}
