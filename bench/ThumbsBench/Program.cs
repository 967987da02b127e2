using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using StreamServer.BufferPool;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Thumbnails;

// Driver for bench/thumbs.sh. Two modes:
//
// ThumbsBench images <source> <t> <width> <out-dir> <quality>...
//   Per quality: writes <out-dir>/ours_q<Q>_w<W>.jpg (ThumbnailService, the server's path) and
//   <out-dir>/annexk_q<Q>_w<W>.jpg (the same scaled frame encoded with Annex K tables and round-to-nearest
//   quantization, i.e. what libjpeg/TurboJPEG defaults give) and prints
//     q=<Q> w=<W> bytes=<n> encode_ms=<median> annexk_bytes=<n> annexk_encode_ms=<median>
//
// ThumbsBench race <source> <times> <width> <rounds> <quality>:<cli -q:v>...
//   Speed against the ffmpeg CLI, interleaved so that both see the same machine load: for each round, for each t of
//   <times> (comma-separated; round-robin, so no two consecutive requests ask for the same frame), one CLI
//   invocation `ffmpeg -ss t -i src -frames:v 1 -vf scale=w:-2 -q:v N`, one render by a kept service ("warm": the
//   opened source, i.e. demuxer + decoder, kept between requests as the server keeps opened renditions; it holds
//   no frames and no results) and one by a fresh service ("cold": open + decoder init included). Thumbnail cache
//   disabled: every request renders. Prints per pair
//     q=<Q> qv=<N> w=<W> warm_ms=<median> warm_cpu_ms=<mean> cold_ms=<median> cold_cpu_ms=<mean> cli_ms=<median>
//     cli_cpu_ms=<mean> frames=<decoded per render, mean> skipped_refs=<reference B pictures left out per render, mean>
//   CPU = user + system time of all threads (ours: this process during the render; the CLI: the child's rusage).
//
// env: THUMBS_PROGRESSIVE=1, THUMBS_DECODER_THREADS=n (default 0 = FFmpeg's choice), THUMBS_ENCODER_THREADS=n (default 2),
//      THUMBS_SKIP_REFS=0 (decode every reference picture: the before/after of FrameGrabber's reference skipping),
//      THUMBS_POOL=0 (frames from RecyclingFrameMemory instead of a memfd buffer pool like the server's)
if (args.Length < 6 || (args[0] != "images" && args[0] != "race"))
{
    Console.Error.WriteLine("usage: ThumbsBench images <source> <t> <width> <out-dir> <quality>...\n" +
                            "       ThumbsBench race <source> <t1,t2,...> <width> <rounds> <quality>:<qv>...");
    return 2;
}

var source = args[1];
// Frames in a memfd buffer pool of the server's default size, as the server renders them (THUMBS_POOL=0: the
// process-wide recycling allocator instead).
using var pool = new MemfdBufferPool(new BufferPoolOptions { CapacityBytes = 256L * 1024 * 1024 });
var options = new ThumbnailServiceOptions
{
    FrameMemory = Environment.GetEnvironmentVariable("THUMBS_POOL") == "0" ? null : new PooledFrameMemory(pool),
    CacheEntries = 0,
    MaxConcurrentRenders = 1,
    Progressive = Environment.GetEnvironmentVariable("THUMBS_PROGRESSIVE") == "1",
    DecoderThreads = int.TryParse(Environment.GetEnvironmentVariable("THUMBS_DECODER_THREADS"), CultureInfo.InvariantCulture, out var th) ? th : 0,
    EncoderThreads = int.TryParse(Environment.GetEnvironmentVariable("THUMBS_ENCODER_THREADS"), CultureInfo.InvariantCulture, out var eth) ? eth : 2,
    SkipUnneededReferences = Environment.GetEnvironmentVariable("THUMBS_SKIP_REFS") != "0",
};

if (args[0] == "images")
{
    var t = double.Parse(args[2], CultureInfo.InvariantCulture);
    var width = int.Parse(args[3], CultureInfo.InvariantCulture);
    var outDir = args[4];
    Directory.CreateDirectory(outDir);
    for (var i = 5; i < args.Length; i++)
    {
        var q = int.Parse(args[i], CultureInfo.InvariantCulture);
        using var service = new ThumbnailService(options);
        var thumb = await service.GetAsync("bench", source, t, width, q);
        await File.WriteAllBytesAsync(Path.Combine(outDir, $"ours_q{q}_w{width}.jpg"), thumb.Jpeg);
        var (encodeMs, _) = EncodeOnlyMs(source, t, width, new JpegOptions(q, options.Progressive, Threads: options.EncoderThreads), 10);
        var annexK = new JpegOptions(q, options.Progressive, JpegTables.AnnexK, Trellis: false);
        var (annexKMs, annexKJpeg) = EncodeOnlyMs(source, t, width, annexK, 10);
        await File.WriteAllBytesAsync(Path.Combine(outDir, $"annexk_q{q}_w{width}.jpg"), annexKJpeg);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"q={q} w={width} bytes={thumb.Jpeg.Length} encode_ms={encodeMs:0.00} annexk_bytes={annexKJpeg.Length} annexk_encode_ms={annexKMs:0.00} progressive={options.Progressive}"));
    }

    return 0;
}

