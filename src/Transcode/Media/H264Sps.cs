namespace StreamServer.Transcode.Media;

/// <summary>
/// The picture size an H.264 sequence parameter set declares (ITU-T H.264 7.3.2.1.1, cropping per 7.4.2.1.1): what a
/// live publish is, whatever its metadata says or if it sends none. Reads the first SPS of an avcC record.
/// </summary>
public static class H264Sps
{
    /// <summary>Width and height in pixels after cropping; a TranscodeException when the record holds no readable SPS.</summary>
    public static (int Width, int Height) FrameSize(ReadOnlySpan<byte> avcC)
    {
        if (avcC.Length < 8 || avcC[0] != 1 || (avcC[5] & 0x1f) == 0)
        {
            throw new TranscodeException("no H.264 SPS/PPS in the stream's configuration (avcC without an SPS)");
        }

        var length = (avcC[6] << 8) | avcC[7];
        if (length < 4 || length > avcC.Length - 8)
        {
            throw new TranscodeException($"H.264 SPS of {length} bytes in a {avcC.Length}-byte avcC");
        }

        var bits = new SpsBits(avcC.Slice(8, length));
        bits.Skip(8); // NAL header
        var profile = bits.Read(8);
        bits.Skip(16); // constraint flags, level_idc
        bits.Ue(); // seq_parameter_set_id
        var chroma = 1;
        var separatePlanes = false;
        if (profile is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135)
        {
            chroma = bits.Ue();
            if (chroma > 3)
            {
                throw new TranscodeException($"H.264 SPS with chroma_format_idc {chroma}");
            }

            separatePlanes = chroma == 3 && bits.Read(1) == 1;
            bits.Ue(); // bit_depth_luma_minus8
            bits.Ue(); // bit_depth_chroma_minus8
            bits.Skip(1); // qpprime_y_zero_transform_bypass_flag
            if (bits.Read(1) == 1)
            {
                for (var i = 0; i < (chroma != 3 ? 8 : 12); i++)
                {
                    if (bits.Read(1) == 1)
                    {
                        SkipScalingList(ref bits, i < 6 ? 16 : 64);
                    }
                }
            }
        }

        bits.Ue(); // log2_max_frame_num_minus4
        var pocType = bits.Ue();
        if (pocType == 0)
        {
            bits.Ue(); // log2_max_pic_order_cnt_lsb_minus4
        }
        else if (pocType == 1)
        {
            bits.Skip(1);
            bits.Se();
            bits.Se();
            var cycle = bits.Ue();
            if (cycle > 255)
            {
                throw new TranscodeException($"H.264 SPS with {cycle} reference frames in a POC cycle");
            }

            for (var i = 0; i < cycle; i++)
            {
                bits.Se();
            }
        }

        bits.Ue(); // max_num_ref_frames
        bits.Skip(1); // gaps_in_frame_num_value_allowed_flag
        var widthMbs = bits.Ue() + 1;
        var heightMapUnits = bits.Ue() + 1;
        var frameMbsOnly = bits.Read(1);
        if (frameMbsOnly == 0)
        {
            bits.Skip(1); // mb_adaptive_frame_field_flag
        }

        bits.Skip(1); // direct_8x8_inference_flag
        int left = 0, right = 0, top = 0, bottom = 0;
        if (bits.Read(1) == 1)
        {
            (left, right, top, bottom) = (bits.Ue(), bits.Ue(), bits.Ue(), bits.Ue());
        }

        var arrayType = separatePlanes ? 0 : chroma;
        var cropX = arrayType is 1 or 2 ? 2 : 1;
        var cropY = (arrayType == 1 ? 2 : 1) * (2 - frameMbsOnly);
        var width = (widthMbs * 16) - (cropX * (left + right));
        var height = ((2 - frameMbsOnly) * heightMapUnits * 16) - (cropY * (top + bottom));
        return width is > 0 and <= 16384 && height is > 0 and <= 16384
            ? (width, height)
            : throw new TranscodeException($"H.264 SPS with a {width}x{height} picture");
    }

    private static void SkipScalingList(ref SpsBits bits, int size)
    {
        int last = 8, next = 8;
        for (var j = 0; j < size; j++)
        {
            if (next != 0)
            {
                next = (last + bits.Se() + 256) % 256;
            }

            last = next == 0 ? last : next;
        }
    }

    /// <summary>The RBSP reader of <see cref="H264Packet"/>, where running out of bits is a TranscodeException.</summary>
    private ref struct SpsBits(ReadOnlySpan<byte> nal)
    {
        private H264Packet.RbspBitReader _reader = new(nal);

        public int Read(int count) => _reader.TryReadBits(count, out var value) ? value : throw Truncated();

        public void Skip(int count) => Read(count);

        public int Ue() => _reader.TryReadUe(out var value) && value <= int.MaxValue ? (int)value : throw Truncated();

        public int Se()
        {
            var k = Ue();
            return (k & 1) == 1 ? (k + 1) / 2 : -(k / 2);
        }

        private static TranscodeException Truncated() => new("H.264 SPS ends early (or holds an Exp-Golomb code over 31 bits)");
    }
}
