using StreamServer.BufferPool;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// Where a packaging run's tracks assemble their segments before writing them: the caller's buffer pool
/// (<see cref="PackagingOptions.SegmentPool"/>: the server's, or the CLI's), or else a private memfd pool for
/// the run sized for every track's segment. Each track rents blocks sized for one whole segment at its peak
/// bitrate (VBV maxrate x segment length + the VBV buffer), capped at the pool's largest class.
/// </summary>
internal sealed class SegmentMemory : IDisposable
{
    /// <summary>Room for the moov/moof boxes and the AVIO's own buffering on top of the media bytes.</summary>
    private const long BoxOverhead = 64 * 1024;

    /// <summary>Largest block of a private pool; bigger segments chain several.</summary>
    private const int PrivateBlockLimit = 16 * 1024 * 1024;

    private readonly MemfdBufferPool pool;
    private readonly MemfdBufferPool? owned;
    private readonly string kind;
    private readonly TimeSpan rentTimeout;

    private SegmentMemory(MemfdBufferPool pool, MemfdBufferPool? owned, TimeSpan rentTimeout)
    {
        this.pool = pool;
        this.rentTimeout = rentTimeout;
        this.owned = owned;
        kind = owned is null ? "shared" : "private";
    }

    public MemfdBufferPool Pool => pool;

    /// <summary>Bytes one segment of a video rung can take: peak rate over the segment plus the VBV buffer.</summary>
    public static long VideoSegmentBudget(RenditionPlan plan, double segmentSeconds) =>
        (long)(((plan.Maxrate * segmentSeconds) + plan.BufferBits) / 8) + BoxOverhead;

    /// <summary>AAC is nearly constant rate; a quarter on top covers the encoder's variation.</summary>
    public static long AudioSegmentBudget(long bitrate, double segmentSeconds) =>
        (long)(bitrate * segmentSeconds * 1.25 / 8) + BoxOverhead;

    /// <param name="budgets">One entry per track (video rungs and audio): bytes of one segment.</param>
    public static SegmentMemory Create(PackagingOptions options, IReadOnlyList<long> budgets)
    {
        if (options.SegmentPool is { } shared)
        {
            return new SegmentMemory(shared, null, options.SegmentRentTimeout);
        }

        // Private pool: one class, a few blocks per track (the segment being muxed, a chained overflow, and a
        // spare). Only touched pages cost memory, so the capacity is an upper bound, not an allocation.
        long largest = 64 * 1024;
        foreach (var b in budgets)
        {
            largest = Math.Max(largest, b);
        }

        var block = (int)((Math.Min(largest, PrivateBlockLimit) + 4095) & ~4095L);
        var blocks = 0L;
        foreach (var b in budgets)
        {
            blocks += ((b + block - 1) / block) + 2;
        }

        var owned = new MemfdBufferPool(new BufferPoolOptions
        {
            Name = "streamserver-segments",
            CapacityBytes = blocks * block,
            SizeClasses = [new SizeClass("segment", block, 1.0)],
        });
        return new SegmentMemory(owned, owned, options.SegmentRentTimeout);
    }

    public SegmentBuffer CreateBuffer(long segmentBudget, string label) =>
        new(pool, (int)Math.Min(segmentBudget, pool.LargestBlockSize), rentTimeout, label, kind);

    public void Dispose() => owned?.Dispose();
}
