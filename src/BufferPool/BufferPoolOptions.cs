namespace StreamServer.BufferPool;

/// <summary>Settings fixed when the pool is created; the pool never grows afterwards.</summary>
public sealed class BufferPoolOptions
{
    public const long DefaultCapacityBytes = 256L * 1024 * 1024;

    /// <summary>Total bytes of the memfd. Each size class gets its share in whole blocks; the rounding remainder
    /// becomes extra blocks of the largest classes that fit, so the pool is this size to within a page.</summary>
    public long CapacityBytes { get; set; } = DefaultCapacityBytes;

    /// <summary>Name of the memfd (visible as <c>/memfd:NAME</c> in /proc/PID/fd).</summary>
    public string Name { get; set; } = "streamserver-bufferpool";

    /// <summary>Size classes, any order; blocks are rounded up to whole pages.</summary>
    public IReadOnlyList<SizeClass> SizeClasses { get; set; } = DefaultSizeClasses;

    /// <summary>
    /// Expensive misuse detection: freed blocks are filled with a poison byte that is verified on the next
    /// rent (catches writes through a Span/Memory kept after return), and Release always uses the atomic
    /// path so racing double returns are caught. On by default in Debug builds; Release builds honour it
    /// when set (tests do). Cheap checks (generation stamps, negative reference counts) are always on.
    /// </summary>
    public bool DebugChecks { get; set; } =
#if DEBUG
        true;
#else
        false;
#endif

    /// <summary>
    /// Keep one returned block per size class on the returning thread for its next rent (no atomics on that
    /// path). Costs at most one parked block per class per thread; parked blocks come back under pressure.
    /// </summary>
    public bool ThreadCache { get; set; } = true;

    /// <summary>
    /// A rent may take a block from a larger class when its own class is empty, but only if that block is at
    /// most this many times the best-fitting block (so a 4 KiB request cannot eat a 1080p frame slot).
    /// </summary>
    public int MaxFallbackFactor { get; set; } = 4;

    /// <summary>Frame planes for the common ladder rungs, segment-sized spans and small classes.
    /// Shares sum to 1.0 (for 256 MiB: 4+4+16+16+24 MiB small, 16/16/40/56 MiB frames, 64 MiB segments).</summary>
    public static readonly IReadOnlyList<SizeClass> DefaultSizeClasses =
    [
        new("4k", 4 * 1024, 4.0 / 256),
        new("16k", 16 * 1024, 4.0 / 256),
        new("64k", 64 * 1024, 16.0 / 256),
        new("256k", 256 * 1024, 16.0 / 256),
        new("1m", 1024 * 1024, 24.0 / 256),
        new("frame360p", FrameSizes.Yuv420(640, 360), 16.0 / 256),
        new("frame480p", FrameSizes.Yuv420(854, 480), 16.0 / 256),
        new("frame720p", FrameSizes.Yuv420(1280, 720), 40.0 / 256),
        new("frame1080p", FrameSizes.Yuv420(1920, 1080), 56.0 / 256),
        new("4m", 4 * 1024 * 1024, 64.0 / 256),
    ];
}
