namespace StreamServer.BufferPool.Tests;

/// <summary>A million lease cycles cost no memory: nothing is allocated per lease, managed or native.</summary>
public class ResidentMemoryTests
{
    [Fact]
    public void AMillionLeaseCyclesDoNotGrowResidentMemoryOrTheManagedHeap()
    {
        // No poisoning (the Debug build under test would fill and verify every returned block): this is about
        // what a production lease cycle costs in memory.
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "rss", CapacityBytes = 64L * 1024 * 1024, DebugChecks = false });
        int[] sizes = [100, 5000, 64 * 1024, 300_000, 1 << 20, 3 << 20];

        var held = new BufferLease[4];

        // Warm-up: touch every block once so their pages are resident before the baseline, and run the loop
        // long enough for tiered JIT to finish recompiling it (OSR, then tier 1 in the background after a
        // ~100 ms delay): a recompilation during the measured cycles grows the code heap by ~2 MB of RSS.
        // Cycles repeat until a round compiles no method, so the wait ends when tiering has, however busy the machine.
        Cycle(pool, sizes, held, 200_000);
        var cycles = 200_000L;
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        for (var round = 0; round < 100; round++)
        {
            Thread.Sleep(150); // tier-1 promotion is queued after a ~100 ms quiet period
            Cycle(pool, sizes, held, 20_000);
            cycles += 20_000;
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now == compiled)
            {
                break;
            }

            compiled = now;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var rssBefore = Native.ResidentBytes();
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();

        Cycle(pool, sizes, held, 1_000_000);

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var rssAfter = Native.ResidentBytes();
        Assert.Equal(0, allocated);
        Assert.True(rssAfter - rssBefore < 2 * 1024 * 1024, $"VmRSS grew by {(rssAfter - rssBefore) / 1024} KiB over 10^6 cycles");
        Assert.Equal(0, pool.GetStatistics().LeasedBlocks);
        Assert.Equal(cycles + 1_000_000, pool.GetStatistics().Allocations);
    }

    /// <summary>Holds a window of four leases so more than one block per class circulates.</summary>
    private static void Cycle(MemfdBufferPool pool, int[] sizes, BufferLease[] held, int count)
    {
        for (var i = 0; i < count; i++)
        {
            ref var slot = ref held[i & 3];
            if (slot.IsAllocated)
            {
                slot.Release();
            }

            slot = pool.Rent(sizes[i % sizes.Length]);
            slot.Span[0] = (byte)i;
            slot.Span[^1] = (byte)i;
        }

        for (var i = 0; i < held.Length; i++)
        {
            if (held[i].IsAllocated)
            {
                held[i].Release();
                held[i] = default;
            }
        }
    }
}
