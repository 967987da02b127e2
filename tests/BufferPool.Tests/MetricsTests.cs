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
        Assert.Equal(0, longs["streamserver_bufferpool_evictions_total"]);
        var seconds = Assert.Single(leaseSeconds);
        Assert.InRange(seconds, 0, 60);

        for (var i = 1; i < held.Count; i++)
        {
            held[i].Release();
        }

        Assert.Equal(5, leaseSeconds.Count);
    }
}
