using System.Text;
using StreamServer.TestSupport;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Tests.Media;

/// <summary>The slice-header and SEI reading that decides which pictures a seek may leave out.</summary>
public sealed class H264PacketTests
{
    [Theory]
    [InlineData(0x65, 7u, H264PictureType.I, true)] // IDR, slice_type 7 (I, all slices)
    [InlineData(0x41, 5u, H264PictureType.P, true)]
    [InlineData(0x41, 6u, H264PictureType.B, true)] // B-pyramid's middle B: nal_ref_idc 2
    [InlineData(0x01, 1u, H264PictureType.B, false)] // disposable B
    [InlineData(0x21, 3u, H264PictureType.P, true)] // SP predicts like P
    public void First_slice_header_gives_type_and_reference_flag(byte nalHeader, uint sliceType, H264PictureType type, bool reference)
    {
        var slice = Nal(nalHeader, Rbsp(0, sliceType));
        var aud = Nal(0x09, [0xf0]);

        Assert.Equal(new H264PictureKind(type, reference), H264Packet.ReadPictureKind(LengthPrefixed(4, aud, slice), 4));
        Assert.Equal(new H264PictureKind(type, reference), H264Packet.ReadPictureKind(LengthPrefixed(2, slice), 2));
        Assert.Equal(new H264PictureKind(type, reference), H264Packet.ReadPictureKind(AnnexB(aud, slice), 0));
    }

    [Fact]
    public void Emulation_prevention_bytes_inside_the_header_are_skipped()
    {
        // first_mb_in_slice with 23 leading zero bits: its RBSP starts 00 00 01, which the NAL escapes as 00 00 03 01.
        var nal = Nal(0x41, Rbsp((1u << 23) - 1 + 5, 6));
        Assert.True(nal.AsSpan(1).IndexOf([(byte)0, (byte)0, (byte)3]) >= 0, "the test header must contain an escape");

        Assert.Equal(new H264PictureKind(H264PictureType.B, true), H264Packet.ReadPictureKind(LengthPrefixed(4, nal), 4));
    }

    [Fact]
    public void Packets_without_a_slice_or_with_broken_framing_are_unknown()
    {
        Assert.Equal(default, H264Packet.ReadPictureKind(LengthPrefixed(4, Nal(0x06, [5, 1, 0])), 4));
        Assert.Equal(default, H264Packet.ReadPictureKind([0, 0, 0, 9, 0x41], 4)); // length past the end
        Assert.Equal(default, H264Packet.ReadPictureKind([], 4));
        Assert.Equal(default, H264Packet.ReadPictureKind(LengthPrefixed(4, Nal(0x41, [0, 0])), 4)); // header cut short
    }

    [Fact]
    public void Nal_length_size_comes_from_avcC_and_zero_means_start_codes()
    {
        Assert.Equal(4, H264Packet.NalLengthSize([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0]));
        Assert.Equal(2, H264Packet.NalLengthSize([1, 0x64, 0, 0x1f, 0xfd, 0xe1, 0]));
        Assert.Equal(0, H264Packet.NalLengthSize([0, 0, 0, 1, 0x67, 0x64, 0]));
        Assert.Equal(0, H264Packet.NalLengthSize([]));
    }

    [Theory]
    [InlineData("cabac=1 ref=1 deblock=1:0:0 analyse=0x3:0x113", 1)]
    [InlineData("cabac=1 ref=3 deblock=1:0:0", 3)]
    [InlineData("cabac=1 deblock=1:0:0", -1)]
    public void X264_option_string_gives_its_reference_count(string options, int expected)
    {
        var sei = Nal(0x06, [5, 200, .. new byte[16], .. Encoding.ASCII.GetBytes($"x264 - core 164 r3095 - H.264/MPEG-4 AVC codec - options: {options}"), 0x80]);
        var slice = Nal(0x65, Rbsp(0, 7));

        Assert.Equal(expected, H264Packet.X264ReferenceFrames(LengthPrefixed(4, sei, slice), 4));
        Assert.Equal(-1, H264Packet.X264ReferenceFrames(LengthPrefixed(4, slice), 4));
    }

    [Fact]
    public async Task Real_x264_packets_read_as_the_encoder_wrote_them()
    {
        using var dir = new TempDir("h264-packets");
        var clip = await TestMedia.GenerateAsync(dir.Combine("clip.mp4"), seconds: 1, width: 160, height: 120, audio: false,
            extraOutputArgs: ["-x264-params", "ref=1:bframes=3:b-pyramid=normal:b-adapt=0"]);
        using var source = MediaSource.Open(clip, probeStreams: false);
        var video = source.BestStream(MediaKind.Video)!;
        var lengthSize = H264Packet.NalLengthSize(source.Extradata(video));
        using var packet = new PacketHandle();
        var kinds = new StringBuilder();
        var first = true;
        while (source.ReadPacket(packet))
        {
            if (first)
            {
                Assert.Equal(1, H264Packet.X264ReferenceFrames(packet.Data, lengthSize));
                first = false;
            }

            var kind = H264Packet.ReadPictureKind(packet.Data, lengthSize);
            kinds.Append(kind.Type switch { H264PictureType.B when kind.IsReference => 'B', H264PictureType.B => 'b', var t => t.ToString()[0] });
        }

        Assert.Equal(4, lengthSize);
        // Fixed GOP pattern in decode order: I P B b b P B b b ... (25 frames; the tail closes on a shorter mini-GOP).
        Assert.StartsWith("IPBbbPBbbPBbb", kinds.ToString());
        Assert.Equal(25, kinds.Length);
    }

    private static byte[] Nal(byte header, byte[] rbsp)
    {
        // Escape as a NAL does: 03 after two zero bytes when the next byte is 0..3.
        var nal = new List<byte> { header };
        var zeros = 0;
        foreach (var b in rbsp)
        {
            if (zeros >= 2 && b <= 3)
            {
                nal.Add(3);
                zeros = 0;
            }

            nal.Add(b);
            zeros = b == 0 ? zeros + 1 : 0;
        }

        return [.. nal];
    }

    /// <summary>Slice header start: first_mb_in_slice and slice_type as ue(v), then a stop bit and padding.</summary>
    private static byte[] Rbsp(uint firstMb, uint sliceType)
    {
        var bits = new List<int>();
        foreach (var v in new[] { firstMb, sliceType })
        {
            var code = (ulong)v + 1;
            var length = 64 - ulong.LeadingZeroCount(code);
            for (var i = 1; i < (int)length; i++)
            {
                bits.Add(0);
            }

            for (var i = (int)length - 1; i >= 0; i--)
            {
                bits.Add((int)((code >> i) & 1));
            }
        }

        bits.Add(1);
        while (bits.Count % 8 != 0)
        {
            bits.Add(0);
        }

        var bytes = new byte[bits.Count / 8];
        for (var i = 0; i < bits.Count; i++)
        {
            bytes[i / 8] |= (byte)(bits[i] << (7 - (i % 8)));
        }

        return bytes;
    }

    private static byte[] LengthPrefixed(int size, params byte[][] nals)
    {
        var packet = new List<byte>();
        foreach (var nal in nals)
        {
            for (var i = size - 1; i >= 0; i--)
            {
                packet.Add((byte)(nal.Length >> (8 * i)));
            }

            packet.AddRange(nal);
        }

        return [.. packet];
    }

    private static byte[] AnnexB(params byte[][] nals)
    {
        var packet = new List<byte>();
        foreach (var nal in nals)
        {
            packet.AddRange([0, 0, 0, 1]);
            packet.AddRange(nal);
        }

        return [.. packet];
    }
}
