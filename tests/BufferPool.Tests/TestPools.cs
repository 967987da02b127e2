namespace StreamServer.BufferPool.Tests;

/// <summary>Small pools with known geometry so tests can reason about exact block counts.</summary>
internal static class TestPools
{
    public const int Small = 4096;
    public const int Medium = 64 * 1024;
    public const int Large = 1024 * 1024;

    /// <summary>8 x 4 KiB, 8 x 64 KiB, 4 x 1 MiB (= 4.5625 MiB).</summary>
    public static MemfdBufferPool Create(bool debugChecks = false, bool threadCache = true, int fallbackFactor = 4, string? name = null)
    {
        const long capacity = (8L * Small) + (8L * Medium) + (4L * Large);
        return new MemfdBufferPool(new BufferPoolOptions
        {
            Name = name ?? "test-pool",
            CapacityBytes = capacity,
            DebugChecks = debugChecks,
            ThreadCache = threadCache,
            MaxFallbackFactor = fallbackFactor,
            SizeClasses =
            [
                new("small", Small, 8.0 * Small / capacity),
                new("medium", Medium, 8.0 * Medium / capacity),
                new("large", Large, 4.0 * Large / capacity),
            ],
        });
    }
}
