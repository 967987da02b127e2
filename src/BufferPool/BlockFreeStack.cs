using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamServer.BufferPool;

/// <summary>
/// Lock-free LIFO of free block indices for one size class (a Treiber stack over an index array).
/// The head packs a 32-bit tag with the top index + 1 (0 = empty) so a pop that raced with a pop/push of
/// the same block fails its compare-exchange instead of corrupting the list (the ABA problem).
/// LIFO on purpose: the most recently returned block is the one whose pages and cache lines are warm.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct BlockFreeStack
{
    // Own cache line(s): classes are hit by different threads; false sharing between heads costs more than the CAS.
    [FieldOffset(64)]
    private long _head;

    public readonly bool IsEmpty => (uint)Volatile.Read(ref Unsafe.AsRef(in _head)) == 0;

    public bool TryPop(int[] next, out int index)
    {
        while (true)
        {
            var head = Volatile.Read(ref _head);
            var top = (int)(uint)head;
            if (top == 0)
            {
                index = -1;
                return false;
            }

            // next[] may be stale if another thread popped `top` meanwhile; the tag makes the CAS fail then.
            var newHead = ((head + (1L << 32)) & unchecked((long)0xFFFF_FFFF_0000_0000)) | (uint)Volatile.Read(ref next[top - 1]);
            if (Interlocked.CompareExchange(ref _head, newHead, head) == head)
            {
                index = top - 1;
                return true;
            }
        }
    }

    public void Push(int[] next, int index)
    {
        while (true)
        {
            var head = Volatile.Read(ref _head);
            next[index] = (int)(uint)head;
            var newHead = ((head + (1L << 32)) & unchecked((long)0xFFFF_FFFF_0000_0000)) | (uint)(index + 1);
            if (Interlocked.CompareExchange(ref _head, newHead, head) == head)
            {
                return;
            }
        }
    }

    /// <summary>Walks the list; only meaningful while no thread rents or returns (tests, diagnostics).</summary>
    public readonly int CountQuiescent(int[] next, Span<byte> seen)
    {
        var count = 0;
        var top = (int)(uint)Volatile.Read(ref Unsafe.AsRef(in _head));
        while (top != 0)
        {
            var index = top - 1;
            if (seen[index] != 0)
            {
                throw new BufferLeaseMisuseException($"block {index} is on a free list twice");
            }

            seen[index] = 1;
            count++;
            top = next[index];
        }

        return count;
    }
}
