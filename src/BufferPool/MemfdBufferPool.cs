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
/// One class in four files by job: this one lays out the slabs and owns the memory; MemfdBufferPool.FastPath.cs is
/// rent and return; MemfdBufferPool.Waiting.cs the timed rent; MemfdBufferPool.Diagnostics.cs statistics and checks.
/// </summary>
public sealed unsafe partial class MemfdBufferPool : IDisposable
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
    private int _waiters;
    private long _returnEpoch;
    private long _exhausted;
    private long _timeouts;
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
