using StreamServer.TestSupport;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Transcode.Tests.Thumbnails;

public sealed class ThumbnailsJpegEncoderTests
{
    [Theory]
    [InlineData(320, 240)]
    [InlineData(161, 91)] // not a multiple of the MCU: TurboJPEG's internal copy path, odd chroma size
    public void Compresses_planar_420_into_a_jpeg_of_the_same_size_that_decodes_back_close_to_the_source(int w, int h)
    {
        var src = SyntheticFrames.Pattern(w, h);
        using var encoder = new JpegEncoder();
        using var decoder = new JpegDecoder();

        var jpeg = encoder.Encode(src.Planes, new JpegOptions(90)).ToArray();

        Assert.Equal(0xFF, jpeg[0]);
        Assert.Equal(0xD8, jpeg[1]);
        Assert.Equal(new JpegInfo(w, h, ChromaSubsampling.Yuv420), decoder.ReadHeader(jpeg));
        var back = decoder.Decode(jpeg);
        Assert.True(SyntheticFrames.Psnr(src.Y, back.Y) > 33, "luma PSNR too low");
        Assert.True(SyntheticFrames.Psnr(src.U, back.U) > 33, "chroma PSNR too low");
    }

    [Fact]
    public void Lower_quality_gives_smaller_files_and_the_buffer_is_reused()
    {
        var src = SyntheticFrames.Pattern(640, 360);
        using var encoder = new JpegEncoder();
        var q95 = encoder.Encode(src.Planes, new JpegOptions(95)).Length;
        var q75 = encoder.Encode(src.Planes, new JpegOptions(75)).Length;
        var q40 = encoder.Encode(src.Planes, new JpegOptions(40)).Length;
        Assert.True(q95 > q75 && q75 > q40, $"sizes {q95} {q75} {q40}");

        // Steady state: encoding the same size again allocates nothing on the managed heap.
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++)
        {
            _ = encoder.Encode(src.Planes, new JpegOptions(75));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Progressive_option_writes_a_progressive_frame_header_and_baseline_carries_optimized_tables()
    {
        var src = SyntheticFrames.Pattern(320, 240);
        using var encoder = new JpegEncoder();
        var baseline = encoder.Encode(src.Planes, new JpegOptions(75)).ToArray();
        var progressive = encoder.Encode(src.Planes, new JpegOptions(75, Progressive: true)).ToArray();

        Assert.True(HasMarker(baseline, 0xC0), "baseline SOF0 missing");
        Assert.False(HasMarker(baseline, 0xC2));
        Assert.True(HasMarker(progressive, 0xC2), "progressive SOF2 missing");
        Assert.True(JpegEncoder.OptimizedHuffman);
    }

    [Fact]
    public void Grayscale_reads_only_the_luma_plane()
    {
        var src = SyntheticFrames.Pattern(320, 240);
        var p = src.Planes;
        unsafe
        {
            var gray = new YuvPlanes(p.Y, p.YStride, null, 0, null, 0, p.Width, p.Height, ChromaSubsampling.Gray);
            using var encoder = new JpegEncoder();
            using var decoder = new JpegDecoder();
            var jpeg = encoder.Encode(gray, new JpegOptions(80)).ToArray();
            Assert.Equal(new JpegInfo(320, 240, ChromaSubsampling.Gray), decoder.ReadHeader(jpeg));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    public void Quality_outside_1_to_100_is_refused(int q)
    {
        var src = SyntheticFrames.Pattern(64, 64);
        using var encoder = new JpegEncoder();
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.Encode(src.Planes, new JpegOptions(q)));
    }

    [Fact]
    public async Task Ffprobe_reads_the_jpeg_as_mjpeg_with_the_right_size()
    {
        Assert.SkipWhen(Capabilities.MissingTool("ffprobe") is not null, "ffprobe missing");
        using var dir = new TempDir("jpeg");
        var path = Path.Combine(dir.Path, "x.jpg");
        using (var encoder = new JpegEncoder())
        {
            AtomicFile.Write(path, encoder.Encode(SyntheticFrames.Pattern(320, 180).Planes, new JpegOptions(80)));
        }

        var r = (await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", path]))
            .EnsureSuccess("ffprobe");
        Assert.Equal("mjpeg,320,180", r.StdOut.Trim());
    }

    /// <summary>Walks the header segments (SOI .. SOS) so entropy-coded bytes are never mistaken for markers.</summary>
    private static bool HasMarker(byte[] jpeg, byte marker)
    {
        var i = 2;
        while (i + 4 <= jpeg.Length && jpeg[i] == 0xFF)
        {
            var m = jpeg[i + 1];
            if (m == marker)
            {
                return true;
            }

            if (m == 0xDA)
            {
                return false;
            }

            i += 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
        }

        return false;
    }
}
