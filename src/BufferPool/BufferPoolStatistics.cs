namespace StreamServer.BufferPool;

/// <summary>A point-in-time view of the pool. Free + leased = capacity always (every block is one or the other).</summary>
public sealed record BufferPoolStatistics(
    long CapacityBytes,
    long FreeBytes,
    long LeasedBytes,
    int LeasedBlocks,
    long Allocations,
    long ExhaustedFailures,
    long TimeoutFailures,
    IReadOnlyList<SizeClassStatistics> Classes);

public sealed record SizeClassStatistics(string Name, int BlockSize, int Blocks, int FreeBlocks, int LeasedBlocks);
