namespace StreamServer.BufferPool;

/// <summary>Statistics, integrity checks and the messages of misuse and exhaustion.</summary>
public sealed unsafe partial class MemfdBufferPool
{
    public BufferPoolStatistics GetStatistics()
    {
        var classes = new SizeClassStatistics[_slabs.Length];
        long free = 0, leased = 0, allocations = 0;
        var leasedBlocks = 0;
        for (var c = 0; c < _slabs.Length; c++)
        {
            var slab = _slabs[c];
            var leasedInClass = 0;
            for (var b = slab.FirstBlock; b < slab.FirstBlock + slab.BlockCount; b++)
            {
                if ((Volatile.Read(ref _blocks[b].State) & RefCountMask) != 0)
                {
                    leasedInClass++;
                }

                allocations += RentsOf(ref _blocks[b]);
            }

            leasedBlocks += leasedInClass;
            leased += (long)leasedInClass * slab.BlockSize;
            free += (long)(slab.BlockCount - leasedInClass) * slab.BlockSize;
            classes[c] = new SizeClassStatistics(slab.Name, slab.BlockSize, slab.BlockCount, slab.BlockCount - leasedInClass, leasedInClass);
        }

        return new BufferPoolStatistics(CapacityBytes, free, leased, leasedBlocks, allocations,
            Interlocked.Read(ref _exhausted), Interlocked.Read(ref _timeouts), classes);
    }

    /// <summary>
    /// Checks that every block is accounted for exactly once: either on its class's free stack with no
    /// references, or off it with references. Only valid while no thread rents or returns.
    /// </summary>
    public void VerifyQuiescentIntegrity()
    {
        Span<byte> seen = _blocks.Length <= 4096 ? stackalloc byte[_blocks.Length] : new byte[_blocks.Length];
        seen.Clear();
        for (var c = 0; c < _slabs.Length; c++)
        {
            var slab = _slabs[c];
            _free[c].CountQuiescent(_next, seen);
            for (var b = slab.FirstBlock; b < slab.FirstBlock + slab.BlockCount; b++)
            {
                var refs = Volatile.Read(ref _blocks[b].State) & RefCountMask;
                if (_blocks[b].ClassIndex != c)
                {
                    throw new BufferLeaseMisuseException($"block {b} sits in class {slab.Name} but belongs to another");
                }

                if (seen[b] != 0 && refs != 0)
                {
                    throw new BufferLeaseMisuseException($"block {b} is free-listed but has {refs} references");
                }

                var parked = (Volatile.Read(ref _blocks[b].State) & ParkedFlag) != 0;
                if (seen[b] != 0 && parked)
                {
                    throw new BufferLeaseMisuseException($"block {b} is both on the free list and in a thread cache");
                }

                if (seen[b] == 0 && refs == 0 && !parked)
                {
                    throw new BufferLeaseMisuseException($"block {b} has no references but is not on the free list (leaked)");
                }
            }
        }

        for (var b = 0; b < _blocks.Length; b++)
        {
            var home = _slabs[_blocks[b].ClassIndex];
            if (seen[b] != 0 && (b < home.FirstBlock || b >= home.FirstBlock + home.BlockCount))
            {
                throw new BufferLeaseMisuseException($"block {b} is on the free list of a foreign class");
            }
        }
    }

    internal BufferPoolMetrics Metrics => _metrics;

    internal long ExhaustedFailures => Interlocked.Read(ref _exhausted);

    internal long TimeoutFailures => Interlocked.Read(ref _timeouts);

    /// <summary>Lifetime rents of a block, from its generation (see <see cref="BlockState.GenerationWraps"/>);
    /// callable from any thread.</summary>
    private static long RentsOf(ref BlockState s)
    {
        while (true)
        {
            var wraps = Volatile.Read(ref s.GenerationWraps);
            var generation = (uint)((ulong)Volatile.Read(ref s.State) >> 32);
            if (Volatile.Read(ref s.GenerationWraps) == wraps)
            {
                return wraps == 0 ? 0 : ((wraps - 1) << 32) + generation + 1;
            }
        }
    }

    private BufferLeaseMisuseException Stale(int block, int generation, long state, string what)
    {
        var current = (int)(state >> 32);
        var refs = state & RefCountMask;
        var why = current != generation
            ? $"the block was returned and re-rented (generation {generation} -> {current})"
            : "the lease was already returned (double return or use after return)";
        return new BufferLeaseMisuseException($"{what} block {block} ({_slabs[_blocks[block].ClassIndex].Name}) failed: {why}; references now {refs}");
    }

    private void VerifyPoison(int block, ref BlockState s)
    {
        var freed = new ReadOnlySpan<byte>(_base + s.Offset, s.PoisonedLength);
        var bad = freed.IndexOfAnyExcept(PoisonByte);
        s.PoisonedLength = 0;
        if (bad >= 0)
        {
            throw new BufferLeaseMisuseException(
                $"block {block} ({_slabs[s.ClassIndex].Name}) was written after it was returned (byte {bad} changed): use after return");
        }
    }

    private string Describe(int length)
    {
        var best = _slabs[ClassFor(length)];
        return $"class {best.Name} ({best.BlockSize} B x {best.BlockCount}) and fallbacks all leased; capacity {CapacityBytes} B";
    }
}
