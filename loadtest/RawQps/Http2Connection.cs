using System.Buffers.Binary;
using System.Buffers.Text;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.RawQps;

/// <summary>
/// One HTTP/2 connection (h2c with prior knowledge on http://, h2 over TLS with ALPN on https://) whose streams send the
/// run's GET over and over, framed by hand as h2load does:
/// the request's header block is built once (literal fields, never indexed), each request is one HEADERS frame with a
/// new stream id, and responses are read by one receive loop that takes the status from the first header field and
/// counts DATA bytes. It advertises a header table of 0 bytes, so the server's HPACK encoder keeps no dynamic table and
/// a header block can be read without state; stream windows are 2 GiB and the connection's 64 MiB is topped up each
/// time half of it arrived, so bodies never wait for us. No
/// allocation per request: SocketsHttpHandler spends ~21 us of CPU on each, which on 2 cores shared with the server
/// makes the tool the bottleneck.
/// </summary>
internal sealed class Http2Connection : IDisposable
{
    private const int HeaderSize = 9;
    private const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, WindowUpdate = 0x8;
    private const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;
    private const int MaxWindow = int.MaxValue;
    private const int ConnectionWindow = 64 << 20; // h2load's default is 1 GiB; 64 MiB is plenty on loopback and gets topped up often
    private const int WindowTopUpBytes = ConnectionWindow / 2;

    private readonly EndPoint _endPoint;
    private readonly byte[] _request; // one HEADERS frame; the stream id is patched in under _sendLock
    private readonly Lock _sendLock = new();
    private readonly SemaphoreSlim _openGate = new(1, 1);
    private readonly byte[] _receive = new byte[256 * 1024]; // >= one frame at the default 16 KiB SETTINGS_MAX_FRAME_SIZE
    private readonly TimeSpan _timeout;
    private readonly CancellationToken _stop;
    private readonly CancellationTokenRegistration _stopRegistration;
    private readonly Timer _timeoutTimer;
    private Http2Stream[] _streamArray = [];
    private readonly bool _tls;
    private readonly string _host;
    private volatile Stream? _transport; // NetworkStream, or SslStream over it
    private int _nextStreamId = 1;
    private int _unacknowledgedBytes;