{
    var times = Array.ConvertAll(args[2].Split(','), x => double.Parse(x, CultureInfo.InvariantCulture));
    var width = int.Parse(args[3], CultureInfo.InvariantCulture);
    var rounds = int.Parse(args[4], CultureInfo.InvariantCulture);
    var renders = rounds * times.Length;
    var scratch = Path.Combine(Path.GetTempPath(), $"thumbsbench-{Environment.ProcessId}.jpg");
    for (var i = 5; i < args.Length; i++)
    {
        var pair = args[i].Split(':');
        var q = int.Parse(pair[0], CultureInfo.InvariantCulture);
        var qv = int.Parse(pair[1], CultureInfo.InvariantCulture);
        var warmMs = new double[renders];
        var coldMs = new double[renders];
        var cliMs = new double[renders];
        double warmCpu = 0, coldCpu = 0, cliCpu = 0;
        using var warm = new ThumbnailService(options);
        _ = await warm.GetAsync("bench", source, times[^1], width, q); // opens the source (not timed)
        for (var r = 0; r < renders; r++)
        {
            var t = times[r % times.Length];
            (cliMs[r], var c) = Cli(source, t, width, qv, scratch);
            cliCpu += c;

            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            _ = await warm.GetAsync("bench", source, t, width, q);
            warmMs[r] = sw.Elapsed.TotalMilliseconds;
            warmCpu += (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;

            cpu = Process.GetCurrentProcess().TotalProcessorTime;
            sw.Restart();
            using (var cold = new ThumbnailService(options))
            {
                _ = await cold.GetAsync("bench", source, t, width, q);
            }

            coldMs[r] = sw.Elapsed.TotalMilliseconds;
            coldCpu += (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        }

        var (frames, skippedRefs) = FramesPerRender(source, times, options.SkipUnneededReferences);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"q={q} qv={qv} w={width} warm_ms={Median(warmMs):0.0} warm_cpu_ms={warmCpu / renders:0.0} cold_ms={Median(coldMs):0.0} cold_cpu_ms={coldCpu / renders:0.0} cli_ms={Median(cliMs):0.0} cli_cpu_ms={cliCpu / renders:0.0} frames={frames:0.0} skipped_refs={skippedRefs:0.0} progressive={options.Progressive}"));
    }

    File.Delete(scratch);
    return 0;
}

// One CLI thumbnail: wall ms, and CPU ms from the children's rusage (the runtime reaps the child, so it is counted).
static (double WallMs, double CpuMs) Cli(string source, double t, int width, int qv, string output)
{
    var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
    foreach (var a in new[] { "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-ss", t.ToString(CultureInfo.InvariantCulture), "-i", source,
                 "-frames:v", "1", "-vf", $"scale={width}:-2", "-q:v", qv.ToString(CultureInfo.InvariantCulture), output })
    {
        psi.ArgumentList.Add(a);
    }

    var before = ChildrenCpuMs();
    var sw = Stopwatch.StartNew();
    using var p = Process.Start(psi)!;
    var err = p.StandardError.ReadToEnd();
    p.WaitForExit();
    var wall = sw.Elapsed.TotalMilliseconds;
    if (p.ExitCode != 0)
    {
        throw new InvalidOperationException($"ffmpeg failed: {err}");
    }

    return (wall, ChildrenCpuMs() - before);
}

static unsafe double ChildrenCpuMs()
{
    var usage = stackalloc long[18]; // struct rusage: two timevals, then 14 longs
    if (Getrusage(-1 /* RUSAGE_CHILDREN */, usage) != 0)
    {
        throw new InvalidOperationException("getrusage failed");
    }

    return (usage[0] * 1000.0) + (usage[1] / 1000.0) + (usage[2] * 1000.0) + (usage[3] / 1000.0);
}

// Frames decoded per render: buffers the decoder took from the frame memory (skipped frames take none), less the
// placeholder each skipped reference picture leaves (the decoder rents a buffer for it and drops it at once).
static (double Decoded, double SkippedReferences) FramesPerRender(string source, double[] times, bool skipReferences)
{
    using var grabber = new FrameGrabber(source, skipUnneededReferences: skipReferences);
    var before = RecyclingFrameMemory.Shared.Rents;
    foreach (var t in times)
    {
        grabber.DecodeAt(t);
    }

    var skipped = (double)grabber.SkippedReferencePictures / times.Length;
    return (((double)(RecyclingFrameMemory.Shared.Rents - before) / times.Length) - skipped, skipped);
}

// The JPEG encoder alone: the scaled frame's planes compressed in place, median of n; also returns the JPEG.
static unsafe (double Ms, byte[] Jpeg) EncodeOnlyMs(string source, double t, int width, JpegOptions options, int n)
{
    using var grabber = new FrameGrabber(source);
    using var scaled = new FrameHandle();
    var frame = grabber.DecodeAt(t);
    var height = SpriteLayout.ScaledHeight(width, frame.Width, frame.Height, grabber.SampleAspectRatio);
    grabber.Scale(frame, scaled, width, height);
    var (y, ys) = scaled.Plane(0);
    var (u, us) = scaled.Plane(1);
    var (v, vs) = scaled.Plane(2);
    var planes = new YuvPlanes((byte*)y, ys, (byte*)u, us, (byte*)v, vs, width, height, ChromaSubsampling.Yuv420);
    using var encoder = new JpegEncoder();
    var jpeg = encoder.Encode(planes, options).ToArray();
    var ms = new double[n];
    for (var i = 0; i < n; i++)
    {
        var sw = Stopwatch.StartNew();
        _ = encoder.Encode(planes, options);
        ms[i] = sw.Elapsed.TotalMilliseconds;
    }

    return (Median(ms), jpeg);
}

static double Median(double[] v)
{
    Array.Sort(v);
    return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
}

internal static unsafe partial class Program
{
    [LibraryImport("libc.so.6", EntryPoint = "getrusage")]
    private static partial int Getrusage(int who, long* usage);
}
