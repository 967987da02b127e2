using StreamServer.BufferPool;
using StreamServer.Health;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;

namespace StreamServer.Hosting;

/// <summary>
/// The process's one <see cref="MemfdBufferPool"/> and how packaging uses it, for the server and the `package`
/// CLI verb alike: created at start (so its memfd exists before the first request), a DI singleton disposed
/// with the host, the frame memory (<see cref="PooledFrameMemory"/>) and segment storage of every packaging
/// run (<see cref="ForPackaging"/>), and a /healthz probe with capacity / free / leased.
/// </summary>
public static class BufferPoolSetup
{
    /// <summary>Below this share of free bytes the probe reports degraded (rents may start failing).</summary>
    private const double LowFreeShare = 0.05;

    public static void AddBufferPool(IServiceCollection services, StreamServerOptions options)
    {
        services.AddSingleton(_ => CreatePool(options));

        // Decoded and scaled frames of every packaging job live in the pool (one bridge per pool: the native
        // allocator table it creates lives for the process).
        // On-demand thumbnails take their frames from the same bridge (ThumbnailEndpoint).
        services.AddSingleton<IFrameMemory>(sp => new PooledFrameMemory(sp.GetRequiredService<MemfdBufferPool>(),
            TimeSpan.FromMilliseconds(Math.Max(0, options.BufferPoolRentTimeoutMilliseconds))));
    }

    /// <summary>The pool with the configured capacity (StreamServer:BufferPoolMegabytes).</summary>
    public static MemfdBufferPool CreatePool(StreamServerOptions options)
    {
        if (options.BufferPoolMegabytes <= 0)
        {
            throw new InvalidOperationException($"StreamServer:BufferPoolMegabytes must be positive (got {options.BufferPoolMegabytes})");
        }

        return new MemfdBufferPool(new BufferPoolOptions
        {
            CapacityBytes = options.BufferPoolMegabytes * 1024L * 1024,
            Name = "streamserver-bufferpool",
        });
    }

    /// <summary>Packaging with decoded/scaled frames and muxed segments in the pool (one way, server and CLI).</summary>
    public static PackagingOptions ForPackaging(PackagingOptions packaging, MemfdBufferPool pool, IFrameMemory frames) =>
        packaging with { FrameMemory = frames, SegmentPool = pool };

    public static void UseBufferPool(WebApplication app)
    {
        var pool = app.Services.GetRequiredService<MemfdBufferPool>();
        app.Services.GetRequiredService<HealthRegistry>().Register("bufferpool", () => Probe(pool));
    }

    private static SubsystemHealth Probe(MemfdBufferPool pool)
    {
        var stats = pool.GetStatistics();
        var details = new
        {
            capacityBytes = stats.CapacityBytes,
            freeBytes = stats.FreeBytes,
            leasedBytes = stats.LeasedBytes,
            leasedBlocks = stats.LeasedBlocks,
            failures = stats.ExhaustedFailures + stats.TimeoutFailures,
        };
        return stats.FreeBytes < stats.CapacityBytes * LowFreeShare
            ? new SubsystemHealth(HealthState.Degraded, $"only {stats.FreeBytes} of {stats.CapacityBytes} bytes free", details)
            : new SubsystemHealth(HealthState.Ok, null, details);
    }
}
