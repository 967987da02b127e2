using System.Buffers;
using System.Net;
using System.Net.Sockets;
using StreamServer.Interop;
using StreamServer.Transport;

namespace StreamServer.Ingest.Rtmp;

/// <summary>
/// One publisher's socket on the ingest loop: a receive buffer that holds what arrived and is not yet parsed (at
/// least one whole chunk, so it grows with the peer's chunk size up to the reader's limits), and sends that either go
/// out whole or end the connection (everything we send is a few small control messages; a peer whose socket buffer
/// cannot take them is not reading).
/// </summary>
internal sealed class RtmpConnection : IDisposable
{
    private const int InitialBufferBytes = 64 * 1024;

    /// <summary>The largest chunk (at the largest chunk size) with its 18 bytes of headers.</summary>
    private const int MaxBufferBytes = RtmpChunkReader.MaxMessageBytes + 18;

    private readonly Socket _socket;
    private byte[] _buffer = [];
    private int _start;
    private int _end;

    public RtmpConnection(long id, Socket socket)
    {
        Id = id;
        _socket = socket;
        Fd = (int)socket.Handle;
        RemoteEndPoint = socket.RemoteEndPoint;
        LastReceived = Environment.TickCount64;
    }

    public long Id { get; }

    public int Fd { get; }

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>When bytes last arrived (Environment.TickCount64), for the idle timeout.</summary>
    public long LastReceived { get; private set; }

    /// <summary>The bytes received and not yet consumed.</summary>
    public ReadOnlySpan<byte> Pending => _buffer.AsSpan(_start, _end - _start);

    /// <summary>The same bytes as a sequence, for parsers written over one.</summary>
    public ReadOnlySequence<byte> PendingSequence => new(_buffer, _start, _end - _start);

    public void Consume(int count) => _start += count;

    /// <summary>
    /// One recv(2) into the free space after the pending bytes: bytes read, 0 at the peer's end of stream, or -errno
    /// (-EAGAIN when nothing was there after all).
    /// </summary>
    public long Receive()
    {
        MakeRoom();
        var n = LinuxSocket.Receive(Fd, _buffer.AsSpan(_end));
        if (n > 0)
        {
            _end += (int)n;
            LastReceived = Environment.TickCount64;
        }

        return n;
    }

    // Pending bytes move to the front (a partial chunk: small); a full buffer that still holds no whole chunk doubles.
    private void MakeRoom()
    {
        if (_buffer.Length == 0)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferBytes);
        }

        var pending = _end - _start;
        if (_start > 0 && (_end == _buffer.Length || pending == 0))
        {
            _buffer.AsSpan(_start, pending).CopyTo(_buffer);
            _start = 0;
            _end = pending;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxBufferBytes)
            {
                throw new RtmpProtocolException($"{pending} bytes received without a whole chunk in them");
            }

            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, MaxBufferBytes));
            _buffer.AsSpan(0, pending).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
    }

    /// <summary>Sends <paramref name="bytes"/> whole, or throws: a publisher that does not take a few control bytes is not reading.</summary>
    public void Send(ReadOnlySpan<byte> bytes)
    {
        var n = LinuxSocket.Send(Fd, default, bytes, more: false);
        if (n != bytes.Length)
        {
            throw n < 0 && n != -Libc.EAGAIN
                ? new IOException($"send failed (errno {-n})")
                : new RtmpProtocolException("the publisher does not read what we send (socket buffer full)");
        }
    }

    public void Dispose()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send); // what was sent (a refusal, say) goes out before the FIN
        }
        catch (SocketException)
        {
            // already reset by the peer
        }

        _socket.Dispose();
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}
