using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using StreamServer.BufferPool.Interop;

namespace StreamServer.BufferPool;

/// <summary>
/// Fixed-capacity memory for the whole pipeline, backed by one memfd mapped MAP_SHARED: every block is
/// reachable as Span/Memory (through the mapping) and as (fd, offset, length) for sendfile, and it is the
/// same physical memory. The capacity is split into slabs of equal blocks (size classes). A rent/return
/// cycle on one thread takes no atomic instruction (a one-block-per-class thread cache, inlined into the
/// caller); otherwise rent and return are lock-free (a tagged Treiber stack per class, one CAS each).
/// Exhaustion is a typed failure, never growth; a timed rent waits for a return instead.
/// </summary>
public sealed unsafe class MemfdBufferPool : IDisposable
{
    // Low word of a block's state: reference count in 24 bits, then flags. High word: generation.
    private const long RefCountMask = 0x00FF_FFFF;

    /// <summary>The current lease is timed for the lease histogram: its last release goes the out-of-line way.</summary>
    private const long TimedFlag = 0x0100_0000;

    /// <summary>Free and parked in a thread's <see cref="ThreadBlockCache"/> (not on the shared stack).</summary>
    private const long ParkedFlag = 0x0200_0000;

    private const long GenerationMask = unchecked((long)0xFFFF_FFFF_0000_0000);

    private readonly SafeFileHandle _file;
    private readonly MappedRegionHandle _mapping;
    private readonly byte* _base;
    private readonly SizeClassSlab[] _slabs;

    // Free stacks in their own array of padded structs: the hot path reaches a head with one bounds check
    // and one load instead of going through the slab object.
    private readonly BlockFreeStack[] _free;
    private readonly BlockState[] _blocks;

    private readonly int[] _next;
    private readonly int[] _classSizes;
    private readonly byte[] _classByPage; // (length - 1) / 4096 -> best class: O(1) instead of a scan

    // The three tables the rent/return fast path reads, as pointers: they are allocated on the pinned object
    // heap (never moved) and the arrays above keep them alive as long as the pool. A pointer needs no null
    // check and no bounds check, where an array field read costs both on every access.
    private readonly BlockState* _blockStates;
    private readonly BlockFreeStack* _freeStacks;
    private readonly byte* _classTable;
    private readonly bool _debugChecks;
    private readonly int _maxFallbackFactor;
    private readonly int _largestBlock;
    private readonly BufferPoolMetrics _metrics;
    private readonly System.Diagnostics.Metrics.Histogram<double> _leaseSeconds;
    private readonly object _waitGate = new();
    private IBufferReclaimer[] _reclaimers = [];
    private int _waiters;
    private long _returnEpoch;
    private long _exhausted;
    private long _timeouts;
    private long _evictions;
    private readonly bool _useThreadCache;
    private volatile bool _disposed;
    private int _released;
    private long _flushEpoch;

    [ThreadStatic]
    private static ThreadBlockCache? t_cache;

    public const byte PoisonByte = 0xDD;

    /// <summary>One rent in this many (per block) is timed for streamserver_bufferpool_lease_seconds: at 8 a listening
    /// exporter nearly doubled the cost of a rent/return (two clock reads + a histogram record per sample, BenchmarkDotNet
    /// 20-26 ns vs 14-16 ns); at 64 it is within noise, and the first rent of every block is still timed.</summary>
    public const int LeaseSampleInterval = 64;

