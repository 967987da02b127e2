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
/// multi-buffer sends), pooled for the life of the process: a block freed is reused, never collected.
/// </summary>
internal sealed class TransportMemoryPool : MemoryPool<byte>
{
    private readonly ConcurrentQueue<TransportMemoryBlock> _free = new();
    private readonly TransportMemoryAccounting _accounting;
    private volatile bool _disposed;

    public TransportMemoryPool(int blockBytes, TransportMemoryAccounting accounting)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockBytes, 4096);
        MaxBufferSize = blockBytes;
        _accounting = accounting;
    }

    /// <summary>The size of every block; Kestrel's pipes ask for at most this and get whole blocks.</summary>
    public override int MaxBufferSize { get; }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > MaxBufferSize)
        {
            throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"larger than the pool's {MaxBufferSize}-byte blocks");
        }

        if (!_free.TryDequeue(out var block))
        {
            block = new TransportMemoryBlock(this, GC.AllocateUninitializedArray<byte>(MaxBufferSize, pinned: true));
            _accounting.BlockCreated(MaxBufferSize);
        }

        block.Lease();
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
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        while (_free.TryDequeue(out _))
        {
            _accounting.BlockDropped(MaxBufferSize);
        }
    }
}
