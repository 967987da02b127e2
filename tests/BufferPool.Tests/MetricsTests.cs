using System.Diagnostics.Metrics;

namespace StreamServer.BufferPool.Tests;

/// <summary>The instruments the server's Prometheus exporter picks up, with their final family names.</summary>
public class MetricsTests
{
    [Fact]
    public void InstrumentsReportBytesByStateAllocationsFailuresAndLeaseTimes()
    {
        using var pool = TestPools.Create(fallbackFactor: 1);
        var longs = new Dictionary<string, long>();
        var leaseSeconds = new List<double>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "StreamServer.BufferPool")
                {
                    l.EnableMeasurementEvents(instrument, pool);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) =>
        {
            if (!ReferenceEquals(state, pool))
            {
                return;
            }

            var key = instrument.Name;
            foreach (var tag in tags)
            {
                key += $"{{{tag.Key}={tag.Value}}}";
            }

            longs[key] = value;
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, _, state) =>
        {
            if (ReferenceEquals(state, pool) && instrument.Name == "streamserver_bufferpool_lease_seconds")
            {
                leaseSeconds.Add(value);
            }
        });
        listener.Start();

        var held = new List<BufferLease> { pool.Rent(TestPools.Medium) };
        for (var i = 0; i < 4; i++)
        {
            held.Add(pool.Rent(TestPools.Large));
        }

        Assert.False(pool.TryRent(TestPools.Large, out _));
        held[0].Release();
        listener.RecordObservableInstruments();

        Assert.Equal(4L * TestPools.Large, longs["streamserver_bufferpool_bytes{state=leased}"]);
        Assert.Equal(pool.CapacityBytes - (4L * TestPools.Large), longs["streamserver_bufferpool_bytes{state=free}"]);
        Assert.Equal(pool.CapacityBytes, longs["streamserver_bufferpool_capacity_bytes"]);
        Assert.Equal(5, longs["streamserver_bufferpool_allocations_total"]);
        Assert.Equal(1, longs["streamserver_bufferpool_failures_total{reason=exhausted}"]);
        Assert.Equal(0, longs["streamserver_bufferpool_failures_total{reason=timeout}"]);
        var seconds = Assert.Single(leaseSeconds);
        Assert.InRange(seconds, 0, 60);

        for (var i = 1; i < held.Count; i++)
        {
            held[i].Release();
        }

        Assert.Equal(5, leaseSeconds.Count);
    }

    [Fact]
    public void RentsThroughTheThreadCacheAreCountedAndOneInSixtyFourIsTimed()
    {
        // Rent and return on one thread: after the first cycle every rent takes the block parked on this thread
        // (the path that counts nothing but the block generation). 1000 rents of one block -> allocations 1000,
        // and lease times for generations 0, 64, ..., 960 = 16 samples, each released through the checked way.
        using var pool = TestPools.Create(threadCache: true);
        var samples = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "StreamServer.BufferPool" && instrument.Name == "streamserver_bufferpool_lease_seconds")
                {
                    l.EnableMeasurementEvents(instrument, pool);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, state) =>
        {
            if (ReferenceEquals(state, pool))
            {
                samples++;
            }
        });
        listener.Start();

        long offset = -1;
        for (var i = 0; i < 1000; i++)
        {
            var lease = pool.Rent(TestPools.Medium);
            Assert.True(offset < 0 || lease.FileOffset == offset, "the parked block is rented again");
            offset = lease.FileOffset;
            lease.Span[0] = (byte)i;
            lease.Release();
        }

        Assert.Equal(1000, pool.GetStatistics().Allocations);
        Assert.Equal((1000 / MemfdBufferPool.LeaseSampleInterval) + 1, samples);

        // Rents 1001..1025: the last one (generation 1024) is timed; returned twice, it is caught like any other.
        for (var i = 1000; i < 1024; i++)
        {
            pool.Rent(TestPools.Medium).Release();
        }

        var timed = pool.Rent(TestPools.Medium);
        timed.Release();
        Assert.Equal((1024 / MemfdBufferPool.LeaseSampleInterval) + 1, samples);
        Assert.Contains("already returned", Assert.Throws<BufferLeaseMisuseException>(timed.Release).Message);
        Assert.Equal(1025, pool.GetStatistics().Allocations);
        pool.VerifyQuiescentIntegrity();
    }
}