    public Http2Connection(Uri url, TimeSpan timeout, CancellationToken stop)
    {
        _endPoint = IPAddress.TryParse(url.Host, out var ip) ? new IPEndPoint(ip, url.Port) : new DnsEndPoint(url.Host, url.Port);
        _tls = url.Scheme == Uri.UriSchemeHttps;
        _host = url.Host;
        _request = RequestFrame(url, _tls);
        _timeout = timeout;
        _stop = stop;
        _stopRegistration = stop.Register(static c => ((Http2Connection)c!).FailAll(new OperationCanceledException("the run ended"), null), this);
        var check = TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 4, 10, 250));
        _timeoutTimer = new Timer(static c => ((Http2Connection)c!).ExpireOverdue(), this, check, check);
    }

    /// <summary>A requester sending on this connection; one request at a time, as one of h2load's -m streams.</summary>
    public Http2Stream OpenStream()
    {
        var stream = new Http2Stream(this, _stop);
        lock (_sendLock)
        {
            _streamArray = [.. _streamArray, stream]; // a new array: the receive loop reads the old one without a lock
        }

        return stream;
    }

    internal bool IsOpen => _transport is not null;

    /// <summary>Connects and exchanges SETTINGS (the empty header table is in force once the server acknowledged).</summary>
    /// <returns>Null when open, else why it could not be opened.</returns>
    internal async Task<string?> OpenAsync()
    {
        await _openGate.WaitAsync(_stop);
        try
        {
            if (_transport is not null)
            {
                return null;
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Stream? transport = null;
            using var opening = CancellationTokenSource.CreateLinkedTokenSource(_stop);
            opening.CancelAfter(_timeout);
            try
            {
                await socket.ConnectAsync(_endPoint, opening.Token);
                transport = new NetworkStream(socket, ownsSocket: true); // only a connected socket has one
                if (_tls)
                {
                    var tls = new SslStream(transport, leaveInnerStreamOpen: false);
                    transport = tls;
                    await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = _host,
                        ApplicationProtocols = [SslApplicationProtocol.Http2],
                        RemoteCertificateValidationCallback = static (_, _, _, _) => true, // a load tool, not a browser
                    }, opening.Token);
                    if (tls.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
                    {
                        await transport.DisposeAsync();
                        return "the server did not agree to h2 (ALPN)";
                    }
                }

                await transport.WriteAsync(ConnectionPreface(), opening.Token);
                var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _ = ReceiveLoopAsync(transport, acknowledged);
                await acknowledged.Task.WaitAsync(opening.Token);
            }
            catch (Exception e) when (e is SocketException or IOException or AuthenticationException
                || (e is OperationCanceledException && !_stop.IsCancellationRequested))
            {
                if (transport is null)
                {
                    socket.Dispose();
                }
                else
                {
                    await transport.DisposeAsync();
                }

                return e is SocketException s ? $"connect: {s.SocketErrorCode}" : $"HTTP/2 connection setup: {e.Message}";
            }

            _nextStreamId = 1;
            _unacknowledgedBytes = 0;
            _transport = transport;
            return null;
        }
        finally
        {
            _openGate.Release();
        }
    }

    /// <summary>Sends the stream's HEADERS frame with the next stream id; false (and why) when the connection is gone.</summary>
    internal bool TrySend(Http2Stream stream, out string? error)
    {
        Stream? broken;
        lock (_sendLock)
        {
            broken = _transport;
            if (broken is null)
            {
                error = "connection closed";
                return false;
            }

            var id = _nextStreamId;
            if (id > MaxWindow - 2)
            {
                error = "stream ids exhausted"; // a new connection, as a client must
            }
            else
            {
                _nextStreamId += 2;
                stream.StreamId = id;
                BinaryPrimitives.WriteInt32BigEndian(_request.AsSpan(5), id);
                try
                {
                    broken.Write(_request);
                    error = null;
                    return true;
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    error = $"send: {e.Message}";
                }
            }
        }

        // Outside the lock: closing completes the other streams, whose continuations run inline and send again.
        Close(broken, error);
        return false;
    }

    private async Task ReceiveLoopAsync(Stream transport, TaskCompletionSource acknowledged)
    {
        var buffered = 0;
        string why;
        try
        {
            while (true)
            {
                var n = await transport.ReadAsync(_receive.AsMemory(buffered));
                if (n == 0)
                {
                    why = "connection closed by the server";
                    break;
                }

                buffered += n;
                var consumed = ReadFrames(transport, _receive.AsSpan(0, buffered), acknowledged, out var goAway);
                if (goAway is not null)
                {
                    why = goAway;
                    break;
                }

                buffered -= consumed;
                if (buffered > 0 && consumed > 0)
                {
                    Buffer.BlockCopy(_receive, consumed, _receive, 0, buffered);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidDataException)
        {
            why = e.Message;
        }

        acknowledged.TrySetException(new IOException(why));
        Close(transport, why);
    }

    /// <returns>Bytes of whole frames handled; <paramref name="goAway"/> set when the connection must end.</returns>
    private int ReadFrames(Stream transport, ReadOnlySpan<byte> buffer, TaskCompletionSource acknowledged, out string? goAway)
    {
        goAway = null;
        var offset = 0;
        while (buffer.Length - offset >= HeaderSize)
        {
            var head = buffer.Slice(offset, HeaderSize);
            var length = (head[0] << 16) | (head[1] << 8) | head[2];
            if (length > _receive.Length - HeaderSize)
            {
                throw new InvalidDataException($"a {length}-byte frame is larger than SETTINGS_MAX_FRAME_SIZE allows");
            }

            if (buffer.Length - offset - HeaderSize < length)
            {
                break;
            }

            var type = head[3];
            var flags = head[4];
            var id = BinaryPrimitives.ReadInt32BigEndian(head[5..]) & MaxWindow;
            var payload = buffer.Slice(offset + HeaderSize, length);
            offset += HeaderSize + length;
            switch (type)
            {
                case Data:
                    OnData(transport, id, flags, payload);
                    break;
                case Headers:
                    OnHeaders(id, flags, payload);
                    break;
                case RstStream when length == 4:
                    Find(id)?.TryComplete(new RequestOutcome(0, 0, ErrorKind.Reset, $"RST_STREAM {BinaryPrimitives.ReadUInt32BigEndian(payload)}"));
                    break;
                case Settings when (flags & Ack) != 0:
                    acknowledged.TrySetResult();
                    break;
                case Settings:
                    SendControl(transport, Settings, Ack, 0, []);
                    break;
                case Ping when (flags & Ack) == 0 && length == 8:
                    SendControl(transport, Ping, Ack, 0, payload);
                    break;
                case GoAway:
                    goAway = length >= 8 ? $"GOAWAY {BinaryPrimitives.ReadUInt32BigEndian(payload[4..])}" : "GOAWAY";
                    return offset;
            }
        }

        return offset;
    }

    private void OnData(Stream transport, int id, byte flags, ReadOnlySpan<byte> payload)
    {
        // Flow control counts the whole payload, padding included; the body is what is left.
        _unacknowledgedBytes += payload.Length;
        if (_unacknowledgedBytes >= WindowTopUpBytes)
        {
            Span<byte> increment = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(increment, _unacknowledgedBytes);
            _unacknowledgedBytes = 0;
            SendControl(transport, WindowUpdate, 0, 0, increment);
        }

        var stream = Find(id);
        if (stream is null)
        {
            return;
        }

        stream.Bytes += (flags & Padded) != 0 && payload.Length > 0 ? payload.Length - 1 - payload[0] : payload.Length;
        if ((flags & EndStream) != 0)
        {
            stream.TryComplete(stream.Outcome());
        }
    }

    private void OnHeaders(int id, byte flags, ReadOnlySpan<byte> payload)
    {
        var stream = Find(id);
        if (stream is null)
        {
            return;
        }

        if (stream.Status == 0)
        {
            var block = payload;
            if ((flags & Padded) != 0 && block.Length > 0)
            {
                var pad = block[0];
                block = pad < block.Length ? block[1..^pad] : [];
            }

            if ((flags & Priority) != 0)
            {
                block = block.Length >= 5 ? block[5..] : [];
            }

            stream.Status = HeaderBlock.Status(block);
            if (stream.Status == 0)
            {
                stream.TryComplete(new RequestOutcome(0, 0, ErrorKind.Reset, "response without a readable :status"));
                return;
            }
        }

        if ((flags & EndStream) != 0)
        {
            stream.TryComplete(stream.Outcome());
        }
    }

    private Http2Stream? Find(int id)
    {
        foreach (var stream in _streamArray)
        {
            if (stream.StreamId == id && stream.Pending)
            {
                return stream;
            }
        }

        return null;
    }

    private void SendControl(Stream transport, byte type, byte flags, int id, ReadOnlySpan<byte> payload)
    {
        Span<byte> frame = stackalloc byte[HeaderSize + 8];
        WriteFrameHeader(frame, payload.Length, type, flags, id);
        payload.CopyTo(frame[HeaderSize..]);
        lock (_sendLock)
        {
            if (_transport == transport || _transport is null)
            {
                transport.Write(frame[..(HeaderSize + payload.Length)]);
            }
        }
    }

    private void ExpireOverdue()
    {
        var now = Environment.TickCount64;
        var limit = (long)_timeout.TotalMilliseconds;
        Span<byte> cancel = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(cancel, 0x8); // CANCEL
        foreach (var stream in _streamArray)
        {
            var id = stream.StreamId;
            if (stream.Pending && now - stream.StartedAt > limit &&
                stream.TryComplete(new RequestOutcome(0, 0, ErrorKind.Timeout, $"no complete answer within {_timeout.TotalSeconds:0.#} s")))
            {
                // Tell the server to stop sending it (best effort; the stream's frames are ignored either way).
                var transport = _transport;
                try
                {
                    if (transport is not null)
                    {
                        SendControl(transport, RstStream, 0, id, cancel);
                    }
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                }
            }
        }
    }

    private void Close(Stream transport, string why)
    {
        lock (_sendLock)
        {
            if (_transport == transport)
            {
                _transport = null;
            }
        }

        transport.Dispose();
        FailAll(null, why);
    }

    private void FailAll(OperationCanceledException? cancelled, string? why)
    {
        foreach (var stream in _streamArray)
        {
            if (cancelled is not null)
            {
                stream.TryCancel(cancelled);
            }
            else
            {
                stream.TryComplete(new RequestOutcome(0, 0, ErrorKind.Reset, why));
            }
        }
    }

    private static byte[] ConnectionPreface()
    {
        var preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;
        // SETTINGS: HEADER_TABLE_SIZE 0 (stateless header blocks), ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 2^31-1; then the
        // connection window from 64 KiB to ConnectionWindow.
        var frame = new byte[preface.Length + HeaderSize + 18 + HeaderSize + 4];
        preface.CopyTo(frame);
        var settings = frame.AsSpan(preface.Length);
        WriteFrameHeader(settings, 18, Settings, 0, 0);
        WriteSetting(settings[HeaderSize..], 0x1, 0);
        WriteSetting(settings[(HeaderSize + 6)..], 0x2, 0);
        WriteSetting(settings[(HeaderSize + 12)..], 0x4, MaxWindow);
        var window = settings[(HeaderSize + 18)..];
        WriteFrameHeader(window, 4, WindowUpdate, 0, 0);
        BinaryPrimitives.WriteInt32BigEndian(window[HeaderSize..], ConnectionWindow - 65_535);
        return frame;
    }

    private static void WriteSetting(Span<byte> to, ushort id, int value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(to, id);
        BinaryPrimitives.WriteInt32BigEndian(to[2..], value);
    }

    private static void WriteFrameHeader(Span<byte> to, int length, byte type, byte flags, int id)
    {
        to[0] = (byte)(length >> 16);
        to[1] = (byte)(length >> 8);
        to[2] = (byte)length;
        to[3] = type;
        to[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(to[5..], id);
    }

    private static byte[] RequestFrame(Uri url, bool tls)
    {
        // :method GET and :scheme http / https are static-table entries 2 and 6 / 7; :path (4), :authority (1) and
        // user-agent (58) are literals without indexing over static names.
        var block = new List<byte> { 0x82, tls ? (byte)0x87 : (byte)0x86 };
        HeaderBlock.AppendLiteral(block, 4, url.PathAndQuery);
        HeaderBlock.AppendLiteral(block, 1, url.Authority);
        HeaderBlock.AppendLiteral(block, 58, "streamserver-loadtest");
        var frame = new byte[HeaderSize + block.Count];
        WriteFrameHeader(frame, block.Count, Headers, EndStream | EndHeaders, 0);
        block.CopyTo(frame, HeaderSize);
        return frame;
    }

    public void Dispose()
    {
        _stopRegistration.Dispose();
        _timeoutTimer.Dispose();
        var transport = _transport;
        if (transport is not null)
        {
            Close(transport, "disposed");
        }

        _openGate.Dispose();
    }

    /// <summary>The little of HPACK (RFC 7541) a client with a zero-size table needs.</summary>
    internal static class HeaderBlock
    {
        /// <summary>The :status of a response header block (the first field, RFC 9113 8.3); 0 when it is not readable.</summary>
        public static int Status(ReadOnlySpan<byte> block)
        {
            var i = 0;
            while (i < block.Length && (block[i] & 0xE0) == 0x20)
            {
                if (!TryReadInteger(block, ref i, 5, out _))
                {
                    return 0; // dynamic table size update (the server acknowledging our 0)
                }
            }

            if (i >= block.Length)
            {
                return 0;
            }

            var first = block[i];
            if ((first & 0x80) != 0)
            {
                return TryReadInteger(block, ref i, 7, out var index) ? index switch
                {
                    8 => 200,
                    9 => 204,
                    10 => 206,
                    11 => 304,
                    12 => 400,
                    13 => 404,
                    14 => 500,
                    _ => 0,
                } : 0;
            }

            // A literal over the static name :status (indexes 8-14 all name it): with indexing (01), without or never (000x).
            if (!TryReadInteger(block, ref i, (first & 0xC0) == 0x40 ? 6 : 4, out var name) || name is < 8 or > 14 || i >= block.Length)
            {
                return 0;
            }

            var huffman = (block[i] & 0x80) != 0;
            if (!TryReadInteger(block, ref i, 7, out var length) || length > block.Length - i)
            {
                return 0;
            }

            var value = block.Slice(i, length);
            return huffman ? HuffmanDigits(value) : Utf8Parser.TryParse(value, out int status, out var used) && used == value.Length ? status : 0;
        }

        /// <summary>Three Huffman-coded digits (RFC 7541 appendix B: '0'-'2' are 5-bit codes 0-2, '3'-'9' 6-bit codes 0x19-0x1f).</summary>
        private static int HuffmanDigits(ReadOnlySpan<byte> value)
        {
            var bits = 0UL;
            foreach (var b in value[..Math.Min(value.Length, 7)])
            {
                bits = (bits << 8) | b;
            }

            var available = Math.Min(value.Length, 7) * 8;
            var status = 0;
            for (var digit = 0; digit < 3; digit++)
            {
                if (available < 5)
                {
                    return 0;
                }

                var five = (int)(bits >> (available - 5)) & 0x1F;
                if (five <= 2)
                {
                    status = status * 10 + five;
                    available -= 5;
                    continue;
                }

                if (available < 6)
                {
                    return 0;
                }

                var six = (int)(bits >> (available - 6)) & 0x3F;
                if (six is < 0x19 or > 0x1F)
                {
                    return 0;
                }

                status = status * 10 + 3 + six - 0x19;
                available -= 6;
            }

            return status;
        }

        public static void AppendLiteral(List<byte> block, int nameIndex, string value)
        {
            AppendInteger(block, 0x00, 4, nameIndex);
            var bytes = Encoding.ASCII.GetBytes(value);
            AppendInteger(block, 0x00, 7, bytes.Length);
            block.AddRange(bytes);
        }

        private static void AppendInteger(List<byte> block, byte pattern, int prefixBits, int value)
        {
            var max = (1 << prefixBits) - 1;
            if (value < max)
            {
                block.Add((byte)(pattern | value));
                return;
            }

            block.Add((byte)(pattern | max));
            value -= max;
            while (value >= 0x80)
            {
                block.Add((byte)((value & 0x7F) | 0x80));
                value >>= 7;
            }

            block.Add((byte)value);
        }

        public static bool TryReadInteger(ReadOnlySpan<byte> block, ref int i, int prefixBits, out int value)
        {
            var max = (1 << prefixBits) - 1;
            value = block[i++] & max;
            if (value < max)
            {
                return true;
            }

            for (var shift = 0; shift <= 21; shift += 7)
            {
                if (i >= block.Length)
                {
                    return false;
                }

                var b = block[i++];
                value += (b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
