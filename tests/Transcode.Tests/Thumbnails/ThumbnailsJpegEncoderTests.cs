using StreamServer.TestSupport;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Thumbnails;

public sealed class ThumbnailsJpegEncoderTests
{
    [Theory]
    [InlineData(320, 240)]
    [InlineData(161, 91)] // not whole blocks/MCUs: edge samples repeated by index, odd chroma size
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

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Parallel_bands_write_the_same_bytes_as_one_thread(bool progressive, bool trellis)
    {
        // Odd size (partial MCUs at the right and bottom edges, odd chroma size), large enough for bands.
        var src = SyntheticFrames.Pattern(1283, 723, seed: 5);
        using var encoder = new JpegEncoder();
        var one = encoder.Encode(src.Planes, new JpegOptions(75, progressive, Trellis: trellis, Threads: 1)).ToArray();

        foreach (var threads in new[] { 2, 3, 4, 16 })
        {
            var banded = encoder.Encode(src.Planes, new JpegOptions(75, progressive, Trellis: trellis, Threads: threads)).ToArray();
            Assert.True(one.AsSpan().SequenceEqual(banded), $"{threads} threads: {banded.Length} bytes differ from one thread's {one.Length}");
        }
    }

    [Fact]
    public void Progressive_option_writes_a_progressive_frame_header_and_both_carry_optimized_huffman_tables()
    {
        var src = SyntheticFrames.Pattern(320, 240);
        using var encoder = new JpegEncoder();
        var baseline = encoder.Encode(src.Planes, new JpegOptions(75)).ToArray();
        var progressive = encoder.Encode(src.Planes, new JpegOptions(75, Progressive: true)).ToArray();

        Assert.True(HasMarker(baseline, 0xC0), "baseline SOF0 missing");
        Assert.False(HasMarker(baseline, 0xC2));
        Assert.True(HasMarker(progressive, 0xC2), "progressive SOF2 missing");
        // Optimized tables: the luma AC table is not Annex K's (whose 162 symbols it would list in full).
        Assert.True(FirstAcHuffmanSymbolCount(baseline) < 162, "baseline carries the standard Huffman tables");
    }

    [Fact]
    public void Tables_option_writes_annex_k_or_the_ssim_tables_and_the_trellis_saves_bytes()
    {
        var src = SyntheticFrames.Pattern(320, 240);
        using var encoder = new JpegEncoder();

        // Quality 50 = the base tables unscaled (libjpeg's curve). DQT lists them in zig-zag order: [0], [1] = (0,1), [2] = (1,0).
        var annexK = LumaQuantTable(encoder.Encode(src.Planes, new JpegOptions(50, Tables: JpegTables.AnnexK)).ToArray());
        Assert.Equal([16, 11, 12], annexK[..3]);
        Assert.Equal(99, annexK[63]);
        var ssim = LumaQuantTable(encoder.Encode(src.Planes, new JpegOptions(50)).ToArray());
        Assert.Equal([4 + (20 / 2), 20, 20], ssim[..3]); // MPEG-1 matrix 16, 16 scaled by 5/4; DC step 4 + Q(0,1)/2
        Assert.Equal(104, ssim[63]); // 83 * 1.25

        var plain = encoder.Encode(src.Planes, new JpegOptions(75, Trellis: false)).ToArray();
        var trellis = encoder.Encode(src.Planes, new JpegOptions(75)).ToArray();
        Assert.True(trellis.Length < plain.Length, $"trellis {trellis.Length} bytes, rounding {plain.Length}");
        using var decoder = new JpegDecoder();
        Assert.True(SyntheticFrames.Psnr(src.Y, decoder.Decode(trellis).Y) > 30, "trellis lost too much");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Default_quality_output_is_a_jpeg_ffmpeg_decodes_strictly_back_to_the_source(bool progressive)
    {
        Assert.SkipWhen(Capabilities.MissingTool("ffmpeg") is not null, "ffmpeg missing");
        using var dir = new TempDir("jpeg-ffmpeg");
        var src = SyntheticFrames.Pattern(322, 182); // not whole MCUs
        var path = Path.Combine(dir.Path, "x.jpg");
        using (var encoder = new JpegEncoder())
        {
            var jpeg = encoder.Encode(src.Planes, JpegOptions.Default with { Progressive = progressive }).ToArray();
            Assert.True(HasMarker(jpeg, progressive ? (byte)0xC2 : (byte)0xC0), "wrong frame type");
            await File.WriteAllBytesAsync(path, jpeg, TestContext.Current.CancellationToken);
        }

        // -xerror: any decode error (bad Huffman data, truncated scan) fails the run instead of being concealed.
        var raw = Path.Combine(dir.Path, "x.yuv");
        var r = (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-v", "error", "-xerror", "-i", path, "-f", "rawvideo", "-pix_fmt", "yuvj420p", raw]))
            .EnsureSuccess("ffmpeg decode");
        Assert.Equal("", r.StdErr.Trim());
        var decoded = await File.ReadAllBytesAsync(raw, TestContext.Current.CancellationToken);
        Assert.Equal((322 * 182) + (2 * 161 * 91), decoded.Length);
        Assert.True(SyntheticFrames.Psnr(src.Y, decoded.AsSpan(0, 322 * 182)) > 33, "ffmpeg's decode differs from the source");
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

    /// <summary>The 64 entries of the first (luma) DQT table, in the zig-zag order the file stores them.</summary>
    private static int[] LumaQuantTable(byte[] jpeg)
    {
        var at = Segment(jpeg, 0xDB);
        Assert.True(at > 0, "DQT missing");
        Assert.Equal(0x00, jpeg[at + 4]); // 8-bit entries, table 0
        return [.. jpeg.AsSpan(at + 5, 64).ToArray().Select(b => (int)b)];
    }

    /// <summary>Symbols in the first AC Huffman table of the file (class 1, id 0).</summary>
    private static int FirstAcHuffmanSymbolCount(byte[] jpeg)
    {
        var i = 2;
        while (i + 4 <= jpeg.Length && jpeg[i] == 0xFF && jpeg[i + 1] != 0xDA)
        {
            var length = (jpeg[i + 2] << 8) | jpeg[i + 3];
            if (jpeg[i + 1] == 0xC4)
            {
                // One DHT segment may hold several tables: class/id byte, 16 counts, symbols.
                var p = i + 4;
                while (p < i + 2 + length)
                {
                    var count = 0;
                    for (var k = 1; k <= 16; k++)
                    {
                        count += jpeg[p + k];
                    }

                    if (jpeg[p] == 0x10)
                    {
                        return count;
                    }

                    p += 17 + count;
                }
            }

            i += 2 + length;
        }

        throw new Xunit.Sdk.XunitException("no luma AC Huffman table");
    }

    private static int Segment(byte[] jpeg, byte marker)
    {
        var i = 2;
        while (i + 4 <= jpeg.Length && jpeg[i] == 0xFF && jpeg[i + 1] != 0xDA)
        {
            if (jpeg[i + 1] == marker)
            {
                return i;
            }

            i += 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
        }

        return -1;
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
