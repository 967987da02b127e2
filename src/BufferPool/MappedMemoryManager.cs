using System.Buffers;

namespace StreamServer.BufferPool;

/// <summary>
/// Exposes one contiguous part of the pool's mapping as <see cref="Memory{T}"/>. The mapping never moves,
/// so pinning is free; one manager per size class means a lease's Memory is a slice, never an allocation.
/// The pool owns the mapping, so disposing this manager releases nothing.
/// </summary>
internal sealed unsafe class MappedMemoryManager : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    public MappedMemoryManager(byte* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)_length);
        return new MemoryHandle(_pointer + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
