using System.Buffers;
using System.Collections.Concurrent;

namespace StreamServer.Transport;

/// <summary>
/// Memory for Kestrel's pipes (socket input/output, HTTP/2 stream and TLS pipes) in blocks of one fixed size,
/// larger than Kestrel's own 4 KiB. Why: Kestrel's socket transport sends whatever its output pipe holds as
/// one sendmsg over the pipe's blocks, and the runtime builds that call's iovec / pin-handle arrays on the
/// stack only up to 8 buffers, on the heap above (SocketPal.Unix, IovStackThreshold). 64 KiB of HTTP/2
/// frames in 4 KiB blocks is 16+ buffers, so every such send allocated ~0.5 KB; in 64 KiB blocks the same
/// send is 1-3 buffers. Blocks are pinned arrays (the transport needs array-backed memory for its
/// multi-buffer sends), kept for reuse; blocks that stayed free through a whole trim interval are let go
/// (<see cref="Trim"/>), so a burst does not leave its peak resident for the life of the process.
/// </summary>
internal sealed class TransportMemoryPool : MemoryPool<byte>
{
    private readonly ConcurrentQueue<TransportMemoryBlock> _free = new();
    private readonly TransportMemoryAccounting _accounting;
    private volatile bool _disposed;
    private int _freeCount;

    // Fewest free blocks seen since the last trim: that many were never needed during the interval.
    private int _freeLowWater;

    public TransportMemoryPool(int blockBytes, TransportMemoryAccounting accounting)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockBytes, 4096);
        MaxBufferSize = blockBytes;
        _accounting = accounting;
        accounting.Track(this);
    }

    public TransportMemoryAccounting Accounting => _accounting;

    /// <summary>The size of every block; Kestrel's pipes ask for at most this and get whole blocks.</summary>
    public override int MaxBufferSize { get; }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => Rent(minBufferSize, null);

    /// <summary>Rents a block charged to <paramref name="connection"/> until it is returned.</summary>
    internal TransportMemoryBlock Rent(int minBufferSize, ConnectionTransportMemory? connection)
    {
        if (minBufferSize > MaxBufferSize)
        {
            throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"larger than the pool's {MaxBufferSize}-byte blocks");
        }

        if (_free.TryDequeue(out var block))
        {
            var free = Interlocked.Decrement(ref _freeCount);
            if (free < Volatile.Read(ref _freeLowWater))
            {
                Volatile.Write(ref _freeLowWater, free); // racy by design: an approximate low-water mark is enough
            }
        }
        else
        {
            block = new TransportMemoryBlock(this, GC.AllocateUninitializedArray<byte>(MaxBufferSize, pinned: true));
            _accounting.BlockCreated(MaxBufferSize);
            Volatile.Write(ref _freeLowWater, 0);
        }

        block.Lease(connection);
        connection?.Rented(MaxBufferSize);
        _accounting.Rented(MaxBufferSize);
        return block;
    }

    internal void Return(TransportMemoryBlock block)
    {
        _accounting.Returned(MaxBufferSize);
        if (_disposed)
        {
            _accounting.BlockDropped(MaxBufferSize);
            return;
        }

        _free.Enqueue(block);
        Interlocked.Increment(ref _freeCount);
    }

    /// <summary>Lets go of the blocks that stayed free since the last call; returns the bytes released.</summary>
    internal long Trim()
    {
        var idle = Interlocked.Exchange(ref _freeLowWater, Volatile.Read(ref _freeCount));
        long released = 0;
        for (var i = 0; i < idle && _free.TryDequeue(out _); i++)
        {
            Interlocked.Decrement(ref _freeCount);
            _accounting.BlockDropped(MaxBufferSize);
            released += MaxBufferSize;
        }

        Volatile.Write(ref _freeLowWater, Volatile.Read(ref _freeCount));
        return released;
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _accounting.Untrack(this);
        while (_free.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _freeCount);
            _accounting.BlockDropped(MaxBufferSize);
        }
    }
}
