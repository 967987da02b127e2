using System.Buffers.Binary;
using System.Buffers.Text;

namespace StreamServer.Transcode.Media;

/// <summary>Slice type of a coded H.264 picture (its first slice), as far as seeking cares.</summary>
public enum H264PictureType
{
    Unknown,
    I,
    P,
    B,
}

/// <summary>What the first slice header of an H.264 access unit says: its type and whether others may predict from it.</summary>
public readonly record struct H264PictureKind(H264PictureType Type, bool IsReference);

/// <summary>
/// Just enough H.264 bitstream reading to decide, before decoding, which pictures a seek can leave out: the
/// NAL framing of a demuxed packet (length-prefixed as in MP4's avcC, or Annex B start codes), the first slice
/// header's nal_ref_idc and slice_type, and the option string x264 stores in its first access unit.
/// </summary>
public static class H264Packet
{
    private const int NalSliceNonIdr = 1;
    private const int NalSliceIdr = 5;
    private const int NalSei = 6;

    /// <summary>
    /// Bytes of the NAL length prefix in packets (1, 2 or 4) for an avcC configuration record, 0 for Annex B
    /// (start codes: no or non-avcC extradata).
    /// </summary>
    public static int NalLengthSize(ReadOnlySpan<byte> extradata) =>
        extradata.Length >= 7 && extradata[0] == 1 && (extradata[4] & 3) != 2 ? (extradata[4] & 3) + 1 : 0;

    /// <summary>Type and reference flag of the picture in <paramref name="packet"/> (Unknown when it holds no slice).</summary>
    public static H264PictureKind ReadPictureKind(ReadOnlySpan<byte> packet, int nalLengthSize)
    {
        var reader = new NalUnitReader(packet, nalLengthSize);
        while (reader.Next(out var nal))
        {
            var type = nal[0] & 0x1f;
            if (type is not (NalSliceNonIdr or NalSliceIdr))
            {
                continue;
            }

            var bits = new RbspBitReader(nal[1..]);
            if (!bits.TryReadUe(out _) || !bits.TryReadUe(out var sliceType))
            {
                return default;
            }

            var picture = (sliceType % 5) switch
            {
                0 or 3 => H264PictureType.P, // SP predicts like P
                1 => H264PictureType.B,
                2 or 4 => H264PictureType.I, // SI is intra
                _ => H264PictureType.Unknown,
            };
            return new H264PictureKind(picture, (nal[0] & 0x60) != 0);
        }

        return default;
    }

    /// <summary>
    /// The <c>ref=</c> value of the x264 option string in an SEI of <paramref name="packet"/> (x264 writes it into
    /// the first access unit of every encode), or -1 when the packet carries none.
    /// </summary>
    public static int X264ReferenceFrames(ReadOnlySpan<byte> packet, int nalLengthSize)
    {
        var reader = new NalUnitReader(packet, nalLengthSize);
        while (reader.Next(out var nal))
        {
            if ((nal[0] & 0x1f) != NalSei)
            {
                continue;
            }

            // The options are printable ASCII (no 00 00 pairs), so emulation prevention never splits them.
            var at = nal.IndexOf("x264 - core "u8);
            if (at < 0)
            {
                continue;
            }

            var options = nal[at..];
            var refAt = options.IndexOf(" ref="u8);
            if (refAt < 0)
            {
                return -1;
            }

            return Utf8Parser.TryParse(options[(refAt + 5)..], out int value, out _) && value >= 0 ? value : -1;
        }

        return -1;
    }

    /// <summary>
    /// NAL units of one packet or extradata blob, each without its length prefix or start code
    /// (<paramref name="lengthSize"/> 0 = Annex B start codes).
    /// </summary>
    internal ref struct NalUnitReader(ReadOnlySpan<byte> data, int lengthSize)
    {
        private ReadOnlySpan<byte> _rest = data;

        public bool Next(out ReadOnlySpan<byte> nal)
        {
            nal = default;
            if (lengthSize > 0)
            {
                if (_rest.Length < lengthSize)
                {
                    return false;
                }

                var length = lengthSize switch
                {
                    1 => _rest[0],
                    2 => BinaryPrimitives.ReadUInt16BigEndian(_rest),
                    _ => (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(_rest), int.MaxValue),
                };
                _rest = _rest[lengthSize..];
                if (length == 0 || length > _rest.Length)
                {
                    return false;
                }

                nal = _rest[..length];
                _rest = _rest[length..];
                return true;
            }

            var start = _rest.IndexOf([(byte)0, (byte)0, (byte)1]);
            if (start < 0)
            {
                return false;
            }

            _rest = _rest[(start + 3)..];
            var end = _rest.IndexOf([(byte)0, (byte)0, (byte)1]);
            nal = end < 0 ? _rest : _rest[..end];
            _rest = end < 0 ? default : _rest[end..];
            // A 4-byte start code leaves its leading zero at the end of the previous unit; a NAL never ends in 00.
            nal = nal.TrimEnd((byte)0);
            return !nal.IsEmpty || Next(out nal);
        }
    }

    /// <summary>Exp-Golomb reading over RBSP bytes (emulation-prevention 0x03 after two zero bytes skipped).</summary>
    internal ref struct RbspBitReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _byte;
        private int _bit;
        private int _zeros;
        private int _current = -1;

        public bool TryReadUe(out uint value)
        {
            value = 0;
            var leadingZeros = 0;
            while (true)
            {
                var bit = ReadBit();
                if (bit < 0 || leadingZeros > 31)
                {
                    return false;
                }

                if (bit == 1)
                {
                    break;
                }

                leadingZeros++;
            }

            ulong suffix = 0;
            for (var i = 0; i < leadingZeros; i++)
            {
                var bit = ReadBit();
                if (bit < 0)
                {
                    return false;
                }

                suffix = (suffix << 1) | (uint)bit;
            }

            value = (uint)((1UL << leadingZeros) - 1 + suffix);
            return true;
        }

        /// <summary>Up to 31 bits, most significant first.</summary>
        public bool TryReadBits(int count, out int value)
        {
            value = 0;
            for (var i = 0; i < count; i++)
            {
                var bit = ReadBit();
                if (bit < 0)
                {
                    return false;
                }

                value = (value << 1) | bit;
            }

            return true;
        }

        private int ReadBit()
        {
            if (_current < 0 || _bit == 8)
            {
                if (_byte >= _data.Length)
                {
                    return -1;
                }

                var b = _data[_byte++];
                if (_zeros >= 2 && b == 3)
                {
                    _zeros = 0;
                    if (_byte >= _data.Length)
                    {
                        return -1;
                    }

                    b = _data[_byte++];
                }

                _zeros = b == 0 ? _zeros + 1 : 0;
                _current = b;
                _bit = 0;
            }

            return (_current >> (7 - _bit++)) & 1;
        }
    }
}
