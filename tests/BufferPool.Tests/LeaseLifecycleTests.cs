namespace StreamServer.BufferPool.Tests;

/// <summary>Reference counting, and misuse (double return, use after return) being caught.</summary>
public class LeaseLifecycleTests
{
    [Fact]
    public void AnAddedReferenceKeepsTheBlockLeasedUntilTheLastRelease()
    {
        using var pool = TestPools.Create();
        var owner = pool.Rent(TestPools.Large);
        var sender = owner.AddRef();
        Assert.Equal(2, owner.ReferenceCount);

        owner.Release();
        Assert.Equal(1, pool.GetStatistics().LeasedBlocks);
        sender.Span[0] = 42; // still valid: the sender's reference keeps it alive

        sender.Release();
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
        pool.VerifyQuiescentIntegrity();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReturningTwiceThrowsAndLeavesThePoolConsistent(bool debugChecks)
    {
        using var pool = TestPools.Create(debugChecks);
        var lease = pool.Rent(100);
        lease.Release();

        var ex = Assert.Throws<BufferLeaseMisuseException>(lease.Release);
        Assert.Contains("already returned", ex.Message);
        pool.VerifyQuiescentIntegrity();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AStaleLeaseCannotReleaseOrReadTheBlocksNextOwner(bool debugChecks)
    {
        using var pool = TestPools.Create(debugChecks, threadCache: false);
        // The three other large blocks are taken, so the next large rent must reuse the stale block.
        var others = new[] { pool.Rent(TestPools.Large), pool.Rent(TestPools.Large), pool.Rent(TestPools.Large) };
        var stale = pool.Rent(TestPools.Large);
        var block = stale.FileOffset;
        stale.Release();
        var next = pool.Rent(TestPools.Large);
        Assert.Equal(block, next.FileOffset);

        Assert.Contains("re-rented", Assert.Throws<BufferLeaseMisuseException>(stale.Release).Message);
        Assert.Throws<BufferLeaseMisuseException>(() => stale.Span.Length);
        Assert.Throws<BufferLeaseMisuseException>(() => stale.AddRef());
        Assert.Equal(1, next.ReferenceCount);

        next.Release();
        foreach (var o in others)
        {
            o.Release();
        }

        pool.VerifyQuiescentIntegrity();
    }

    [Fact]
    public void AStaleLeaseOfABlockParkedOnThisThreadAndRentedAgainIsCaught()
    {
        // The thread-cache fast path (plain stores, no atomics): return parks the block here, the next rent of
        // the class takes it straight back. The old lease must still fail on the new owner's block.
        using var pool = TestPools.Create(threadCache: true);
        var stale = pool.Rent(TestPools.Large);
        var offset = stale.FileOffset;
        stale.Release();
        var next = pool.Rent(TestPools.Large);
        Assert.Equal(offset, next.FileOffset); // the parked block, not another one

        Assert.Contains("re-rented", Assert.Throws<BufferLeaseMisuseException>(stale.Release).Message);
        Assert.Throws<BufferLeaseMisuseException>(() => stale.Span.Length);
        Assert.Equal(1, next.ReferenceCount);
        next.Release();
        Assert.Contains("already returned", Assert.Throws<BufferLeaseMisuseException>(next.Release).Message);
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
        pool.VerifyQuiescentIntegrity();
    }

    [Fact]
    public void TheTestsRunAgainstABuildWithAccessChecks()
    {
        // The project references a Debug build of the pool (see the csproj); without it the use-after-return
        // tests below would test nothing.
        Assert.True(MemfdBufferPool.AccessChecksCompiledIn);
    }

    [Fact]
    public void UsingTheLeaseAfterReturnThrows()
    {
        using var pool = TestPools.Create();
        var lease = pool.Rent(10);
        lease.Release();
        Assert.Throws<BufferLeaseMisuseException>(() => lease.Span.Length);
        Assert.Throws<BufferLeaseMisuseException>(() => lease.Memory.Length);
        Assert.Throws<BufferLeaseMisuseException>(() => lease.FileOffset);
    }

    [Fact]
    public void WithDebugChecksAWriteThroughAKeptMemoryAfterReturnIsCaughtAtTheNextRent()
    {
        // Poisoning is a runtime option (on by default in Debug builds, honoured by Release builds too).
        using var pool = TestPools.Create(debugChecks: true, threadCache: false);
        var lease = pool.Rent(TestPools.Large);
        var kept = lease.Memory; // a caller wrongly keeps the Memory past the return
        lease.Release();
        kept.Span[123] = 7;

        // Drain the class so the poisoned block is handed out again.
        var ex = Assert.Throws<BufferLeaseMisuseException>(() =>
        {
            for (var i = 0; i < 4; i++)
            {
                pool.Rent(TestPools.Large);
            }
        });
        Assert.Contains("written after it was returned", ex.Message);
    }

    [Fact]
    public void WithoutDebugChecksFreedMemoryIsNotPoisoned()
    {
        using var pool = TestPools.Create(debugChecks: false, threadCache: false);
        var lease = pool.Rent(16);
        lease.Span.Fill(1);
        var offset = lease.FileOffset;
        lease.Release();
        var after = new byte[16];
        Native.Pread(pool.FileHandle, after, offset);
        Assert.All(after, b => Assert.Equal(1, b));
    }

    [Fact]
    public void DisposingThePoolKeepsTheMappingUntilTheLastLeaseIsReturned()
    {
        var pool = TestPools.Create();
        var lease = pool.Rent(100);
        lease.Span.Fill(9);
        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Rent(100));
        Assert.False(pool.FileHandle.IsClosed);
        Assert.Equal(9, lease.Span[99]); // still mapped

        lease.Release();
        Assert.True(pool.FileHandle.IsClosed);
    }
}
