using System.Runtime.CompilerServices;

namespace StreamServer.BufferPool;

/// <summary>
/// One free block per size class kept by the thread that returned it, so a thread that rents and returns
/// in a loop (an encoder, a benchmark) touches no shared cache line and pays no atomic instruction: on this
/// 2-core VM one uncontended CAS costs ~9 ns, and the global stack needs one per rent and one per return.
/// Hoarding is bounded to one block per class per thread; a block is parked only while its class still has
/// free blocks on the shared stack and nobody waits in a timed rent; parked blocks are given back when the
/// pool is under pressure (the flush epoch changes; the owner flushes at its next pool call) or when the
/// thread dies (finalizer).
/// </summary>
internal sealed class ThreadBlockCache
{
    /// <summary>Most size classes a pool may have: the slots live inside this object (no array to chase on every
    /// rent and return, which start from a thread-static load already).</summary>
    public const int MaxClasses = 64;

    private ClassSlots _slots;

    public ThreadBlockCache(MemfdBufferPool pool, int classes, long epoch)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classes, MaxClasses);
        Pool = pool;
        ClassCount = classes;
        ((Span<int>)_slots).Fill(-1);
        Epoch = epoch;
    }

    public MemfdBufferPool Pool { get; }

    public long Epoch { get; set; }

    public int ClassCount { get; }

    /// <summary>Free block index of a class (-1 = empty) for a class index the pool computed (always in range),
    /// without a bounds check. Only the owning thread touches it (and the finalizer once the owner is dead).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref int SlotFor(int classIndex) => ref Unsafe.Add(ref Unsafe.As<ClassSlots, int>(ref _slots), (nuint)(uint)classIndex);

    ~ThreadBlockCache() => Pool.FlushThreadCache(this);

    [InlineArray(MaxClasses)]
    private struct ClassSlots
    {
        private int _first;
    }
}
