using System.Buffers;

namespace StreamServer.Transport;

/// <summary>
/// One pinned block of a <see cref="TransportMemoryPool"/>; the same object is handed out again after each return. While
/// leased it is charged to the connection that rented it (when the rent came through a <see cref="ConnectionTransportMemory"/>).
/// </summary>
internal sealed class TransportMemoryBlock : IMemoryOwner<byte>
{
    private readonly TransportMemoryPool _pool;
    private ConnectionTransportMemory? _connection;
    private int _leased;

    public TransportMemoryBlock(TransportMemoryPool pool, byte[] pinned)
    {
        _pool = pool;
        Memory = pinned;
    }

    public Memory<byte> Memory { get; }

    internal void Lease(ConnectionTransportMemory? connection)
    {
        _connection = connection;
        Volatile.Write(ref _leased, 1);
    }

    // A second Dispose of the same lease must not put the block in the free queue twice (two owners later).
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _leased, 0) == 1)
        {
            var connection = _connection;
            _connection = null;
            connection?.Returned(Memory.Length);
            _pool.Return(this);
        }
    }
}
