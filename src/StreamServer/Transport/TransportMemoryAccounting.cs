using System.Diagnostics.Metrics;

namespace StreamServer.Transport;

/// <summary>
/// Bytes of all <see cref="TransportMemoryPool"/>s of one server (Kestrel creates one pool per I/O queue): how much is
/// lent out right now (in pipes, in flight) and how much exists. Read without locks by the HTTP/2 body writer to
/// decide whether a whole body may be buffered, and exported as streamserver_transport_pool_bytes{state}.
/// </summary>
internal sealed class TransportMemoryAccounting : IDisposable
{
    private static readonly KeyValuePair<string, object?> RentedState = new("state", "rented");
    private static readonly KeyValuePair<string, object?> FreeState = new("state", "free");

    private readonly Meter _meter = new("StreamServer.Transport");
    private long _rentedBytes;
    private long _totalBytes;

    public TransportMemoryAccounting()
    {
        _meter.CreateObservableGauge("streamserver_transport_pool_bytes", () =>
        {
            var rented = RentedBytes;
            return new[] { new Measurement<long>(rented, RentedState), new Measurement<long>(Math.Max(0, TotalBytes - rented), FreeState) };
        }, unit: "By", description: "Kestrel transport memory (socket, TLS and HTTP/2 pipes) by state: rented (in pipes) and free (pooled for reuse).");
    }

    /// <summary>Bytes of blocks currently lent out to pipes.</summary>
    public long RentedBytes => Volatile.Read(ref _rentedBytes);

    /// <summary>Bytes of blocks that exist (lent out or free in a pool).</summary>
    public long TotalBytes => Volatile.Read(ref _totalBytes);

    internal void BlockCreated(int bytes) => Interlocked.Add(ref _totalBytes, bytes);

    internal void BlockDropped(int bytes) => Interlocked.Add(ref _totalBytes, -bytes);

    internal void Rented(int bytes) => Interlocked.Add(ref _rentedBytes, bytes);

    internal void Returned(int bytes) => Interlocked.Add(ref _rentedBytes, -bytes);

    public void Dispose() => _meter.Dispose();
}
