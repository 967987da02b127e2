namespace StreamServer.BufferPool.Tests;

/// <summary>LeaseCache: oldest-first eviction that reclaims only memory nobody else holds.</summary>
public class EvictionTests
{
    [Fact]
    public void UnderPressureTheOldestUnleasedEntryIsEvictedToServeTheRent()
    {
        using var pool = TestPools.Create(fallbackFactor: 1);
        using var cache = new LeaseCache<int>(pool);
        for (var i = 0; i < 4; i++)
        {
            var lease = pool.Rent(TestPools.Large);
            lease.Span[0] = (byte)i;
            Assert.True(cache.TryAdd(i, lease));
        }

        // A reader holds segment 0 (oldest), so segment 1 is the oldest unleased one.
        Assert.True(cache.TryGet(0, out var reading));
        var fresh = pool.Rent(TestPools.Large);

        Assert.True(cache.TryGet(0, out var again));
        again.Release();
        Assert.False(cache.TryGet(1, out _));
        Assert.True(cache.TryGet(2, out var two));
        two.Release();
        Assert.Equal(1, pool.GetStatistics().Evictions);
        Assert.Equal(0, reading.Span[0]);

        reading.Release();
        fresh.Release();
        cache.Dispose();
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
        pool.VerifyQuiescentIntegrity();
    }

    [Fact]
    public void ALeaseOutlivesTheEvictionOfItsEntry()
    {
        using var pool = TestPools.Create();
        using var cache = new LeaseCache<string>(pool);
        var segment = pool.Rent(200_000);
        segment.Span.Fill(0xAB);
        cache.TryAdd("seg-1", segment);

        Assert.True(cache.TryGet("seg-1", out var sending));
        Assert.Equal(1, cache.EvictOldest(1)); // live window slides past seg-1 during the send
        Assert.Equal(0, cache.Count);

        Assert.Equal(1, sending.ReferenceCount);
        Assert.All(sending.Span.ToArray(), b => Assert.Equal(0xAB, b));
        Assert.Equal(1, pool.GetStatistics().LeasedBlocks);

        sending.Release();
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
        pool.VerifyQuiescentIntegrity();
    }

    [Fact]
    public void WhenEveryCachedEntryIsBeingReadExhaustionIsReportedNotForced()
    {
        using var pool = TestPools.Create(fallbackFactor: 1);
        using var cache = new LeaseCache<int>(pool);
        var readers = new List<BufferLease>();
        for (var i = 0; i < 4; i++)
        {
            cache.TryAdd(i, pool.Rent(TestPools.Large));
            cache.TryGet(i, out var r);
            readers.Add(r);
        }

        Assert.False(pool.TryRent(TestPools.Large, out _));
        Assert.Equal(4, cache.Count);
        foreach (var r in readers)
        {
            r.Release();
        }
    }
}
