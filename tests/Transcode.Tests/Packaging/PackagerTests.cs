using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using StreamServer.TestSupport;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Tests.Packaging;

public partial class PackagerTests
{
    private static readonly PackagingOptions Fast = new() { Ladder = [360, 240], Preset = "ultrafast", SegmentSeconds = 2 };

    [Fact]
    public async Task Packages_a_clip_into_aligned_renditions_that_decode_end_to_end()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 5, width: 640, height: 360, fps: 25);
        var outDir = dir.Combine("out");
        long copiedBytes = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Name == "streamserver_transcode_frame_copy_bytes_total")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref copiedBytes, v));
        listener.Start();
        var reports = new List<PackagingProgress>();

        var sink = new CountingSink();

        var result = await Packager.PackageAsync(clip, outDir, Fast with { FrameSinks = [sink] }, new SyncProgress(reports), TestContext.Current.CancellationToken);

        Assert.Equal(Path.GetFullPath(outDir), result.OutputDirectory);
        Assert.Equal(["v360", "v240"], result.Renditions.Select(r => r.Name));
        Assert.Equal(125, result.FramesDecoded);
        Assert.Equal(0, Interlocked.Read(ref copiedBytes));
        Assert.Equal(100, reports[^1].Percent);
        Assert.Equal((125, true, 640), (sink.Frames, sink.Completed, sink.Width));
        Assert.Equal(4.96, sink.LastTime.TotalSeconds, 0.01);
        Assert.Empty(Directory.GetDirectories(dir.Path, ".staging-*"));

        var expected = new Dictionary<string, (int W, int H)> { ["v360"] = (640, 360), ["v240"] = (426, 240) };
        List<double>? firstKeys = null;
        var master = await File.ReadAllTextAsync(Path.Combine(outDir, "master.m3u8"));
        foreach (var r in result.Renditions)
        {
            var joined = await Probe.JoinTrackAsync(Path.Combine(outDir, r.Name), dir.Combine($"{r.Name}.mp4"));
            var decoded = await Probe.DecodeVideoAsync(joined);
            Assert.Equal(expected[r.Name], (decoded.Width, decoded.Height));
            Assert.Equal(125, decoded.Frames);
            Assert.Equal("yuv420p", decoded.PixFmt);

            // Keyframes exactly at the segment boundaries, identical across renditions.
            var keys = await Probe.KeyframeTimesAsync(joined);
            Assert.Equal([0.0, 2.0, 4.0], keys.Select(k => Math.Round(k, 2)));
            firstKeys ??= keys;
            Assert.Equal(firstKeys, keys);

            // Every media segment starts with a keyframe on its own (init + that segment).
            for (var n = 1; n <= r.Segments.Count; n++)
            {
                var single = await Probe.JoinTrackAsync(Path.Combine(outDir, r.Name), dir.Combine($"{r.Name}-{n}.mp4"), n);
                Assert.True((await Probe.FirstPacketAsync(single)).FirstIsKey, $"{r.Name} segment {n} starts with a keyframe");
            }

            // Media playlist durations sum to the media duration.
            var playlist = await File.ReadAllTextAsync(Path.Combine(outDir, r.Name, "index.m3u8"));
            var extinf = ExtInf().Matches(playlist).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(3, extinf.Count);
            Assert.Equal(await Probe.DurationAsync(joined, "v:0"), extinf.Sum(), 0.05);
            var target = int.Parse(Regex.Match(playlist, @"#EXT-X-TARGETDURATION:(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.All(extinf, d => Assert.True(Math.Round(d, MidpointRounding.AwayFromZero) <= target));
            foreach (var tag in new[] { "#EXT-X-VERSION:7", "#EXT-X-MAP:URI=\"init.mp4\"", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST" })
            {
                Assert.Contains(tag, playlist);
            }

            // CODECS carries the profile and level bytes ffprobe reads from the SPS.
            var profileByte = decoded.Profile switch { "High" => "64", "Main" => "4d", _ => "42" };
            Assert.Matches($"CODECS=\"avc1\\.{profileByte}[0-9a-f]{{2}}{decoded.Level:x2},mp4a\\.40\\.2\",RESOLUTION={decoded.Width}x{decoded.Height}", master);
        }

        Assert.Contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\"", master);
        Assert.Matches(@"BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+", master);
        var audioJoined = await Probe.JoinTrackAsync(Path.Combine(outDir, "audio"), dir.Combine("audio.mp4"));
        Assert.Equal(5.0, await Probe.DurationAsync(audioJoined, "a:0"), 0.1);

        // DASH: the same files, the same durations.
        var mpd = XDocument.Load(Path.Combine(outDir, "manifest.mpd"));
        XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
        Assert.Equal("static", mpd.Root!.Attribute("type")!.Value);
        var mpdSeconds = XmlConvertDuration(mpd.Root.Attribute("mediaPresentationDuration")!.Value);
        Assert.Equal(5.0, mpdSeconds, 0.1);
        foreach (var rep in mpd.Descendants(ns + "Representation"))
        {
            var template = rep.Element(ns + "SegmentTemplate")!;
            var timescale = long.Parse(template.Attribute("timescale")!.Value, CultureInfo.InvariantCulture);
            long total = 0;
            var count = 0;
            foreach (var s in template.Descendants(ns + "S"))
            {
                var repeat = 1 + int.Parse(s.Attribute("r")?.Value ?? "0", CultureInfo.InvariantCulture);
                total += repeat * long.Parse(s.Attribute("d")!.Value, CultureInfo.InvariantCulture);
                count += repeat;
            }

            var id = rep.Attribute("id")!.Value;
            Assert.Equal(Directory.GetFiles(Path.Combine(outDir, id), "seg_*.m4s").Length, count);
            Assert.True(File.Exists(Path.Combine(outDir, template.Attribute("initialization")!.Value)));
            Assert.Equal(mpdSeconds, (double)total / timescale, 0.1);
        }
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task Cascaded_and_sequential_renditions_decode_with_aligned_keyframes(bool parallel, bool cascade)
    {
        // Top rung below the source: with cascade the 180p rung scales from the 240p frames.
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 2, width: 640, height: 360, fps: 25, audio: false);
        var outDir = dir.Combine("out");
        var options = Fast with { Ladder = [240, 180], SegmentSeconds = 1, ParallelRenditions = parallel, CascadeScaling = cascade };

        var result = await Packager.PackageAsync(clip, outDir, options, null, TestContext.Current.CancellationToken);

        var sizes = new[] { (426, 240), (320, 180) };
        for (var i = 0; i < 2; i++)
        {
            var joined = await Probe.JoinTrackAsync(Path.Combine(outDir, result.Renditions[i].Name), dir.Combine($"{i}.mp4"));
            var decoded = await Probe.DecodeVideoAsync(joined);
            Assert.Equal((sizes[i].Item1, sizes[i].Item2, 50), (decoded.Width, decoded.Height, decoded.Frames));
            Assert.Equal([0.0, 1.0], (await Probe.KeyframeTimesAsync(joined)).Select(k => Math.Round(k, 2)));
        }
    }

    private static double XmlConvertDuration(string iso) => System.Xml.XmlConvert.ToTimeSpan(iso).TotalSeconds;

    [GeneratedRegex(@"#EXTINF:([0-9.]+),")]
    private static partial Regex ExtInf();

    /// <summary>Sees every decoded frame in the same pass, at the source size, in time order.</summary>
    private sealed class CountingSink : IDecodedFrameSink
    {
        public int Frames { get; private set; }
        public int Width { get; private set; }
        public bool Completed { get; private set; }
        public TimeSpan LastTime { get; private set; } = TimeSpan.MinValue;

        public void Start(MediaStreamInfo videoStream) => Width = videoStream.Width;

        public void OnFrame(FrameHandle frame, TimeSpan time)
        {
            Assert.True(time > LastTime);
            Assert.Equal(Width, frame.Width);
            LastTime = time;
            Frames++;
        }

        public void Complete() => Completed = true;
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests want the reports in order, synchronously.</summary>
    internal sealed class SyncProgress(List<PackagingProgress> reports) : IProgress<PackagingProgress>
    {
        public void Report(PackagingProgress value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}
