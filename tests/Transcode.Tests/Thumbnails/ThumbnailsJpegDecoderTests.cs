using StreamServer.TestSupport;
using StreamServer.Transcode.Thumbnails;
using StreamServer.TranscodeTestSupport;

namespace StreamServer.Transcode.Tests.Thumbnails;

public sealed class ThumbnailsJpegDecoderTests
{
    [Fact]
    public async Task Reads_a_jpeg_written_by_ffmpeg_with_odd_dimensions()
    {
        Assert.SkipWhen(Capabilities.MissingTool("ffmpeg") is not null, "ffmpeg missing");
        using var dir = new TempDir("jpeg-dec");
        var path = dir.Combine("x.jpg");
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=97x61",
            "-frames:v", "1", "-pix_fmt", "yuvj420p", path])).EnsureSuccess("ffmpeg jpeg");
        var jpeg = await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken);
        using var decoder = new JpegDecoder();

        Assert.Equal(new JpegInfo(97, 61, ChromaSubsampling.Yuv420), decoder.ReadHeader(jpeg));
        var yuv = decoder.Decode(jpeg);
        Assert.Equal((97 * 61, 49, 31), (yuv.Y.Length, yuv.ChromaWidth, yuv.ChromaHeight));
        Assert.Equal(49 * 31, yuv.U.Length);
        Assert.Contains(yuv.Y, b => b > 200); // testsrc has bright and dark areas, not a blank plane
        Assert.Contains(yuv.Y, b => b < 50);
    }

    [Fact]
    public void Truncated_or_foreign_data_is_a_jpeg_exception_not_a_crash()
    {
        var src = SyntheticFrames.Pattern(64, 48);
        using var encoder = new JpegEncoder();
        var jpeg = encoder.Encode(src.Planes, JpegOptions.Default).ToArray();
        using var decoder = new JpegDecoder();

        Assert.Throws<JpegException>(() => decoder.ReadHeader(jpeg.AsSpan(0, 10)));
        Assert.Throws<JpegException>(() => decoder.ReadHeader("not a jpeg"u8));
        // A cut scan: libjpeg pads it with a warning (no exception); the header and size still hold.
        Assert.Equal(64 * 48, decoder.Decode(jpeg.AsSpan(0, jpeg.Length / 2)).Y.Length);
    }
}
