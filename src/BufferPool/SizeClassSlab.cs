namespace StreamServer.BufferPool;

/// <summary>One size class: a contiguous run of equal blocks in the mapping plus its free stack.</summary>
internal sealed class SizeClassSlab
{
    public SizeClassSlab(string name, int blockSize, int firstBlock, int blockCount, long offset, MappedMemoryManager manager)
    {
        Name = name;
        BlockSize = blockSize;
        FirstBlock = firstBlock;
        BlockCount = blockCount;
        Offset = offset;
        Manager = manager;
    }

    public string Name { get; }

    public int BlockSize { get; }

    public int FirstBlock { get; }

    public int BlockCount { get; }

    /// <summary>Start of the slab in the memfd / mapping.</summary>
    public long Offset { get; }

    public MappedMemoryManager Manager { get; }

    /// <summary>Mutable struct field on purpose: TryPop/Push operate on it in place.</summary>
    public BlockFreeStack Free;
}
