using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamServer.BufferPool.Bench;

/// <summary>
/// Rent + touch + return in a tight loop, every contender once per round, rounds interleaved, best round
/// kept. On 2 shared cores the minimum over many short rounds is the figure least distorted by other
/// processes (BenchmarkDotNet's mean of 3 iterations mostly measures the scheduler there).
/// "per call" columns call a non-inlined method once per op, as BenchmarkDotNet does with a benchmark method:
/// there the JIT cannot hoist loop-invariant work (thread-static lookup, field loads, size-class lookup) out of
/// the loop, so that is the per-call cost a caller renting once per frame pays.
/// Usage: BufferPool.Bench loop [rounds=400] [opsPerRound=200000]
/// </summary>
internal static unsafe class TightLoop
{
    public static void Run(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 400;
        var ops = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 200_000;
        using var pool = new MemfdBufferPool(new BufferPoolOptions { CapacityBytes = 256L * 1024 * 1024 });
        int[] sizes = [64 * 1024, 1024 * 1024, 3 * 1024 * 1024];
        Console.WriteLine($"tight loop: {rounds} rounds x {ops} ops, best round per contender (ns per rent+touch+return)");
        Console.WriteLine($"pool debug checks: {pool.DebugChecks}");
        Console.WriteLine("| size | MemfdBufferPool | ArrayPool<byte>.Shared | NativeMemory.Alloc/Free | pool / ArrayPool | pool per call | ArrayPool per call | per call pool / ArrayPool |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var size in sizes)
        {
            double bestPool = double.MaxValue, bestShared = double.MaxValue, bestNative = double.MaxValue;
            double bestPoolCall = double.MaxValue, bestSharedCall = double.MaxValue;
            for (var r = 0; r < rounds; r++)
            {
                bestPool = Math.Min(bestPool, Time(ops, () => PoolLoop(pool, size, ops)));
                bestShared = Math.Min(bestShared, Time(ops, () => SharedLoop(size, ops)));
                bestPoolCall = Math.Min(bestPoolCall, Time(ops, () => PoolCalls(pool, size, ops)));
                bestSharedCall = Math.Min(bestSharedCall, Time(ops, () => SharedCalls(size, ops)));
                if (r % 8 == 0)
                {
                    // malloc of >= 128 KiB is an mmap/munmap pair: two syscalls, far off the scale; fewer rounds.
                    bestNative = Math.Min(bestNative, Time(ops / 16, () => NativeLoop(size, ops / 16)));
                }
            }

            Console.WriteLine(FormattableString.Invariant($"| {size} | {bestPool:0.00} | {bestShared:0.00} | {bestNative:0.00} | {bestPool / bestShared:0.00} | {bestPoolCall:0.00} | {bestSharedCall:0.00} | {bestPoolCall / bestSharedCall:0.00} |"));
        }
    }

    private static double Time(int ops, Func<int> body)
    {
        var start = Stopwatch.GetTimestamp();
        GC.KeepAlive(body());
        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / ops;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int PoolLoop(MemfdBufferPool pool, int size, int ops)
    {
        var sum = 0;
        for (var i = 0; i < ops; i++)
        {
            var lease = pool.Rent(size);
            var span = lease.Span;
            span[0] = 1;
            sum += span[0];
            lease.Release();
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int PoolCalls(MemfdBufferPool pool, int size, int ops)
    {
        var sum = 0;
        for (var i = 0; i < ops; i++)
        {
            sum += PoolOnce(pool, size);
        }

        return sum;
    }

    /// <summary>One op per call, the body of LeaseReturnBenchmarks.Pool.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte PoolOnce(MemfdBufferPool pool, int size)
    {
        var lease = pool.Rent(size);
        var span = lease.Span;
        span[0] = 1;
        var b = span[0];
        lease.Release();
        return b;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SharedCalls(int size, int ops)
    {
        var sum = 0;
        for (var i = 0; i < ops; i++)
        {
            sum += SharedOnce(size);
        }

        return sum;
    }

    /// <summary>One op per call, the body of LeaseReturnBenchmarks.SharedArrayPool.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte SharedOnce(int size)
    {
        var array = ArrayPool<byte>.Shared.Rent(size);
        array[0] = 1;
        var b = array[0];
        ArrayPool<byte>.Shared.Return(array);
        return b;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SharedLoop(int size, int ops)
    {
        var sum = 0;
        for (var i = 0; i < ops; i++)
        {
            var array = ArrayPool<byte>.Shared.Rent(size);
            array[0] = 1;
            sum += array[0];
            ArrayPool<byte>.Shared.Return(array);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int NativeLoop(int size, int ops)
    {
        var sum = 0;
        for (var i = 0; i < ops; i++)
        {
            var p = (byte*)NativeMemory.Alloc((nuint)size);
            p[0] = 1;
            sum += p[0];
            NativeMemory.Free(p);
        }

        return sum;
    }
}
