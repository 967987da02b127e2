using System.Buffers;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace StreamServer.BufferPool.Bench;

/// <summary>
/// One rent + one return of a buffer of <see cref="Size"/> bytes, touching the first byte so nothing is
/// optimised away: our memfd pool (with and without a metrics listener attached) against
/// ArrayPool&lt;byte&gt;.Shared, new byte[] (GC) and NativeMemory.Alloc/Free.
/// </summary>
/// Min and Median are shown next to Mean: on 2 cores shared with other builds the mean is mostly noise.
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public unsafe class LeaseReturnBenchmarks
{
    private MemfdBufferPool _pool = null!;
    private MeterListener? _listener;

    [Params(64 * 1024, 1024 * 1024, 3 * 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup() => _pool = new MemfdBufferPool(new BufferPoolOptions { CapacityBytes = 256L * 1024 * 1024 });

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener?.Dispose();
        _pool.Dispose();
    }

    [Benchmark(Baseline = true, Description = "MemfdBufferPool")]
    public byte Pool()
    {
        var lease = _pool.Rent(Size);
        var span = lease.Span;
        span[0] = 1;
        var b = span[0];
        lease.Release();
        return b;
    }

    [Benchmark(Description = "MemfdBufferPool (metrics listener on)")]
    public byte PoolObserved()
    {
        if (_listener is null)
        {
            // Attach like the server's Prometheus exporter does: the lease histogram then records every return.
            _listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == "StreamServer.BufferPool")
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
            };
            _listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
            _listener.Start();
        }

        return Pool();
    }

    [Benchmark(Description = "ArrayPool<byte>.Shared")]
    public byte SharedArrayPool()
    {
        var array = ArrayPool<byte>.Shared.Rent(Size);
        array[0] = 1;
        var b = array[0];
        ArrayPool<byte>.Shared.Return(array);
        return b;
    }

    [Benchmark(Description = "new byte[]")]
    public byte NewArray()
    {
        var array = new byte[Size];
        array[0] = 1;
        return array[0];
    }

    [Benchmark(Description = "NativeMemory.Alloc/Free")]
    public byte Native()
    {
        var p = (byte*)NativeMemory.Alloc((nuint)Size);
        p[0] = 1;
        var b = p[0];
        NativeMemory.Free(p);
        return b;
    }
}
