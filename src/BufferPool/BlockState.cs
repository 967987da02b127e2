using System.Runtime.InteropServices;

namespace StreamServer.BufferPool;

/// <summary>
/// Per-block bookkeeping. Everything except <see cref="RefCount"/> is written only by the thread that owns
/// the block exclusively (between pop and the first hand-out, or after the count reached zero), so those
/// writes need no atomics; the free-stack CAS publishes them.
/// </summary>
// 64 bytes: every block's state sits at the same offset within cache lines, so no block (size class) is
// slower than another because its hot fields straddle two lines.
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct BlockState
{
    // Generation (high 32 bits) | flags (MemfdBufferPool.TimedFlag, ParkedFlag) | reference count (low 24 bits).
    // One word so a stale lease's release can never decrement a newer lease's count (checked in the same CAS),
    // and so the sole owner's return decides with one comparison: a timed lease carries a flag that makes it
    // fail, like a stale or shared one. First, so the whole hot state of a block shares one cache line.
    public long State;
    public long Offset;        // in the memfd and the mapping
    public int Length;         // requested length of the current lease
    public int ClassIndex;

    // Above: everything a parked rent and the sole owner's return touch. Below: cold.
    public long RentTimestamp; // Stopwatch ticks of a timed (sampled) rent; meaningful while TimedFlag is set

    // Times the 32-bit generation passed 0 (it starts at -1, so the first rent makes it 0 and counts 1). The
    // generation is bumped by every rent and nothing else, so rents = (wraps - 1) * 2^32 + generation + 1: the
    // allocations metric costs the rent nothing beyond the generation bump it does anyway.
    public long GenerationWraps;
    public int PoisonedLength; // bytes filled with poison at the last return (debug checks)
    public int BlockSize;
}
