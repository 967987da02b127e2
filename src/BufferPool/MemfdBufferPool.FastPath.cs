using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamServer.BufferPool;

/// <summary>Rent and return: the thread-cache fast path, the shared free stacks, fallbacks, and lease accessors.</summary>
public sealed unsafe partial class MemfdBufferPool
{
    /// <summary>Rents a block of at least <paramref name="length"/> bytes; false when none is free even after
    /// threads gave back their cached blocks (counted in streamserver_bufferpool_failures_total).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRent(int length, out BufferLease lease)
    {
        if (TryTakeParked(length, out var token) || TryRentShared(length, out token))
        {
            lease = new BufferLease(this, token);
            return true;
        }

        lease = default;
        return false;
    }

    /// <summary>Rents or throws <see cref="BufferPoolExhaustedException"/> at once.</summary>
    /// <remarks>
    /// The common rent takes this thread's parked block of the best class for <paramref name="length"/>: plain
    /// loads and stores only, small enough to inline into the caller. Everything else (shared stack, fallbacks,
    /// thread-cache flush, disposed, bad length) is out of line. Both ways yield a token (one register, also as the
    /// out-of-line call's return value): returning two whole leases from two branches made the JIT keep the
    /// lease on the stack.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public BufferLease Rent(int length) =>
        new(this, TryTakeParked(length, out var token) ? token : RentShared(length));

    /// <summary>This thread's parked block of the best class for <paramref name="length"/>, if it has one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryTakeParked(int length, out long token)
    {
        var cache = t_cache;
        if (cache is not null && cache.Pool == this && (uint)(length - 1) < (uint)_largestBlock)
        {
            ref var slot = ref cache.SlotFor(ClassForValid(length));
            var block = slot;
            if (block >= 0 && cache.Epoch == Volatile.Read(ref _flushEpoch))
            {
                slot = -1;
                token = Activate(block, length);
                return true;
            }
        }

        token = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private long RentShared(int length) =>
        TryRentShared(length, out var token) ? token : throw new BufferPoolExhaustedException(length, Describe(length));

    /// <summary>The thread cache missed: pop the class's shared stack, then fall back to larger classes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryRentShared(int length, out long token)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var best = ClassFor(length);
        if (TryRentFast(best, length, out token) || TryRentSlow(best, length, out token))
        {
            return true;
        }

        Interlocked.Increment(ref _exhausted);
        return false;
    }

    /// <summary>
    /// The lease currently holding the block that starts at <paramref name="address"/> (a pointer obtained from
    /// <see cref="BufferLease.DangerousGetPointer"/> and handed through native code, e.g. FFmpeg's
    /// av_buffer_create opaque data). False when the address is not a block start of this pool.
    /// Throws <see cref="BufferLeaseMisuseException"/> when that block is not leased (a double free from C).
    /// </summary>
    public bool TryGetLeaseAt(nint address, out BufferLease lease)
    {
        lease = default;
        var offset = (long)((byte*)address - _base);
        if ((byte*)address < _base || offset >= CapacityBytes)
        {
            return false;
        }

        for (var c = _slabs.Length - 1; c >= 0; c--)
        {
            var slab = _slabs[c];
            if (offset < slab.Offset)
            {
                continue;
            }

            var within = offset - slab.Offset;
            if (within % slab.BlockSize != 0)
            {
                return false;
            }

            var block = slab.FirstBlock + (int)(within / slab.BlockSize);
            var state = Volatile.Read(ref _blocks[block].State);
            var generation = (int)(state >> 32);
            if ((state & RefCountMask) == 0)
            {
                throw Stale(block, generation, state, "lookup by address of");
            }

            lease = new BufferLease(this, ((long)generation << 32) | (uint)block);
            return true;
        }

        return false;
    }

    // Accessors: the generation check (use after return) is compiled into Debug builds only. In Release the
    // lease is trusted like an ArrayPool array: a check per Span access would cost more than the rest of it.
    internal int LengthOf(int block, int generation)
    {
        ValidateInDebug(block, generation);
        return BlockAt(block).Length;
    }

