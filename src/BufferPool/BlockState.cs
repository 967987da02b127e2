using System.Runtime.InteropServices;

namespace StreamServer.BufferPool;

/// <summary>
/// Per-block bookkeeping. Everything except <see cref="RefCount"/> is written only by the thread that owns
/// the block exclusively (between pop and the first hand-out, or after the count reached zero), so those
/// writes need no atomics; the free-stack CAS publishes them.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BlockState
{
    // Generation (high 32 bits) | reference count (low 32 bits). One word so a stale lease's release can
    // never decrement a newer lease's count (checked in the same CAS). First, so the whole hot state of a
    // block shares one cache line.
    public long State;
    public long Offset;        // in the memfd and the mapping
    public long RentTimestamp; // Stopwatch ticks, 0 when lease timing was off at rent
    public long Rents;         // lifetime rent count of this block; their sum is allocations_total
    public int RefCount;       // 0 = free
    public int Generation;     // bumped at every rent; a lease carries the value it was issued with
    public int Length;         // requested length of the current lease
    public int PoisonedLength; // bytes filled with poison at the last return (debug checks)
    public int ClassIndex;
    public int BlockSize;
    public bool InThreadCache; // free, parked in its last user's ThreadBlockCache
}
