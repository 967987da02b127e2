using System.Diagnostics;
using System.Globalization;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Thumbnails;

// Usage: ThumbsBench <source> <times> <width> <out-dir> <rounds> <quality>...
//   (env: THUMBS_PROGRESSIVE=1, THUMBS_DECODER_THREADS=n (default 0 = FFmpeg's choice), THUMBS_ENCODER_THREADS=n (default 2))
// <times>: comma-separated seconds, rendered round-robin so that no two consecutive requests ask for the same frame;
// the first one's JPEGs are written (for bytes / SSIM). Per quality: writes <out-dir>/ours_q<Q>_w<W>.jpg
// (ThumbnailService, the server's path) and <out-dir>/annexk_q<Q>_w<W>.jpg (the same scaled frame encoded with
// Annex K tables and round-to-nearest quantization, i.e. what libjpeg/TurboJPEG defaults give) and prints
//   q=<Q> w=<W> bytes=<n> warm_ms=<median> warm_cpu_ms=<mean> cold_ms=<median> cold_cpu_ms=<mean> encode_ms=<median>
//   annexk_bytes=<n> annexk_encode_ms=<median> frames=<decoded per render, mean>
// over <rounds> x |times| renders each, thumbnail cache disabled (every request renders):
// warm = the opened source (demuxer + decoder) kept between requests, as the server does (a bounded pool of opened
// renditions; it holds no frames or results); cold = a fresh service per render (open + decoder init included).
if (args.Length < 6)
{
    Console.Error.WriteLine("usage: ThumbsBench <source> <t1,t2,...> <width> <out-dir> <rounds> <quality>...");
    return 2;
}

var source = args[0];
var times = Array.ConvertAll(args[1].Split(','), x => double.Parse(x, CultureInfo.InvariantCulture));
var width = int.Parse(args[2], CultureInfo.InvariantCulture);
var outDir = args[3];
var rounds = int.Parse(args[4], CultureInfo.InvariantCulture);
Directory.CreateDirectory(outDir);
var noCache = new ThumbnailServiceOptions
{
    CacheEntries = 0,
    MaxConcurrentRenders = 1,
    Progressive = Environment.GetEnvironmentVariable("THUMBS_PROGRESSIVE") == "1",
    DecoderThreads = int.TryParse(Environment.GetEnvironmentVariable("THUMBS_DECODER_THREADS"), CultureInfo.InvariantCulture, out var th) ? th : 0,
    EncoderThreads = int.TryParse(Environment.GetEnvironmentVariable("THUMBS_ENCODER_THREADS"), CultureInfo.InvariantCulture, out var eth) ? eth : 2,
};
var renders = rounds * times.Length;

for (var i = 5; i < args.Length; i++)
{
    var q = int.Parse(args[i], CultureInfo.InvariantCulture);
    CachedThumbnail first;
    using (var once = new ThumbnailService(noCache))
    {
        first = await once.GetAsync("bench", source, times[0], width, q);
    }

    // Warm: one service; the first request opens the source (not timed), then every time in turn.
    var warmMs = new double[renders];
    var warmCpu = 0.0;
    using (var warm = new ThumbnailService(noCache))
    {
        _ = await warm.GetAsync("bench", source, times[^1], width, q);
        for (var r = 0; r < renders; r++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            _ = await warm.GetAsync("bench", source, times[r % times.Length], width, q);
            warmMs[r] = sw.Elapsed.TotalMilliseconds;
            warmCpu += (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        }
    }

    var coldMs = new double[renders];
    var coldCpu = 0.0;
    for (var r = 0; r < renders; r++)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        using (var cold = new ThumbnailService(noCache))
        {
            _ = await cold.GetAsync("bench", source, times[r % times.Length], width, q);
        }

        coldMs[r] = sw.Elapsed.TotalMilliseconds;
        coldCpu += (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
    }

    await File.WriteAllBytesAsync(Path.Combine(outDir, $"ours_q{q}_w{width}.jpg"), first.Jpeg);
    var (encodeMs, _) = EncodeOnlyMs(source, times[0], width, new JpegOptions(q, Progressive: noCache.Progressive, Threads: noCache.EncoderThreads), Math.Max(rounds, 10));
    var annexK = new JpegOptions(q, Progressive: noCache.Progressive, Tables: JpegTables.AnnexK, Trellis: false);
    var (annexKMs, annexKJpeg) = EncodeOnlyMs(source, times[0], width, annexK, Math.Max(rounds, 10));
    await File.WriteAllBytesAsync(Path.Combine(outDir, $"annexk_q{q}_w{width}.jpg"), annexKJpeg);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"q={q} w={width} bytes={first.Jpeg.Length} warm_ms={Median(warmMs):0.0} warm_cpu_ms={warmCpu / renders:0.0} cold_ms={Median(coldMs):0.0} cold_cpu_ms={coldCpu / renders:0.0} encode_ms={encodeMs:0.00} annexk_bytes={annexKJpeg.Length} annexk_encode_ms={annexKMs:0.00} frames={FramesPerRender(source, times):0.0} progressive={noCache.Progressive}"));
}

return 0;

// Frames decoded per render: buffers the decoder took from the frame memory (skipped frames take none).
static double FramesPerRender(string source, double[] times)
{
    using var grabber = new FrameGrabber(source);
    var before = RecyclingFrameMemory.Shared.Rents;
    foreach (var t in times)
    {
        grabber.DecodeAt(t);
    }

    return (double)(RecyclingFrameMemory.Shared.Rents - before) / times.Length;
}

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
