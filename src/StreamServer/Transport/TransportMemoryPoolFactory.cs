using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace StreamServer.Transport;

/// <summary>Hands Kestrel's socket transport <see cref="TransportMemoryPool"/>s of one block size sharing one <see cref="TransportMemoryAccounting"/>.</summary>
internal sealed class TransportMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private readonly int _blockBytes;

    public TransportMemoryPoolFactory(int blockBytes, TransportMemoryAccounting accounting)
    {
        _blockBytes = blockBytes;
        Accounting = accounting;
    }

    public TransportMemoryAccounting Accounting { get; }

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new TransportMemoryPool(_blockBytes, Accounting);
}
