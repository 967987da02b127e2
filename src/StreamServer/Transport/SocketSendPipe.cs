using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using StreamServer.Interop;

namespace StreamServer.Transport;

/// <summary>
/// The output side of a connection Kestrel's HTTP stack (or its TLS layer) writes to, sent to the socket by our own
/// gathered sendmsg instead of Kestrel's socket transport. Why: the transport sends its output pipe's blocks with
/// Socket.SendAsync(BufferList), whose Unix implementation puts the iovec and pin-handle arrays on the heap when
/// there are more than 8 blocks (SocketPal.Unix, IovStackThreshold): a 1 MiB HTTP/2 body written whole is 17 or
/// more blocks, ~0.5 KB of garbage per send. Here the iovecs are always on the stack (up to 64 per call), and
/// sends happen inline when the writer flushes (the pipe's reader runs on the flushing thread); when the socket is
/// full the loop waits on <see cref="SocketWritableWaiter"/> (no allocation per wait, SendTimeoutSeconds bound).
/// The input side stays Kestrel's. Installed around the rest of the connection's pipeline and taken out again
/// after it, once everything written is sent, so Kestrel closes the socket as usual.
/// </summary>
internal sealed class SocketSendPipe : IDuplexPipe
{
    private const int MaxSegmentsPerSend = 64;
    private const int EBADF = 9;

    private readonly ConnectionContext _connection;
    private readonly IDuplexPipe _transport;
    private readonly Socket _socket;
    private readonly Pipe _pipe;
    private readonly TimeSpan _sendTimeout;
    // Scratch for the pins of one sendmsg: a send never awaits between pinning and unpinning, so one per thread.
    [ThreadStatic]
    private static MemoryHandle[]? t_pins;

    private readonly IMemoryPoolFeature? _transportPoolFeature;
    private readonly ConnectionTransportMemory? _memory;
    private SocketWritableWaiter.Registration? _waiter;

    private SocketSendPipe(ConnectionContext connection, Socket socket, TransportOptions options)
    {
        _connection = connection;
        _transport = connection.Transport;
        _socket = socket;
        _sendTimeout = TimeSpan.FromSeconds(options.SendTimeoutSeconds);
        _transportPoolFeature = connection.Features.Get<IMemoryPoolFeature>();
        var pool = _transportPoolFeature?.MemoryPool ?? MemoryPool<byte>.Shared;
        if (pool is TransportMemoryPool transportPool)
        {
            // Everything above (TLS, HTTP/2 streams, this pipe) rents through the connection's own account.
            _memory = new ConnectionTransportMemory(transportPool, transportPool.Accounting, connection);
            connection.Features.Set<IMemoryPoolFeature>(_memory);
            pool = _memory;
        }

        long pause = options.MaxWriteBufferBytes;
        _pipe = new Pipe(new PipeOptions(pool, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, useSynchronizationContext: false));
    }

    public PipeReader Input => _transport.Input;

    public PipeWriter Output => _pipe.Writer;

    /// <summary>Runs <paramref name="next"/> with this send path as the connection's output (when enabled and the connection has a socket).</summary>
    public static Task RunAsync(ConnectionContext connection, ConnectionDelegate next, TransportOptions options)
    {
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (!options.DirectSocketSend || socket is null)
        {
            return next(connection);
        }

        return new SocketSendPipe(connection, socket, options).RunAsync(next);
    }

    private async Task RunAsync(ConnectionDelegate next)
    {
        var sending = SendLoopAsync();
        _connection.Transport = this;
        try
        {
            await next(_connection);
        }
        finally
        {
            // Whatever the stack left unsent still goes out (bounded by the send timeout), then Kestrel gets its
            // own transport back and closes the socket as it always does.
            await _pipe.Writer.CompleteAsync();
            await sending;
            _connection.Transport = _transport;
            if (_memory is not null)
            {
                _connection.Features.Set(_transportPoolFeature);
                _memory.Dispose();
            }
        }
    }

    private async Task SendLoopAsync()
    {
        var reader = _pipe.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (!buffer.IsEmpty)
                {
                    var n = Send(buffer);
                    if (n > 0)
                    {
                        buffer = buffer.Slice(n);
                        _memory?.Sent(n);
                    }
                    else if (n == -Libc.EAGAIN)
                    {
                        _waiter ??= SocketWritableWaiter.Instance.Register((int)_socket.Handle);
                        if (!await _waiter.WaitAsync(_sendTimeout))
                        {
                            throw new ConnectionAbortedException("the client stopped reading (send timeout)");
                        }
                    }
                    else
                    {
                        throw new ConnectionAbortedException($"the client is gone (send: errno {-n})");
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            // The connection is torn down; the writer just sees its pipe completed (FlushAsync reports IsCompleted),
            // as with Kestrel's transport, since a reader completed with an exception would make every flush throw
            // it (and Kestrel log it as unexpected) for what is a client going away.
            _connection.Abort(ex as ConnectionAbortedException ?? new ConnectionAbortedException(ex.Message, ex));
        }
        finally
        {
            await reader.CompleteAsync();
            _waiter?.Dispose();
            _waiter = null;
        }
    }

    // The socket's handle is held for the call, so a concurrent abort cannot close the descriptor (and let the
    // number be reused by another connection) under the sendmsg.
    private long Send(in ReadOnlySequence<byte> buffer)
    {
        var handle = _socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return LinuxSocket.Send((int)handle.DangerousGetHandle(), buffer, t_pins ??= new MemoryHandle[MaxSegmentsPerSend]);
        }
        catch (ObjectDisposedException)
        {
            return -EBADF;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
