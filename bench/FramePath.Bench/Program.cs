using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using StreamServer.BufferPool;
using StreamServer.TestSupport;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;

namespace StreamServer.FramePath.Bench;

/// <summary>
/// Packages the same synthetic clip with three frame allocators, interleaved run by run so machine noise
/// hits all of them alike: the memfd pool (PooledFrameMemory), FFmpeg's own allocators
/// (avcodec_default_get_buffer2 / av_frame_get_buffer) and one NativeMemory.AlignedAlloc per frame.
/// Prints wall time, process CPU time (user + sys: less sensitive to other load than wall time), decoded fps
/// and the ratios to FFmpeg's allocator, plus copied frame bytes.
/// Usage: FramePath.Bench [--seconds 6] [--size 1280x720] [--runs 3] [--ladder 720,480,360] [--preset ultrafast]
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var seconds = double.Parse(Arg(args, "--seconds", "6"), CultureInfo.InvariantCulture);
        var size = Arg(args, "--size", "1280x720").Split('x');
        var runs = int.Parse(Arg(args, "--runs", "3"), CultureInfo.InvariantCulture);
        var ladder = Array.ConvertAll(Arg(args, "--ladder", "720,480,360").Split(','), s => int.Parse(s, CultureInfo.InvariantCulture));
        var preset = Arg(args, "--preset", "ultrafast");

        using var dir = new TempDir("frame-bench");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds, int.Parse(size[0], CultureInfo.InvariantCulture),
            int.Parse(size[1], CultureInfo.InvariantCulture), 25);
        using var pool = new MemfdBufferPool(new BufferPoolOptions { Name = "frame-bench", CapacityBytes = 256L * 1024 * 1024 });
        var pooled = new PooledFrameMemory(pool);
        (string Name, IFrameMemory? Memory)[] allocators =
        [
            ("memfd pool (PooledFrameMemory)", pooled),
            ("FFmpeg default allocator", null), // PackagingOptions.FfmpegFrameBuffers
            ("NativeMemory.AlignedAlloc per frame", AlignedFrameMemory.Shared),
        ];

        long copied = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Name == "streamserver_transcode_frame_copy_bytes_total")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref copied, v));
        listener.Start();

        var times = new List<double>[allocators.Length];
        var cpuTimes = new List<double>[allocators.Length];
        for (var a = 0; a < allocators.Length; a++)
        {
            times[a] = [];
            cpuTimes[a] = [];
        }

        long frames = 0;
        for (var run = 0; run <= runs; run++)
        {
            for (var a = 0; a < allocators.Length; a++)
            {
                // The pool row is set up like the server and the CLI: frames and segments in the pool. The others
                // get a private segment pool per run (segments are always assembled in memfd memory now).
                var options = new PackagingOptions
                {
                    Ladder = ladder,
                    Preset = preset,
                    SegmentSeconds = 2,
                    Overwrite = true,
                    FrameMemory = allocators[a].Memory,
                    FfmpegFrameBuffers = allocators[a].Memory is null,
                    SegmentPool = allocators[a].Memory == pooled ? pool : null,
                };
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                var result = await Packager.PackageAsync(clip, dir.Combine($"out{a}"), options, null, CancellationToken.None);
                sw.Stop();
                var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
                frames = result.FramesDecoded;
                if (run > 0)
                {
                    times[a].Add(sw.Elapsed.TotalSeconds); // run 0 warms up (JIT, page faults of the pool)
                    cpuTimes[a].Add(cpu);
                }
            }
        }

        var stats = pool.GetStatistics();
        Console.WriteLine($"clip: {seconds}s {size[0]}x{size[1]} 25fps, ladder {string.Join(',', ladder)}, preset {preset}, {runs} measured runs each (+1 warm-up), interleaved");
        Console.WriteLine();
        Console.WriteLine("| frame allocator | median s | best s | decoded fps (median) | time vs FFmpeg default | median CPU s | CPU vs FFmpeg default |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        var baseline = Median(times[1]);
        var cpuBaseline = Median(cpuTimes[1]);
        for (var a = 0; a < allocators.Length; a++)
        {
            var median = Median(times[a]);
            var cpu = Median(cpuTimes[a]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {allocators[a].Name} | {median:F3} | {Min(times[a]):F3} | {frames / median:F0} | {median / baseline:F2}x | {cpu:F2} | {cpu / cpuBaseline:F2}x |"));
        }

        Console.WriteLine();
        Console.WriteLine($"frame bytes copied (streamserver_transcode_frame_copy_bytes_total): {copied}");
        Console.WriteLine($"pool: {stats.Allocations} rents, {stats.LeasedBlocks} leases outstanding after the runs, {pooled.UnpooledRents} frames outside the pool, {stats.ExhaustedFailures + stats.TimeoutFailures} failed rents");
        return stats.LeasedBlocks == 0 ? 0 : 1;
    }

    private static string Arg(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static double Min(List<double> values)
    {
        var min = double.MaxValue;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
        }

        return min;
    }
}