    internal int BlockSizeOf(int block, int generation)
    {
        ValidateInDebug(block, generation);
        return BlockAt(block).BlockSize;
    }

    internal long OffsetOf(int block, int generation)
    {
        ValidateInDebug(block, generation);
        return BlockAt(block).Offset;
    }

    internal nint PointerOf(int block, int generation)
    {
        ValidateInDebug(block, generation);
        return (nint)(_base + BlockAt(block).Offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Span<byte> SpanOf(int block, int generation)
    {
        ValidateInDebug(block, generation);
        ref var s = ref BlockAt(block);
        // CreateSpan: the length is the pool's own (never negative), so skip the constructor's check.
        return MemoryMarshal.CreateSpan(ref _base[s.Offset], s.Length);
    }

    internal Memory<byte> MemoryOf(int block, int generation)
    {
        ValidateInDebug(block, generation);
        ref var s = ref BlockAt(block);
        var slab = _slabs[s.ClassIndex];
        return slab.Manager.Memory.Slice((int)(s.Offset - slab.Offset), s.Length);
    }

    internal int RefCountOf(int block, int generation)
    {
        var state = Volatile.Read(ref _blocks[block].State);
        return (int)(state >> 32) == generation ? (int)(state & RefCountMask) : 0;
    }

    internal void AddRef(int block, int generation)
    {
        ref var state = ref _blocks[block].State;
        while (true)
        {
            var current = Volatile.Read(ref state);
            if ((int)(current >> 32) != generation || (current & RefCountMask) == 0)
            {
                throw Stale(block, generation, current, "AddRef on");
            }

            if ((current & RefCountMask) == RefCountMask)
            {
                throw new InvalidOperationException($"block {block} already has {RefCountMask} references");
            }

            if (Interlocked.CompareExchange(ref state, current + 1, current) == current)
            {
                return;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Release(long token)
    {
        var block = (int)token;
        ref var s = ref BlockAt(block);
        var cache = t_cache;
        var generationBits = token & GenerationMask;
        // Sole holder of an untimed lease (the common case: a frame plane, a scratch buffer): nobody else may
        // legally touch the count, so plain stores do. A stale or doubled release, a shared or a timed lease all
        // fail this one comparison and go the checked way, so double returns are caught in every build at no
        // cost here. With debug checks on there is no thread cache, so everything goes the checked way.
        if (s.State == (generationBits | 1) && cache is not null && cache.Pool == this)
        {
            var classIndex = s.ClassIndex;
            ref var slot = ref cache.SlotFor(classIndex);
            if (slot < 0 && cache.Epoch == Volatile.Read(ref _flushEpoch) && Volatile.Read(ref _waiters) == 0
                && !FreeStackAt(classIndex).IsEmpty)
            {
                // Park on this thread (only while the class has other free blocks: the last free block of a
                // class always goes to the shared stack, where any thread can get it).
                s.State = generationBits | ParkedFlag;
                slot = block;
                return;
            }
        }

        ReleaseOutOfLine(block, (int)(token >> 32));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReleaseOutOfLine(int block, int generation)
    {
        ref var state = ref BlockAt(block).State;
        if ((Volatile.Read(ref state) & ~TimedFlag) == (((long)generation << 32) | 1) && !_debugChecks)
        {
            // Sole holder: no atomic needed for the count; the free-stack CAS publishes the state.
            Recycle(block, ref state, generation);
            return;
        }

        ReleaseShared(block, generation, ref state);
    }

    private void ReleaseShared(int block, int generation, ref long state)
    {
        while (true)
        {
            var current = Volatile.Read(ref state);
            if ((int)(current >> 32) != generation || (current & RefCountMask) == 0)
            {
                throw Stale(block, generation, current, "Release of");
            }

            if (Interlocked.CompareExchange(ref state, current - 1, current) == current)
            {
                if ((current & RefCountMask) == 1)
                {
                    Recycle(block, ref state, generation);
                }

                return;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Recycle(int block, ref long state, int generation)
    {
        ref var s = ref _blocks[block];
        if ((state & TimedFlag) != 0)
        {
            _metrics.RecordLease(s.RentTimestamp);
        }

        if (_debugChecks)
        {
            new Span<byte>(_base + s.Offset, s.Length).Fill(PoisonByte);
            s.PoisonedLength = s.Length;
        }

        // Same generation, zero references, no flags: a stale lease still fails its generation check once
        // re-rented, and fails the zero-count check before that.
        Volatile.Write(ref state, (long)generation << 32);
        if (_useThreadCache && Volatile.Read(ref _waiters) == 0 && TryCacheOnThread(block, ref s))
        {
            return;
        }

        _free[s.ClassIndex].Push(_next, block);

        if (Volatile.Read(ref _waiters) != 0)
        {
            SignalWaiters();
        }

        if (_disposed)
        {
            TryReleaseNativeMemory();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long ActivatePopped(int block, int length)
    {
        ref var s = ref BlockAt(block);
        if (_debugChecks && s.PoisonedLength != 0)
        {
            VerifyPoison(block, ref s);
        }

        return Activate(block, length);
    }

    /// <summary>Hands out a free block; returns the lease token (generation &lt;&lt; 32 | block). Parked blocks come
    /// here directly: they are never poisoned (no thread cache with debug checks), popped ones through
    /// <see cref="ActivatePopped"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Activate(int block, int length)
    {
        ref var s = ref BlockAt(block);
        s.Length = length;

        // Next generation, one reference, no flags (a parked block's flag goes too). The owner has the block
        // exclusively here (popped or parked): a plain store. Whoever gets the lease from another thread gets it
        // through a synchronising hand-off (queue, lock, task), which publishes it.
        var generation = (uint)((ulong)s.State >> 32) + 1;
        var generationBits = (long)((ulong)generation << 32);

        // Lease lifetimes are sampled (1 rent in LeaseSampleInterval per block: the generation counts rents) and
        // only while someone listens: a clock read plus a histogram record per rent would cost more than the rent
        // itself. The sampled rent finishes out of line and hands back the token, so no value has to survive a
        // call on the common path. Generation 0 (the first rent, then every 2^32) is sampled too.
        if ((generation & (LeaseSampleInterval - 1)) == 0)
        {
            return ActivateSampled(block, generationBits);
        }

        s.State = generationBits | 1;
        return generationBits | (uint)block;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private long ActivateSampled(int block, long generationBits)
    {
        ref var s = ref BlockAt(block);
        if (generationBits == 0)
        {
            // Before the state store that shows generation 0: RentsOf reads wraps, state, wraps.
            Interlocked.Increment(ref s.GenerationWraps);
        }

        var state = generationBits | 1;
        if (_leaseSeconds.Enabled)
        {
            s.RentTimestamp = Stopwatch.GetTimestamp();
            state |= TimedFlag;
        }

        s.State = state;
        return generationBits | (uint)block;
    }

    /// <summary>This thread's parked block of the class, else a pop from the class's shared stack.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryRentFast(int best, int length, out long token)
    {
        var cache = t_cache;
        if (cache is not null && cache.Pool == this)
        {
            var epoch = Volatile.Read(ref _flushEpoch);
            if (cache.Epoch != epoch)
            {
                FlushThreadCache(cache);
                cache.Epoch = epoch;
            }

            ref var slot = ref cache.SlotFor(best);
            var cached = slot;
            if (cached >= 0)
            {
                slot = -1;
                token = Activate(cached, length);
                return true;
            }
        }

        if (_free[best].TryPop(_next, out var block))
        {
            token = ActivatePopped(block, length);
            return true;
        }

        token = 0;
        return false;
    }

    private bool TryRentSlow(int best, int length, out long token)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var limit = (long)_slabs[best].BlockSize * _maxFallbackFactor;
            for (var c = best; c < _slabs.Length && _slabs[c].BlockSize <= limit; c++)
            {
                if (_free[c].TryPop(_next, out var block))
                {
                    token = ActivatePopped(block, length);
                    return true;
                }
            }

            if (attempt == 0)
            {
                // Pressure: ask every thread to give back its cached blocks (at its next pool call), give back
                // ours now; then try once more.
                Interlocked.Increment(ref _flushEpoch);
                if (!FlushOwnThreadCache())
                {
                    break;
                }
            }
        }

        token = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryCacheOnThread(int block, ref BlockState s)
    {
        var cache = t_cache;
        var epoch = Volatile.Read(ref _flushEpoch);
        if (cache is null || cache.Pool != this || cache.Epoch != epoch)
        {
            if (_disposed)
            {
                return false;
            }

            cache = AttachThreadCache(cache, epoch);
        }

        // Park only while the class has other free blocks: the last free block of a class always goes
        // back to the shared stack, where any thread can get it.
        ref var slot = ref cache.SlotFor(s.ClassIndex);
        if (slot >= 0 || _free[s.ClassIndex].IsEmpty)
        {
            return false;
        }

        s.State |= ParkedFlag;
        slot = block;
        return true;
    }

    private ThreadBlockCache AttachThreadCache(ThreadBlockCache? current, long epoch)
    {
        if (current is not null)
        {
            current.Pool.FlushThreadCache(current);
            if (current.Pool == this)
            {
                current.Epoch = epoch;
                return current;
            }
        }

        var created = new ThreadBlockCache(this, _slabs.Length, epoch);
        t_cache = created;
        return created;
    }

    private bool FlushOwnThreadCache()
    {
        var cache = t_cache;
        return cache is not null && cache.Pool == this && FlushThreadCache(cache);
    }

    /// <summary>Moves a thread's cached blocks to the shared free stacks (owner thread, or finalizer of a dead thread).</summary>
    internal bool FlushThreadCache(ThreadBlockCache cache)
    {
        var any = false;
        for (var c = 0; c < cache.ClassCount; c++)
        {
            ref var slot = ref cache.SlotFor(c);
            var block = slot;
            if (block >= 0)
            {
                slot = -1;
                _blocks[block].State &= ~ParkedFlag;
                _free[c].Push(_next, block);
                any = true;
            }
        }

        return any;
    }

    /// <summary>A class's shared free stack without a bounds check: class indices come from the pool's own tables.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref BlockFreeStack FreeStackAt(int classIndex)
    {
        Debug.Assert((uint)classIndex < (uint)_free.Length);
        return ref _freeStacks[(uint)classIndex];
    }

    /// <summary>Block state without a bounds check: block indices only come from leases and free lists of this pool.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref BlockState BlockAt(int block)
    {
        Debug.Assert((uint)block < (uint)_blocks.Length);
        return ref _blockStates[(uint)block];
    }

    /// <summary>Best class for a length already known to be 1.._largestBlock.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ClassForValid(int length) =>
        _classTable[(uint)(length - 1) >> 12];

    [Conditional("DEBUG")]
    private void ValidateInDebug(int block, int generation) => Validate(block, generation);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ClassFor(int length)
    {
        if ((uint)(length - 1) >= (uint)_largestBlock)
        {
            ThrowBadLength(length);
        }

        return _classByPage[(length - 1) >> 12];
    }

    private void ThrowBadLength(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        throw new ArgumentOutOfRangeException(nameof(length), length, $"must be 1..{_largestBlock} bytes (largest size class)");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Validate(int block, int generation)
    {
        var state = Volatile.Read(ref _blocks[block].State);
        if ((int)(state >> 32) != generation || (state & RefCountMask) == 0)
        {
            throw Stale(block, generation, state, "use of");
        }
    }
}
