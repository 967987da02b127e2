using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace StreamServer.Tests.Http;

/// <summary>
/// A deliberately dumb HTTP/1.x client over a raw socket (optionally TLS with ALPN http/1.1): sends
/// exactly the bytes given (malformed ones included) and reads responses by Content-Length.
/// </summary>
public sealed class RawHttpConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawHttpConnection(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    public Socket Socket => _tcp.Client;

    public static async Task<RawHttpConnection> OpenAsync(Uri server, bool tls = false)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(server.Host, server.Port);
        Stream stream = tcp.GetStream();
        if (tls)
        {
            var ssl = new SslStream(stream, false, static (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ApplicationProtocols = [SslApplicationProtocol.Http11],
            });
            stream = ssl;
        }

        return new RawHttpConnection(tcp, stream);
    }

    public Task SendAsync(string request) => SendAsync(Encoding.Latin1.GetBytes(request));

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Reads one response; null when the server closed the connection first.</summary>
    public async Task<RawHttpResponse?> ReadResponseAsync(bool headRequest = false, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var headEnd = -1;
        while ((headEnd = IndexOfHeadEnd()) < 0)
        {
            if (!await FillAsync(cts.Token))
            {
                return null;
            }
        }

        var head = Encoding.Latin1.GetString(_buffer, _start, headEnd - _start);
        _start = headEnd + 4;
        var lines = head.Split("\r\n");
        var statusLine = lines[0].Split(' ', 3);
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
        }

        var status = int.Parse(statusLine[1]);
        var response = new RawHttpResponse { Version = statusLine[0], Status = status, Headers = headers, Body = [] };
        var length = response.Header("Content-Length") is { } cl ? long.Parse(cl) : 0;
        if (headRequest || status is 304 or 204 || status < 200)
        {
            length = 0;
        }
        else if (response.Header("Transfer-Encoding") is { } te && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            return new RawHttpResponse { Version = response.Version, Status = status, Headers = headers, Body = await ReadChunkedAsync(cts.Token) };
        }

        var body = new byte[length];
        var got = 0;
        while (got < length)
        {
            if (_start == _end && !await FillAsync(cts.Token))
            {
                throw new EndOfStreamException($"body cut at {got}/{length}: {response}");
            }

            var n = (int)Math.Min(length - got, _end - _start);
            Buffer.BlockCopy(_buffer, _start, body, got, n);
            _start += n;
            got += n;
        }

        return new RawHttpResponse { Version = response.Version, Status = status, Headers = headers, Body = body };
    }

    private async Task<byte[]> ReadChunkedAsync(CancellationToken ct)
    {
        var body = new MemoryStream();
        while (true)
        {
            var line = await ReadLineAsync(ct);
            var size = Convert.ToInt32(line.Split(';')[0].Trim(), 16);
            if (size == 0)
            {
                while ((await ReadLineAsync(ct)).Length > 0)
                {
                }

                return body.ToArray();
            }

            while (_end - _start < size + 2)
            {
                if (!await FillAsync(ct))
                {
                    throw new EndOfStreamException("chunked body cut");
                }
            }

            body.Write(_buffer, _start, size);
            _start += size + 2;
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken ct)
    {
        int i;
        while ((i = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
        {
            if (!await FillAsync(ct))
            {
                throw new EndOfStreamException("line cut");
            }
        }

        var line = Encoding.Latin1.GetString(_buffer, _start, i);
        _start += i + 2;
        return line;
    }

    /// <summary>True when the server closed the connection (EOF) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                if (!await FillAsync(cts.Token))
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private int IndexOfHeadEnd()
    {
        var span = _buffer.AsSpan(_start, _end - _start);
        var i = span.IndexOf("\r\n\r\n"u8);
        return i < 0 ? -1 : _start + i;
    }

    private async Task<bool> FillAsync(CancellationToken ct)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidOperationException("response head too large for the test client");
        }

        int n;
        try
        {
            n = await _stream.ReadAsync(_buffer.AsMemory(_end), ct);
        }
        catch (IOException)
        {
            return false;
        }

        _end += n;
        return n > 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
