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
        Console.WriteLine("| size | MemfdBufferPool | ArrayPool<byte>.Shared | NativeMemory.Alloc/Free | pool / ArrayPool | pool per call | ArrayPool per call | per call pool / ArrayPool | steal % |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var size in sizes)
        {
            double bestPool = double.MaxValue, bestShared = double.MaxValue, bestNative = double.MaxValue;
            double bestPoolCall = double.MaxValue, bestSharedCall = double.MaxValue;
            var stealBefore = StealTicks();
            var rowStart = Stopwatch.GetTimestamp();
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

            Console.WriteLine(FormattableString.Invariant($"| {size} | {bestPool:0.00} | {bestShared:0.00} | {bestNative:0.00} | {bestPool / bestShared:0.00} | {bestPoolCall:0.00} | {bestSharedCall:0.00} | {bestPoolCall / bestSharedCall:0.00} | {StealPercent(stealBefore, rowStart)} |"));
        }
    }

    /// <summary>Hypervisor steal time (all CPUs, USER_HZ ticks) from /proc/stat; -1 where unavailable. On this VM
    /// whole rows run up to ~1.8x slower for every contender (NativeMemory too) in some launches, even as best of
    /// 150 rounds; the column shows whether the host took the cores away meanwhile (so far it stayed near 0: the
    /// slow periods are a slower core, not a stolen one).</summary>
    private static long StealTicks()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 8 ? long.Parse(fields[8], System.Globalization.CultureInfo.InvariantCulture) : -1;
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static string StealPercent(long before, long start)
    {
        var after = StealTicks();
        if (before < 0 || after < 0)
        {
            return "n/a";
        }

        // USER_HZ is 100 on Linux; steal is summed over all CPUs, so divide by the core count.
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return FormattableString.Invariant($"{(after - before) / 100.0 / Environment.ProcessorCount / seconds * 100:0.0}");
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
