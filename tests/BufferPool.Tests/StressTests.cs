using System.Threading.Channels;

namespace StreamServer.BufferPool.Tests;

/// <summary>Many threads renting, sharing, caching and evicting at once; afterwards every byte is accounted for.</summary>
public class StressTests
{
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task ProducersConsumersAndACacheLeaveEveryBlockAccountedFor(bool debugChecks, bool threadCache)
    {
        const int Producers = 4, Consumers = 4, ItemsPerProducer = 4000;
        using var pool = new MemfdBufferPool(new BufferPoolOptions
        {
            Name = "stress",
            CapacityBytes = 24L * 1024 * 1024,
            DebugChecks = debugChecks,
            ThreadCache = threadCache,
            SizeClasses =
            [
                new("4k", 4096, 0.1), new("64k", 64 * 1024, 0.2), new("256k", 256 * 1024, 0.3), new("1m", 1024 * 1024, 0.4),
            ],
        });
        var channel = Channel.CreateBounded<(long Id, BufferLease Lease)>(64);
        long failures = 0, verified = 0, corrupt = 0;

        var producers = new Task[Producers];
        for (var p = 0; p < Producers; p++)
        {
            var producer = p;
            producers[p] = Task.Run(async () =>
            {
                var rng = new Random(producer);
                var window = new Queue<BufferLease>(); // held extra references, oldest released first (a live window)
                for (var i = 0; i < ItemsPerProducer; i++)
                {
                    var id = ((long)producer << 32) | (uint)i;
                    var size = rng.Next(4) switch { 0 => rng.Next(1, 4096), 1 => rng.Next(1, 65536), 2 => rng.Next(1, 262144), _ => rng.Next(1, 1 << 20) };
                    if (!pool.TryRent(size, out var lease))
                    {
                        Interlocked.Increment(ref failures);
                        continue;
                    }

                    Stamp(lease.Span, id);
                    if (i % 8 == 0)
                    {
                        // Keep some blocks in a window while a consumer also reads them: dropping the window's
                        // reference below must leave the consumer's memory alive.
                        window.Enqueue(lease.AddRef());
                        while (window.Count > 16)
                        {
                            window.Dequeue().Release();
                        }
                    }

                    await channel.Writer.WriteAsync((id, lease));
                }

                while (window.Count > 0)
                {
                    window.Dequeue().Release();
                }
            });
        }

        var consumers = new Task[Consumers];
        for (var c = 0; c < Consumers; c++)
        {
            consumers[c] = Task.Run(async () =>
            {
                await foreach (var (id, lease) in channel.Reader.ReadAllAsync())
                {
                    var extra = lease.AddRef(); // a second holder, released first
                    if (Check(lease.Span, id))
                    {
                        Interlocked.Increment(ref verified);
                    }
                    else
                    {
                        Interlocked.Increment(ref corrupt);
                    }

                    extra.Release();
                    lease.Release();
                }
            });
        }

        await Task.WhenAll(producers);
        channel.Writer.Complete();
        await Task.WhenAll(consumers);

        Assert.Equal(0, corrupt);
        Assert.Equal((Producers * ItemsPerProducer) - failures, verified);
        Assert.True(verified > Producers * ItemsPerProducer / 2, $"only {verified} items made it; {failures} rents failed");
        var stats = pool.GetStatistics();
        Assert.Equal(0, stats.LeasedBlocks);
        Assert.Equal(pool.CapacityBytes, stats.FreeBytes + stats.LeasedBytes);
        Assert.Equal(verified, stats.Allocations);
        pool.VerifyQuiescentIntegrity();
    }

    private static void Stamp(Span<byte> span, long id)
    {
        var value = (byte)(id ^ (id >> 32) ^ 0x5A);
        span.Fill(value);
        if (span.Length >= 8)
        {
            BitConverter.TryWriteBytes(span, id);
        }
    }

    private static bool Check(ReadOnlySpan<byte> span, long id)
    {
        var value = (byte)(id ^ (id >> 32) ^ 0x5A);
        if (span.Length >= 8 && BitConverter.ToInt64(span) != id)
        {
            return false;
        }

        var tail = span.Length >= 8 ? span[8..] : span;
        return tail.IndexOfAnyExcept(value) < 0;
    }
}
