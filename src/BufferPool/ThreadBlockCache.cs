using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
    public ThreadBlockCache(MemfdBufferPool pool, int classes, long epoch)
    {
        Pool = pool;
        Slots = new int[classes];
        Array.Fill(Slots, -1);
        Epoch = epoch;
    }

    public MemfdBufferPool Pool { get; }

    /// <summary>Free block index per class, -1 = empty. Only the owning thread touches it.</summary>
    public int[] Slots { get; }

    public long Epoch { get; set; }

    /// <summary>The slot of a class index that the pool computed (always in range), without a bounds check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref int SlotFor(int classIndex) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Slots), classIndex);

    ~ThreadBlockCache() => Pool.FlushThreadCache(this);
}
