using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using StreamServer.Interop;
using StreamServer.Live;
using StreamServer.Transport;

namespace StreamServer.Ingest.Rtmp;

/// <summary>
/// The RTMP listener and its event loop: one thread owns every publisher's connection, waits on one epoll for all of
/// them, reads what arrived with one recv per readiness and runs the session on it, the shape of an nginx worker.
/// Publishers deliver ~80 small messages a second each; on the runtime's socket engine each would cost a wake-up of one
/// of its threads, a zero-byte read, a read and a pipe hand-off, more than the remux of the message.
/// Live:IngestCoalesceMilliseconds lets one wake-up gather several publishers' messages (5 ms: about a sixth less CPU
/// than reading at once at 50 channels, bench/live.sh). Accepting stays async (rare); a connection that sends nothing for
/// Live:IngestIdleTimeoutSeconds, during the handshake or after, is closed with that reason. Binds before Kestrel
/// starts, so a server that answers /healthz also takes publishes.
/// </summary>
internal sealed class RtmpIngestServer(RtmpEndpoint endpoint, LiveOptions live, LiveChannelRegistry channels, LivePackaging packaging, ILogger<RtmpIngestServer> log)
    : IHostedLifecycleService, IDisposable
{
    /// <summary>Connections at once (publishers and those still in the handshake); more are closed at accept.</summary>
    public const int MaxConnections = 1024;

    private readonly Epoll _epoll = new(wakeable: true);
    private readonly ConcurrentQueue<RtmpConnection> _accepted = new();
    private readonly Dictionary<long, (RtmpConnection Connection, RtmpSession Session)> _connections = [];
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private Thread? _loop;
    private long _nextId;
    private int _open;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (!endpoint.Enabled)
        {
            return Task.CompletedTask;
        }

        var endPoint = new IPEndPoint(IPAddress.Parse(endpoint.Address), endpoint.Port);
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            _listener.Bind(endPoint);
        }
        catch (SocketException ex)
        {
            throw new IOException($"RTMP ingest cannot listen on {endPoint}: {ex.Message}", ex);
        }

        _listener.Listen(512);
        _loop = new Thread(Run) { IsBackground = true, Name = "RTMP ingest" };
        _loop.Start();
        _acceptLoop = AcceptAsync(_listener);
        return Task.CompletedTask;
    }

    private async Task AcceptAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                log.LogWarning("RTMP accept failed: {Reason}", ex.Message);
                continue;
            }

            if (Interlocked.Increment(ref _open) > MaxConnections)
            {
                Interlocked.Decrement(ref _open);
                log.LogWarning("RTMP connection from {Remote} refused: {Max} connections are open", socket.RemoteEndPoint, MaxConnections);
                socket.Dispose();
                continue;
            }

            socket.Blocking = false;
            socket.NoDelay = true;
            _accepted.Enqueue(new RtmpConnection(Interlocked.Increment(ref _nextId), socket));
            _epoll.Wake();
        }
    }

    private void Run()
    {
        Span<Epoll.Event> events = new Epoll.Event[256];
        var idleTimeoutMs = (long)channels.IngestIdleTimeout.TotalMilliseconds;
        var coalesceMs = Math.Clamp(live.IngestCoalesceMilliseconds, 0, 50);
        var lastSweep = Environment.TickCount64;
        while (!_stopping.IsCancellationRequested)
        {
            var count = _epoll.Wait(events, 1000);
            if (coalesceMs > 0 && count is > 0 and < 8)
            {
                Thread.Sleep(coalesceMs); // Live:IngestCoalesceMilliseconds: a wake-up and a context switch per message cost more than the work
                count = _epoll.Wait(events, 0);
            }

            for (var i = 0; i < count; i++)
            {
                if (events[i].Token == Epoll.WakeToken)
                {
                    _epoll.ClearWake();
                    Register();
                }
                else if (_connections.TryGetValue(events[i].Token, out var entry))
                {
                    Service(entry.Connection, entry.Session);
                }
            }

            // Once a second: the publish ends between the timeout and one second more after its last byte.
            var now = Environment.TickCount64;
            if (now - lastSweep >= 1000)
            {
                lastSweep = now;
                foreach (var (connection, session) in _connections.Values.ToArray())
                {
                    if (now - connection.LastReceived > idleTimeoutMs)
                    {
                        Close(connection, session, $"no data for {channels.IngestIdleTimeout.TotalSeconds:0} s");
                    }
                }
            }
        }

        // Shutdown: every publish ends (its stream gets ENDLIST) and every socket closes, on this thread that owns them.
        Register();
        foreach (var (connection, session) in _connections.Values.ToArray())
        {
            Close(connection, session, null);
        }
    }

    private void Register()
    {
        while (_accepted.TryDequeue(out var connection))
        {
            var session = new RtmpSession(connection, channels, packaging, log);
            _connections.Add(connection.Id, (connection, session));
            _epoll.Add(connection.Fd, Epoll.Readable | Epoll.PeerClosed, connection.Id);
        }
    }

    private void Service(RtmpConnection connection, RtmpSession session)
    {
        try
        {
            var n = connection.Receive();
            if (n == -Libc.EAGAIN)
            {
                return;
            }

            if (n <= 0)
            {
                Close(connection, session, null); // the publisher went away (end of stream or reset): its last bytes were parsed
                return;
            }

            if (!session.Process())
            {
                Close(connection, session, null); // the session said why, if anything needed saying
            }
        }
        catch (RtmpProtocolException ex)
        {
            Close(connection, session, ex.Message);
        }
        catch (Transcode.TranscodeException ex)
        {
            Close(connection, session, $"live packaging failed: {ex.Message}");
        }
        catch (IOException ex)
        {
            Close(connection, session, ex.Message);
        }
        catch (Exception ex)
        {
            // A defect must cost one publish, not the loop every other publisher is on.
            log.LogError(ex, "RTMP connection {Id} failed", connection.Id);
            Close(connection, session, $"internal error: {ex.GetType().Name}");
        }
    }

    private void Close(RtmpConnection connection, RtmpSession session, string? reason)
    {
        _connections.Remove(connection.Id);
        _epoll.Remove(connection.Fd);
        try
        {
            session.End(reason);
        }
        finally
        {
            session.Dispose();
            connection.Dispose();
            Interlocked.Decrement(ref _open);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        _listener?.Dispose();
        _epoll.Wake();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        _loop?.Join();
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _stopping.Dispose();
        _epoll.Dispose();
    }
}
