using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using StreamServer.Interop;

namespace StreamServer.Transport;

/// <summary>
/// Bytes of all <see cref="TransportMemoryPool"/>s of one server (Kestrel creates one pool per I/O queue): how much is
/// lent out right now (in pipes, in flight) and how much exists, exported as streamserver_transport_pool_bytes{state}.
/// One timer (1 s) does the housekeeping of that memory: it closes connections that hold transport memory while
/// their socket sent nothing for SendTimeoutSeconds (HTTP/2 streams stalled by a flow-control window the client never
/// opens are invisible to Kestrel's data-rate and send timeouts), and every Transport:PoolTrimSeconds it lets the pools
/// drop blocks that stayed free through the whole interval.
/// </summary>
internal sealed partial class TransportMemoryAccounting : IDisposable
{
    private static readonly KeyValuePair<string, object?> RentedState = new("state", "rented");
    private static readonly KeyValuePair<string, object?> FreeState = new("state", "free");

    private readonly Meter _meter = new("StreamServer.Transport");
    private readonly Counter<long> _stalledClosed;
    private readonly Counter<long> _trimCollections;
    private readonly Lock _gate = new();
    private readonly List<TransportMemoryPool> _pools = [];
    private readonly HashSet<ConnectionTransportMemory> _connections = [];
    private readonly List<ConnectionTransportMemory> _sweep = [];
    private readonly Timer _timer;
    private readonly long _stallTicks;
    private readonly int _trimEveryTicks;
    private int _tick;
    private long _releasedSinceCollect;
    private long _lastCollect;
    private long _rentedBytes;
    private long _totalBytes;

    public TransportMemoryAccounting(TransportOptions serving)
    {
        _stallTicks = serving.SendTimeoutSeconds * Stopwatch.Frequency;
        _trimEveryTicks = Math.Max(1, serving.PoolTrimSeconds);
        ConnectionBudgetBytes = serving.Http2ConnectionBudgetMegabytes * 1024L * 1024;
        _meter.CreateObservableGauge("streamserver_transport_pool_bytes", () =>
        {
            var rented = RentedBytes;
            return new[] { new Measurement<long>(rented, RentedState), new Measurement<long>(Math.Max(0, TotalBytes - rented), FreeState) };
        }, unit: "By", description: "Kestrel transport memory (socket, TLS and HTTP/2 pipes) by state: rented (in pipes) and free (pooled for reuse).");
        _stalledClosed = _meter.CreateCounter<long>("streamserver_http_stalled_connections_closed_total",
            description: "Connections closed (GOAWAY on HTTP/2) because they held response bytes their client did not take for SendTimeoutSeconds.");
        _trimCollections = _meter.CreateCounter<long>("streamserver_transport_pool_trim_collections_total",
            description: "Full blocking collections the transport pool's trim asked for after a burst freed 8 MiB or more of pinned blocks (at most one per trim interval).");
        _timer = new Timer(static s => ((TransportMemoryAccounting)s!).OnTick(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Bytes of blocks currently lent out to pipes.</summary>
    public long RentedBytes => Volatile.Read(ref _rentedBytes);

    /// <summary>Bytes of blocks that exist (lent out or free in a pool).</summary>
    public long TotalBytes => Volatile.Read(ref _totalBytes);

    /// <summary>Transport memory one connection may hold for response bodies (StreamServer:Transport:Http2ConnectionBudgetMegabytes).</summary>
    public long ConnectionBudgetBytes { get; }

    /// <summary>Where the housekeeping reports connections it closes; set by the host once logging exists.</summary>
    public ILogger? Log { get; set; }

    internal void BlockCreated(int bytes) => Interlocked.Add(ref _totalBytes, bytes);

    internal void BlockDropped(int bytes) => Interlocked.Add(ref _totalBytes, -bytes);

    internal void Rented(int bytes) => Interlocked.Add(ref _rentedBytes, bytes);

    internal void Returned(int bytes) => Interlocked.Add(ref _rentedBytes, -bytes);

    internal void Track(TransportMemoryPool pool)
    {
        lock (_gate)
        {
            _pools.Add(pool);
        }
    }

    internal void Untrack(TransportMemoryPool pool)
    {
        lock (_gate)
        {
            _pools.Remove(pool);
        }
    }

    internal void Track(ConnectionTransportMemory connection)
    {
        lock (_gate)
        {
            _connections.Add(connection);
        }
    }

    internal void Untrack(ConnectionTransportMemory connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
        }
    }

    /// <summary>Lets every pool drop the blocks that stayed free since the previous trim; returns the bytes released.</summary>
    public long Trim()
    {
        long released = 0;
        lock (_gate)
        {
            foreach (var pool in _pools)
            {
                released += pool.Trim();
            }
        }

        _releasedSinceCollect += released;
        var now = Stopwatch.GetTimestamp();
        if (_releasedSinceCollect >= 8 * 1024 * 1024 && now - _lastCollect >= (_trimEveryTicks - 1) * Stopwatch.Frequency)
        {
            // The blocks are pinned arrays: nothing goes back to the system until a collection finds them unreachable (an
            // idle server allocates too little to start one soon), and a normal collection keeps the freed regions for
            // reuse. An aggressive one decommits them: one blocking full GC after a burst, at most once per trim interval.
            _releasedSinceCollect = 0;
            _lastCollect = now;
            _trimCollections.Add(1);
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

            // The same burst freed native memory too (OpenSSL's per-connection buffers, socket state): glibc keeps freed
            // heap pages mapped until asked to give them back.
            Libc.malloc_trim(0);
        }

        return released;
    }

    private void OnTick()
    {
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            _sweep.AddRange(_connections);
        }

        foreach (var connection in _sweep)
        {
            if (connection.CheckStalled(now, _stallTicks))
            {
                _stalledClosed.Add(1);
                Log?.LogInformation("connection {Id}: {Bytes} bytes unsent for {Seconds} s (flow control never opened?): closing it",
                    connection.ConnectionId, connection.RentedBytes, _stallTicks / Stopwatch.Frequency);
            }
        }

        _sweep.Clear();
        if (++_tick % _trimEveryTicks == 0)
        {
            Trim();
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        _meter.Dispose();
    }
}
