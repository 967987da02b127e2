namespace StreamServer.Transport;

/// <summary>
/// Bytes of all <see cref="TransportMemoryPool"/>s of the process (Kestrel creates one per I/O queue): how much is
/// lent out right now (in pipes, in flight) and how much exists. Read without locks by the HTTP/2 body writer to
/// decide whether a whole body may be buffered, and by /metrics.
/// </summary>
internal sealed class TransportMemoryAccounting
{
    private long _rentedBytes;
    private long _totalBytes;

    /// <summary>Bytes of blocks currently lent out to pipes.</summary>
    public long RentedBytes => Volatile.Read(ref _rentedBytes);

    /// <summary>Bytes of blocks that exist (lent out or free in a pool).</summary>
    public long TotalBytes => Volatile.Read(ref _totalBytes);

    internal void BlockCreated(int bytes) => Interlocked.Add(ref _totalBytes, bytes);

    internal void BlockDropped(int bytes) => Interlocked.Add(ref _totalBytes, -bytes);

    internal void Rented(int bytes) => Interlocked.Add(ref _rentedBytes, bytes);

    internal void Returned(int bytes) => Interlocked.Add(ref _rentedBytes, -bytes);
}
