using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Media;

/// <summary>
/// <see cref="IFrameMemory"/> that keeps released blocks for the next rent of the same size and alignment, up to a
/// budget of idle bytes (the oldest idle block is freed first). For decoders that run in bursts, such as on-demand
/// thumbnails (a few dozen 1080p frames per request): a fresh aligned allocation per frame is a fresh mmap, and
/// touching it costs ~800 page faults per 1080p frame, ~10 000 per thumbnail. Thread safe.
/// </summary>
public sealed unsafe class RecyclingFrameMemory : IFrameMemory
{
    private readonly object _lock = new();
    private readonly Dictionary<nint, (nuint Size, nuint Alignment)> _rented = [];
    private readonly List<(nint Block, nuint Size, nuint Alignment)> _idle = [];
    private long _idleBytes;
    private long _rents;

    public RecyclingFrameMemory(long maxIdleBytes) => MaxIdleBytes = maxIdleBytes;

    /// <summary>
    /// The instance decoders of on-demand thumbnails share: 48 MiB idle at most, enough for the frames two 1080p
    /// renders hold at once. One instance for the process: the native allocator bridge lives as long as it.
    /// </summary>
    public static RecyclingFrameMemory Shared { get; } = new(48L * 1024 * 1024);

    public long MaxIdleBytes { get; }

    /// <summary>Bytes held for reuse now.</summary>
    public long IdleBytes
    {
        get
        {
            lock (_lock)
            {
                return _idleBytes;
            }
        }
    }

    /// <summary>Blocks handed out so far (one per decoded or scaled frame): what a decode cost, for benchmarks and tests.</summary>
    public long Rents => Interlocked.Read(ref _rents);

    public nint Rent(nuint size, nuint alignment)
    {
        if (size == 0 || !nuint.IsPow2(alignment))
        {
            return 0;
        }

        Interlocked.Increment(ref _rents);

        lock (_lock)
        {
            // Newest first: the block most likely still in cache.
            for (var i = _idle.Count - 1; i >= 0; i--)
            {
                var (block, s, a) = _idle[i];
                if (s == size && a >= alignment)
                {
                    _idle.RemoveAt(i);
                    _idleBytes -= (long)s;
                    _rented[block] = (s, a);
                    return block;
                }
            }
        }

        var fresh = (nint)NativeMemory.AlignedAlloc(size, alignment);
        if (fresh != 0)
        {
            lock (_lock)
            {
                _rented[fresh] = (size, alignment);
            }
        }

        return fresh;
    }

    public void Release(nint block)
    {
        lock (_lock)
        {
            if (!_rented.Remove(block, out var info))
            {
                return; // not ours: nothing to do safely
            }

            if ((long)info.Size <= MaxIdleBytes)
            {
                _idle.Add((block, info.Size, info.Alignment));
                _idleBytes += (long)info.Size;
                block = 0;
                while (_idleBytes > MaxIdleBytes)
                {
                    var (oldest, size, _) = _idle[0];
                    _idle.RemoveAt(0);
                    _idleBytes -= (long)size;
                    NativeMemory.AlignedFree((void*)oldest);
                }
            }
        }

        if (block != 0)
        {
            NativeMemory.AlignedFree((void*)block);
        }
    }
}