    public MemfdBufferPool(BufferPoolOptions? options = null)
    {
        options ??= new BufferPoolOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CapacityBytes, FrameSizes.PageSize, nameof(options.CapacityBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxFallbackFactor, 1, nameof(options.MaxFallbackFactor));
        if (options.SizeClasses.Count is 0 or > ThreadBlockCache.MaxClasses)
        {
            throw new ArgumentException($"between 1 and {ThreadBlockCache.MaxClasses} size classes are required", nameof(options));
        }

        _debugChecks = options.DebugChecks;
        // Debug checks poison every returned block and verify it at the next rent; parking would skip both.
        _useThreadCache = options.ThreadCache && !options.DebugChecks;
        _maxFallbackFactor = options.MaxFallbackFactor;

        var classes = new SizeClass[options.SizeClasses.Count];
        for (var i = 0; i < classes.Length; i++)
        {
            var c = options.SizeClasses[i];
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(c.BlockSize, nameof(SizeClass.BlockSize));
            classes[i] = c with { BlockSize = checked((int)FrameSizes.Align(c.BlockSize, FrameSizes.PageSize)) };
        }

        Array.Sort(classes, static (a, b) => a.BlockSize.CompareTo(b.BlockSize));

        var counts = new int[classes.Length];
        long total = 0;
        var blockTotal = 0;
        for (var i = 0; i < classes.Length; i++)
        {
            var share = (long)(options.CapacityBytes * classes[i].Share);
            counts[i] = (int)Math.Max(1, share / classes[i].BlockSize);
            if ((long)counts[i] * classes[i].BlockSize > int.MaxValue)
            {
                throw new ArgumentException($"size class {classes[i].Name} would exceed 2 GiB; lower its share", nameof(options));
            }

            total += (long)counts[i] * classes[i].BlockSize;
        }

        // Shares round down to whole blocks; hand the remainder out as extra blocks, largest class first that
        // still fits, so the memfd is the configured size to within one page.
        for (var i = classes.Length - 1; i >= 0; i--)
        {
            var extra = (options.CapacityBytes - total) / classes[i].BlockSize;
            if (extra > 0 && (long)(counts[i] + extra) * classes[i].BlockSize <= int.MaxValue)
            {
                counts[i] += (int)extra;
                total += extra * classes[i].BlockSize;
            }
        }

        for (var i = 0; i < classes.Length; i++)
        {
            blockTotal += counts[i];
        }

        CapacityBytes = total;
        _file = MemfdFile.Create(options.Name, total);
        try
        {
            _mapping = MappedRegionHandle.MapShared(_file, (nuint)total);
        }
        catch
        {
            _file.Dispose();
            throw;
        }

        _base = (byte*)_mapping.DangerousGetHandle();
        _slabs = new SizeClassSlab[classes.Length];
        _free = GC.AllocateArray<BlockFreeStack>(classes.Length, pinned: true);
        _blocks = GC.AllocateArray<BlockState>(blockTotal, pinned: true);
        _freeStacks = (BlockFreeStack*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_free));
        _blockStates = (BlockState*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_blocks));
        _next = new int[blockTotal];
        long offset = 0;
        var block = 0;
        for (var i = 0; i < classes.Length; i++)
        {
            var size = classes[i].BlockSize;
            var slab = new SizeClassSlab(classes[i].Name, size, block, counts[i], offset,
                new MappedMemoryManager(_base + offset, counts[i] * size));
            for (var b = 0; b < counts[i]; b++)
            {
                ref var s = ref _blocks[block + b];
                s.State = GenerationMask; // generation -1, free: the first rent makes it 0 (see GenerationWraps)
                s.Offset = offset + ((long)b * size);
                s.BlockSize = size;
                s.ClassIndex = i;
            }

            // Push highest first so the lowest addresses are handed out first.
            for (var b = counts[i] - 1; b >= 0; b--)
            {
                _free[i].Push(_next, block + b);
            }

            _slabs[i] = slab;
            offset += (long)counts[i] * size;
            block += counts[i];
        }

        _largestBlock = _slabs[^1].BlockSize;
        _classSizes = new int[_slabs.Length];
        for (var i = 0; i < _slabs.Length; i++)
        {
            _classSizes[i] = _slabs[i].BlockSize;
        }

        _classByPage = GC.AllocateArray<byte>(_largestBlock / FrameSizes.PageSize, pinned: true);
        _classTable = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_classByPage));
        for (int page = 0, c = 0; page < _classByPage.Length; page++)
        {
            while (_classSizes[c] < (page + 1) * FrameSizes.PageSize)
            {
                c++;
            }

            _classByPage[page] = (byte)c;
        }

        _metrics = new BufferPoolMetrics(this);
        _leaseSeconds = _metrics.LeaseSeconds;
    }

    public long CapacityBytes { get; }

    /// <summary>The memfd. Shared by every lease (sendfile source); owned by the pool.</summary>
    public SafeFileHandle FileHandle => _file;

    public int LargestBlockSize => _largestBlock;

    public bool DebugChecks => _debugChecks;

    /// <summary>True in Debug builds of this assembly: every lease access checks the block generation (use after
    /// return). Release builds check only on Release/AddRef (double return), which costs nothing extra there.</summary>
    public static bool AccessChecksCompiledIn =>
#if DEBUG
        true;
#else
        false;
