using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace StreamServer.Tests.Security;

/// <summary>
/// A hand-built HTTP/2 client that opens many streams for a large body and never sends WINDOW_UPDATE: it answers
/// SETTINGS and PING (so only flow control stalls) and keeps reading (so TCP never stalls), and records GOAWAY and EOF.
/// </summary>
internal sealed class StalledHttp2Client : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Task _reader;

    private StalledHttp2Client(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
        _reader = Task.Run(ReadLoopAsync);
    }

    public int? GoAwayError { get; private set; }

    public DateTime? ClosedAt { get; private set; }

    public long DataBytes { get; private set; }

    public static async Task<StalledHttp2Client> OpenAsync(Uri server, bool tls, string path, int streams)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port);
        Stream stream = tcp.GetStream();
        if (tls)
        {
            var ssl = new SslStream(stream);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
            });
            stream = ssl;
        }

        var client = new StalledHttp2Client(tcp, stream);
        var request = new List<byte>();
        request.AddRange("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        request.AddRange(Frame(0x4, 0, 0, []));
        var block = new List<byte> { 0x82, tls ? (byte)0x87 : (byte)0x86, 0x04, (byte)path.Length };
        block.AddRange(Encoding.ASCII.GetBytes(path));
        block.AddRange([0x01, 9, .. "localhost"u8.ToArray()]);
        for (var i = 0; i < streams; i++)
        {
            request.AddRange(Frame(0x1, 0x5, (2 * i) + 1, [.. block]));
        }

        await client.WriteAsync([.. request]);
        return client;
    }

    private static byte[] Frame(byte type, byte flags, int stream, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        frame[5] = (byte)(stream >> 24);
        frame[6] = (byte)(stream >> 16);
        frame[7] = (byte)(stream >> 8);
        frame[8] = (byte)stream;
        payload.CopyTo(frame, 9);
        return frame;
    }

    private async Task WriteAsync(byte[] bytes)
    {
        await _writeGate.WaitAsync();
        try
        {
            await _stream.WriteAsync(bytes);
            await _stream.FlushAsync();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[9];
        var payload = new byte[1 << 20];
        try
        {
            while (true)
            {
                await _stream.ReadExactlyAsync(header);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                await _stream.ReadExactlyAsync(payload.AsMemory(0, length));
                switch (type)
                {
                    case 0x0:
                        DataBytes += length;
                        break;
                    case 0x4 when (flags & 0x1) == 0:
                        await WriteAsync(Frame(0x4, 0x1, 0, []));
                        break;
                    case 0x6 when (flags & 0x1) == 0:
                        await WriteAsync(Frame(0x6, 0x1, 0, payload[..8]));
                        break;
                    case 0x7:
                        GoAwayError = (payload[4] << 24) | (payload[5] << 16) | (payload[6] << 8) | payload[7];
                        break;
                }
            }
        }
        catch (Exception)
        {
            ClosedAt = DateTime.UtcNow;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        await _reader;
        _writeGate.Dispose();
    }
}
