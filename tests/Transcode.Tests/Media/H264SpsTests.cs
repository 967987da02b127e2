using StreamServer.TestSupport;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Tests.Media;

/// <summary>The picture size read from the SPS of what libx264 really writes, over the syntax paths the SPS has.</summary>
public sealed class H264SpsTests
{
    [Theory]
    [InlineData(320, 240, "yuv420p", "")] // baseline-friendly, no cropping
    [InlineData(480, 270, "yuv420p", "")] // 270 = 17 macroblocks minus 2 cropped lines
    [InlineData(642, 362, "yuv420p", "")] // cropped on both axes
    [InlineData(1280, 720, "yuv420p", "cqm=jvt")] // high profile with scaling matrices in the SPS
    [InlineData(352, 288, "yuv422p", "")] // High 4:2:2: chroma_format_idc 2
    [InlineData(322, 242, "yuv444p", "")] // High 4:4:4: chroma_format_idc 3, crop unit 1
    [InlineData(720, 576, "yuv420p", "interlaced=1")] // field coding: frame_mbs_only_flag 0
    public async Task Frame_size_is_read_from_the_sps(int width, int height, string pixelFormat, string x264Params)
    {
        using var dir = new TempDir("ss-sps");
        var flv = Path.Combine(dir.Path, "clip.flv");
        string[] args = ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate=25:duration=0.2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pixelFormat, .. x264Params.Length > 0 ? (string[])["-x264-params", x264Params] : [],
            "-f", "flv", "-y", flv];
        (await ProcessRunner.RunAsync("ffmpeg", args, TimeSpan.FromSeconds(60))).EnsureSuccess("ffmpeg");

        Assert.Equal((width, height), H264Sps.FrameSize(FirstAvcC(await File.ReadAllBytesAsync(flv))));
    }

    [Fact]
    public void A_record_without_a_readable_sps_is_a_clear_error()
    {
        Assert.Contains("no H.264 SPS", Assert.Throws<TranscodeException>(() => H264Sps.FrameSize([1, 0x64, 0, 0x1f, 0xff, 0xe0])).Message);
        Assert.Contains("ends early", Assert.Throws<TranscodeException>(() => H264Sps.FrameSize([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f])).Message);
        Assert.Contains("bytes in a", Assert.Throws<TranscodeException>(() => H264Sps.FrameSize([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 40, 0x67, 0x64, 0, 0x1f])).Message);
    }

    // FLV: the first video tag whose AVCPacketType is 0 carries the avcC after its 5-byte video header.
    private static byte[] FirstAvcC(byte[] flv)
    {
        for (var at = 13; at + 11 <= flv.Length;)
        {
            var size = (flv[at + 1] << 16) | (flv[at + 2] << 8) | flv[at + 3];
            if (flv[at] == 9 && flv[at + 12] == 0)
            {
                return flv.AsSpan(at + 16, size - 5).ToArray();
            }

            at += 11 + size + 4;
        }

        throw new InvalidDataException("no AVC sequence header in the FLV");
    }
}