#endif

    /// <summary>Rents a block of at least <paramref name="length"/> bytes; false when none is free even after
    /// reclaiming unleased cached entries (counted in streamserver_bufferpool_failures_total).</summary>
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
    /// reclaim, disposed, bad length) is out of line. Both ways yield a token (one register, also as the
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

    /// <summary>The thread cache missed: pop the class's shared stack, then fall back to larger classes and reclaim.</summary>
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
    /// Rents, waiting up to <paramref name="timeout"/> for another holder to return a block (the transcoder
    /// uses this to apply back-pressure instead of failing). Throws <see cref="BufferPoolExhaustedException"/>
    /// at the deadline, so nothing ever hangs.
    /// </summary>
    public BufferLease Rent(int length, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var best = ClassFor(length);
        if (TryRentFast(best, length, out var first))
        {
            return new BufferLease(this, first);
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        Interlocked.Increment(ref _waiters);
        try
        {
            while (true)
            {
                var epoch = Volatile.Read(ref _returnEpoch);
                if (TryRentSlow(best, length, out var token))
                {
                    return new BufferLease(this, token);
                }

                var remaining = deadline - Stopwatch.GetTimestamp();
                if (remaining <= 0)
                {
                    break;
                }

                cancellationToken.ThrowIfCancellationRequested();

                // Never hold _waitGate while reclaiming (reclaimers release leases, which signal under it).
                lock (_waitGate)
                {
                    if (Volatile.Read(ref _returnEpoch) == epoch)
                    {
                        // Cap the sleep so cancellation is noticed promptly.
                        var ms = Math.Min(100, Math.Max(1, (int)(remaining * 1000 / Stopwatch.Frequency)));
                        Monitor.Wait(_waitGate, ms);
                    }
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }

        Interlocked.Increment(ref _timeouts);
        throw new BufferPoolExhaustedException(length, $"waited {timeout.TotalMilliseconds:0} ms; {Describe(length)}");
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

    /// <summary>Registers a cache the pool asks to give back unleased entries before reporting exhaustion.</summary>
    public void AddReclaimer(IBufferReclaimer reclaimer)
    {
        ArgumentNullException.ThrowIfNull(reclaimer);
        IBufferReclaimer[] current, updated;
        do
        {
            current = Volatile.Read(ref _reclaimers);
            updated = [.. current, reclaimer];
        }
        while (Interlocked.CompareExchange(ref _reclaimers, updated, current) != current);
    }

    public void RemoveReclaimer(IBufferReclaimer reclaimer)
    {
        IBufferReclaimer[] current, updated;
        do
        {
            current = Volatile.Read(ref _reclaimers);
            var index = Array.IndexOf(current, reclaimer);
            if (index < 0)
            {
                return;
            }

            updated = [.. current.AsSpan(0, index), .. current.AsSpan(index + 1)];
        }
        while (Interlocked.CompareExchange(ref _reclaimers, updated, current) != current);
    }

    /// <summary>Counts evictions done by caches on top of this pool (streamserver_bufferpool_evictions_total).</summary>
    public void RecordEvictions(int count) => Interlocked.Add(ref _evictions, count);

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
            Interlocked.Read(ref _exhausted), Interlocked.Read(ref _timeouts), Interlocked.Read(ref _evictions), classes);
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

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        // Parked blocks stop being handed out: every thread cache is now stale and goes the checked way.
        Interlocked.Increment(ref _flushEpoch);
        _metrics.Dispose();
        TryReleaseNativeMemory();
    }

    internal BufferPoolMetrics Metrics => _metrics;

    internal long ExhaustedFailures => Interlocked.Read(ref _exhausted);

    internal long TimeoutFailures => Interlocked.Read(ref _timeouts);

    internal long Evictions => Interlocked.Read(ref _evictions);

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
                // ours now, and let caches evict unleased entries; then try once more.
                Interlocked.Increment(ref _flushEpoch);
                var flushed = FlushOwnThreadCache();
                if (!Reclaim(_slabs[best].BlockSize, limit) && !flushed)
                {
                    break;
                }
            }
        }

        token = 0;
        return false;
    }

    private bool Reclaim(int minBlockSize, long maxBlockSize)
    {
        var evicted = 0;
        foreach (var reclaimer in Volatile.Read(ref _reclaimers))
        {
            evicted += reclaimer.Reclaim(minBlockSize, maxBlockSize);
        }

        return evicted > 0;
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

    private void SignalWaiters()
    {
        lock (_waitGate)
        {
            _returnEpoch++;
            Monitor.PulseAll(_waitGate);
        }
    }

    private string Describe(int length)
    {
        var best = _slabs[ClassFor(length)];
        return $"class {best.Name} ({best.BlockSize} B x {best.BlockCount}) and fallbacks all leased; capacity {CapacityBytes} B";
    }

    /// <summary>The mapping outlives Dispose while leases are out (a sendfile in flight); the last return frees it.</summary>
    private void TryReleaseNativeMemory()
    {
        for (var b = 0; b < _blocks.Length; b++)
        {
            if ((Volatile.Read(ref _blocks[b].State) & RefCountMask) != 0)
            {
                return;
            }
        }

        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _mapping.Dispose();
            _file.Dispose();
        }
    }
}
