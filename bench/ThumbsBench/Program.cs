using System.Diagnostics;
using System.Globalization;
using StreamServer.Transcode.Thumbnails;

// Usage: ThumbsBench <source> <t> <width> <out-dir> <runs> <quality>...   (env: THUMBS_PROGRESSIVE=1, THUMBS_DECODER_THREADS=n)
// Per quality: writes <out-dir>/ours_q<Q>_w<W>.jpg (ThumbnailService, the server's path) and
// <out-dir>/annexk_q<Q>_w<W>.jpg (the same scaled frame encoded with Annex K tables and round-to-nearest
// quantization, i.e. what libjpeg/TurboJPEG defaults give) and prints
//   q=<Q> w=<W> bytes=<n> warm_ms=<median> warm_cpu_ms=<mean> cold_ms=<median> encode_ms=<median> annexk_bytes=<n> annexk_encode_ms=<median>
// warm = a render with the source already open (what the server does from the second request on, cache disabled);
// cold = a fresh service per render (open + probe + decoder init included), like a CLI invocation pays.
if (args.Length < 6)
{
    Console.Error.WriteLine("usage: ThumbsBench <source> <t> <width> <out-dir> <runs> <quality>...");
    return 2;
}

var source = args[0];
var t = double.Parse(args[1], CultureInfo.InvariantCulture);
var width = int.Parse(args[2], CultureInfo.InvariantCulture);
var outDir = args[3];
var runs = int.Parse(args[4], CultureInfo.InvariantCulture);
Directory.CreateDirectory(outDir);
var noCache = new ThumbnailServiceOptions
{
    CacheEntries = 0,
    MaxConcurrentRenders = 1,
    Progressive = Environment.GetEnvironmentVariable("THUMBS_PROGRESSIVE") == "1",
    DecoderThreads = int.TryParse(Environment.GetEnvironmentVariable("THUMBS_DECODER_THREADS"), CultureInfo.InvariantCulture, out var th) ? th : 0,
};

for (var i = 5; i < args.Length; i++)
{
    var q = int.Parse(args[i], CultureInfo.InvariantCulture);
    using var warm = new ThumbnailService(noCache);
    var first = await warm.GetAsync("bench", source, t, width, q); // opens the source
    var warmMs = new double[runs];
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    for (var r = 0; r < runs; r++)
    {
        var sw = Stopwatch.StartNew();
        _ = await warm.GetAsync("bench", source, t, width, q);
        warmMs[r] = sw.Elapsed.TotalMilliseconds;
    }

    // CPU time (user + system, all threads) per warm render: what a render costs, unlike wall time barely moved
    // by other processes competing for the cores.
    var warmCpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / runs;

    var coldMs = new double[runs];
    for (var r = 0; r < runs; r++)
    {
        var sw = Stopwatch.StartNew();
        using var cold = new ThumbnailService(noCache);
        _ = await cold.GetAsync("bench", source, t, width, q);
        coldMs[r] = sw.Elapsed.TotalMilliseconds;
    }

    await File.WriteAllBytesAsync(Path.Combine(outDir, $"ours_q{q}_w{width}.jpg"), first.Jpeg);
    var (encodeMs, _) = EncodeOnlyMs(source, t, width, new JpegOptions(q, Progressive: noCache.Progressive), Math.Max(runs, 10));
    var annexK = new JpegOptions(q, Progressive: noCache.Progressive, Tables: JpegTables.AnnexK, Trellis: false);
    var (annexKMs, annexKJpeg) = EncodeOnlyMs(source, t, width, annexK, Math.Max(runs, 10));
    await File.WriteAllBytesAsync(Path.Combine(outDir, $"annexk_q{q}_w{width}.jpg"), annexKJpeg);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"q={q} w={width} bytes={first.Jpeg.Length} warm_ms={Median(warmMs):0.0} warm_cpu_ms={warmCpuMs:0.0} cold_ms={Median(coldMs):0.0} encode_ms={encodeMs:0.00} annexk_bytes={annexKJpeg.Length} annexk_encode_ms={annexKMs:0.00} progressive={noCache.Progressive}"));
}

return 0;

// The JPEG encoder alone: the scaled frame's planes compressed in place, median of n; also returns the JPEG.
static unsafe (double Ms, byte[] Jpeg) EncodeOnlyMs(string source, double t, int width, JpegOptions options, int n)
{
    using var grabber = new FrameGrabber(source);
    using var scaled = new StreamServer.Transcode.Media.FrameHandle();
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
