using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.RawQps;

/// <summary>
/// One keep-alive HTTP/1.1 connection sending the same GET over and over, the way wrk does: the request bytes are built
/// once, the response head is parsed in place for its status, Content-Length and Connection, and the body is read and
/// dropped. No allocation per request, so the tool's own cost stays far below the server's.
/// </summary>
internal sealed class Http1Connection : IRawRequester
{
    private readonly EndPoint _endPoint;
    private readonly byte[] _request;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private CancellationTokenSource _timeout = new();
    private readonly TimeSpan _timeoutAfter;
    private readonly CancellationToken _stop;
    private readonly CancellationTokenRegistration _stopRegistration;
    private Socket? _socket;
    private int _buffered;

    /// <param name="stop">Ends the run: a request in flight then throws OperationCanceledException and is not counted.</param>
    public Http1Connection(Uri url, TimeSpan timeout, CancellationToken stop)
    {
        _endPoint = IPAddress.TryParse(url.Host, out var ip) ? new IPEndPoint(ip, url.Port) : new DnsEndPoint(url.Host, url.Port);
        _request = Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nUser-Agent: streamserver-loadtest\r\n\r\n");
        _timeoutAfter = timeout;
        _stop = stop;
        _stopRegistration = stop.Register(static c => ((Http1Connection)c!)._timeout.Cancel(), this);
    }

    public async ValueTask<RequestOutcome> GetAsync()
    {
        // One token source per connection, re-armed per request (TryReset), so a request allocates no timer state; only
        // after a timeout fired (a cancelled source cannot be reset) does the next request need a new one.
        _stop.ThrowIfCancellationRequested();
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = new CancellationTokenSource();
        }

        _timeout.CancelAfter(_timeoutAfter);
        var ct = _timeout.Token;
        try
        {
            if (_socket is null)
            {
                _socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await _socket.ConnectAsync(_endPoint, ct);
                }
                catch (SocketException e)
                {
                    Close();
                    return new(0, 0, ErrorKind.Connect, $"connect: {e.SocketErrorCode}");
                }
            }

            await _socket.SendAsync(_request, SocketFlags.None, ct);
            return await ReadResponseAsync(_socket, ct);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            Close();
            return new(0, 0, ErrorKind.Timeout, $"no complete answer within {_timeoutAfter.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            Close();
            return new(0, 0, ErrorKind.Reset, $"connection: {e.SocketErrorCode}");
        }
    }

    private async ValueTask<RequestOutcome> ReadResponseAsync(Socket socket, CancellationToken ct)
    {
        // The head: read until CRLFCRLF (a head larger than the buffer is a protocol error for this tool).
        int headEnd;
        while ((headEnd = _buffer.AsSpan(0, _buffered).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (_buffered == _buffer.Length)
            {
                Close();
                return new(0, 0, ErrorKind.Reset, "response head larger than 64 KiB");
            }

            var n = await socket.ReceiveAsync(_buffer.AsMemory(_buffered), SocketFlags.None, ct);
            if (n == 0)
            {
                Close();
                return new(0, 0, ErrorKind.Reset, "connection closed before the response head");
            }

            _buffered += n;
        }

        var head = _buffer.AsSpan(0, headEnd + 4);
        if (!TryParseHead(head, out var status, out var contentLength, out var close))
        {
            Close();
            return new(0, 0, ErrorKind.Reset, "unparsable response head (raw-qps reads Content-Length bodies only)");
        }

        // The body: count and drop Content-Length bytes; what arrived with the head counts first.
        var have = _buffered - head.Length;
        var remaining = contentLength - have;
        _buffered = 0;
        if (remaining < 0)
        {
            // Bytes of a next response would only come with pipelining, which this client does not do.
            Close();
            return new(0, 0, ErrorKind.Reset, "more bytes than Content-Length");
        }

        while (remaining > 0)
        {
            var n = await socket.ReceiveAsync(_buffer.AsMemory(0, (int)Math.Min(remaining, _buffer.Length)), SocketFlags.None, ct);
            if (n == 0)
            {
                Close();
                return new(0, 0, ErrorKind.Reset, $"connection closed {remaining} bytes before the end of the body");
            }

            remaining -= n;
        }

        if (close)
        {
            Close();
        }

        return status is >= 200 and < 300
            ? new(status, contentLength, null, null)
            : new(status, contentLength, ErrorKind.Status, $"status {status}");
    }

    private static bool TryParseHead(ReadOnlySpan<byte> head, out int status, out long contentLength, out bool close)
    {
        status = 0;
        contentLength = -1;
        close = false;
        if (head.Length < 12 || !head.StartsWith("HTTP/1."u8) || !Utf8Parser.TryParse(head.Slice(9, 3), out status, out _))
        {
            return false;
        }

        var lines = head[(head.IndexOf("\r\n"u8) + 2)..];
        while (lines.Length > 2)
        {
            var end = lines.IndexOf("\r\n"u8);
            var line = lines[..end];
            lines = lines[(end + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                if (!Utf8Parser.TryParse(value, out contentLength, out var used) || used != value.Length)
                {
                    return false;
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8) && Ascii.EqualsIgnoreCase(value, "close"u8))
            {
                close = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                return false;
            }
        }

        return contentLength >= 0;
    }

    private void Close()
    {
        _socket?.Dispose();
        _socket = null;
        _buffered = 0;
    }

    public void Dispose()
    {
        _stopRegistration.Dispose();
        Close();
        _timeout.Dispose();
    }
}
