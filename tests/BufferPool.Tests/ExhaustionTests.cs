using System.Diagnostics;

namespace StreamServer.BufferPool.Tests;

/// <summary>A full pool fails fast with a typed error and a metric; it never grows and never hangs.</summary>
public class ExhaustionTests
{
    [Fact]
    public void AFullClassMakesTryRentFalseAndRentThrowTheTypedException()
    {
        using var pool = TestPools.Create(fallbackFactor: 1);
        var held = new List<BufferLease>();
        while (pool.TryRent(TestPools.Large, out var lease))
        {
            held.Add(lease);
        }

        Assert.Equal(4, held.Count);
        var ex = Assert.Throws<BufferPoolExhaustedException>(() => pool.Rent(TestPools.Large));
        Assert.Equal(TestPools.Large, ex.RequestedBytes);
        Assert.Equal(2, pool.GetStatistics().ExhaustedFailures); // the loop's last TryRent + Rent
        Assert.Equal(pool.CapacityBytes, pool.GetStatistics().FreeBytes + pool.GetStatistics().LeasedBytes);

        held[0].Release();
        Assert.True(pool.TryRent(TestPools.Large, out var again));
        again.Release();
        for (var i = 1; i < held.Count; i++)
        {
            held[i].Release();
        }

        pool.VerifyQuiescentIntegrity();
    }

    [Fact]
    public void AnEmptyClassFallsBackToALargerClassOnlyWithinTheFallbackFactor()
    {
        using var pool = TestPools.Create(fallbackFactor: 16);
        var held = new List<BufferLease>();
        for (var i = 0; i < 8; i++)
        {
            held.Add(pool.Rent(TestPools.Small));
        }

        // 4 KiB class empty: 64 KiB (16x) blocks may serve it, 1 MiB (256x) may not.
        var fallback = pool.Rent(TestPools.Small);
        Assert.Equal(TestPools.Medium, fallback.BlockSize);
        Assert.Equal(TestPools.Small, fallback.Span.Length);
        held.Add(fallback);
        for (var i = 0; i < 7; i++)
        {
            held.Add(pool.Rent(TestPools.Small));
        }

        Assert.False(pool.TryRent(TestPools.Small, out _));
        Assert.True(pool.TryRent(TestPools.Large, out var large)); // large blocks were never touched
        large.Release();
        foreach (var l in held)
        {
            l.Release();
        }

        pool.VerifyQuiescentIntegrity();
    }

    [Fact]
    public void ARequestLargerThanTheLargestClassIsAnArgumentError()
    {
        using var pool = TestPools.Create();
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(TestPools.Large + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(0));
    }

    [Fact]
    public void MoreSizeClassesThanAThreadCacheHoldsAreAConfigurationError()
    {
        // Each thread's cache keeps one slot per class inline (64); a 65th class is refused up front.
        var classes = new List<SizeClass>();
        for (var i = 1; i <= 65; i++)
        {
            classes.Add(new SizeClass($"c{i}", i * 4096, 1.0 / 65));
        }

        var ex = Assert.Throws<ArgumentException>(() =>
            new MemfdBufferPool(new BufferPoolOptions { CapacityBytes = 64L * 1024 * 1024, SizeClasses = classes }));
        Assert.Contains("between 1 and 64 size classes", ex.Message);
    }

    [Fact]
    public async Task ATimedRentGetsABlockAnotherThreadReturnsWhileItWaits()
    {
        using var pool = TestPools.Create(fallbackFactor: 1);
        var held = new List<BufferLease>();
        for (var i = 0; i < 4; i++)
        {
            held.Add(pool.Rent(TestPools.Large));
        }

        var toReturn = held[2];
        var returnedOffset = toReturn.FileOffset;
        var returner = Task.Run(async () =>
        {
            await Task.Delay(150);
            toReturn.Release();
        });
        var sw = Stopwatch.StartNew();
        var got = pool.Rent(TestPools.Large, TimeSpan.FromSeconds(10));
        sw.Stop();
        await returner;

        Assert.InRange(sw.ElapsedMilliseconds, 100, 5000);
        Assert.Equal(returnedOffset, got.FileOffset);
        Assert.Equal(4, pool.GetStatistics().LeasedBlocks);
        got.Release();
        held.RemoveAt(2);
        foreach (var l in held)
        {
            l.Release();
        }

        pool.VerifyQuiescentIntegrity();
    }

    [Fact]
    public void ATimedRentGivesUpAtTheDeadlineWithTheTypedException()
    {
        using var pool = TestPools.Create(fallbackFactor: 1);
        var held = new List<BufferLease>();
        for (var i = 0; i < 4; i++)
        {
            held.Add(pool.Rent(TestPools.Large));
        }

        var sw = Stopwatch.StartNew();
        var ex = Assert.Throws<BufferPoolExhaustedException>(() => pool.Rent(TestPools.Large, TimeSpan.FromMilliseconds(200)));
        sw.Stop();

        Assert.Contains("waited 200 ms", ex.Message);
        Assert.InRange(sw.ElapsedMilliseconds, 190, 3000);
        Assert.Equal(1, pool.GetStatistics().TimeoutFailures);
        foreach (var l in held)
        {
            l.Release();
        }
    }
}
