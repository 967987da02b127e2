namespace StreamServer.BufferPool.Tests;

/// <summary>The pool's two views (mapping and descriptor) are one piece of memory.</summary>
public class SharedMemoryViewTests
{
    [Fact]
    public void BytesWrittenThroughSpanAreWhatPreadOnTheFdReturns()
    {
        using var pool = TestPools.Create();
        using var lease = pool.Rent(50_000);
        Assert.Equal(50_000, lease.Span.Length);
        Random.Shared.NextBytes(lease.Span);

        var viaFd = new byte[lease.Length];
        Assert.Equal(viaFd.Length, Native.Pread(lease.FileHandle, viaFd, lease.FileOffset));
        Assert.True(viaFd.AsSpan().SequenceEqual(lease.Span));
    }

    [Fact]
    public void BytesWrittenThroughTheFdShowUpInMemoryAndSpan()
    {
        using var pool = TestPools.Create();
        using var lease = pool.Rent(3000);
        var pattern = new byte[3000];
        Random.Shared.NextBytes(pattern);

        Assert.Equal(pattern.Length, Native.Pwrite(lease.FileHandle, pattern, lease.FileOffset));
        Assert.True(lease.Memory.Span.SequenceEqual(pattern));
        Assert.True(lease.Span.SequenceEqual(pattern));
    }

    [Fact]
    public void BlocksArePageAlignedInFileAndMemoryAndDoNotOverlap()
    {
        using var pool = TestPools.Create();
        var leases = new List<BufferLease>();
        for (var i = 0; i < 5; i++)
        {
            leases.Add(pool.Rent(TestPools.Medium));
        }

        leases.Sort(static (a, b) => a.FileOffset.CompareTo(b.FileOffset));
        for (var i = 0; i < leases.Count; i++)
        {
            Assert.Equal(0, leases[i].FileOffset % 4096);
            Assert.Equal(0, leases[i].DangerousGetPointer() % 64);
            if (i > 0)
            {
                Assert.True(leases[i - 1].FileOffset + leases[i - 1].BlockSize <= leases[i].FileOffset);
            }
        }

        foreach (var l in leases)
        {
            l.Release();
        }
    }

    [Fact]
    public void TheMemfdIsVisibleInProcSelfFdWithItsName()
    {
        var name = $"pool-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
        using var pool = TestPools.Create(name: name);
        var target = File.ResolveLinkTarget($"/proc/self/fd/{pool.FileHandle.DangerousGetHandle()}", returnFinalTarget: false);
        Assert.NotNull(target);
        Assert.StartsWith($"/memfd:{name}", target!.FullName);
        Assert.Equal(pool.CapacityBytes, RandomAccess.GetLength(pool.FileHandle));
    }
}
