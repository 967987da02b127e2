using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>RFC 6381 codec strings for HLS CODECS and DASH @codecs.</summary>
public static class CodecStrings
{
    public const string AacLc = "mp4a.40.2";

    /// <summary>
    /// avc1.PPCCLL from the SPS: profile_idc, constraint flags, level_idc. Accepts an avcC record or
    /// Annex B NAL units (what libx264 puts in extradata with a global header).
    /// </summary>
    public static string Avc1(ReadOnlySpan<byte> extradata)
    {
        if (extradata.Length >= 4 && extradata[0] == 1)
        {
            return AvcC(extradata);
        }

        var units = new H264Packet.NalUnitReader(extradata, 0);
        while (units.Next(out var nal))
        {
            if ((nal[0] & 0x1f) == 7 && nal.Length >= 4)
            {
                return Format(nal[1], nal[2], nal[3]);
            }
        }

        throw new TranscodeException("no H.264 SPS in the stream's configuration (avcC or Annex B extradata)");
    }

    // ISO 14496-15 5.3.3.1: version, profile, constraints, level, length size, SPS count + (length, SPS)..., PPS count + ....
    // A record without an SPS and a PPS (or whose lengths run past its end) cannot start a decoder or an init segment.
    private static string AvcC(ReadOnlySpan<byte> record)
    {
        var at = 5;
        int sps = 0, pps = 0;
        for (var set = 0; set < 2 && at < record.Length; set++)
        {
            var count = set == 0 ? record[at++] & 0x1f : record[at++];
            for (var i = 0; i < count; i++)
            {
                var length = at + 2 <= record.Length ? (record[at] << 8) | record[at + 1] : int.MaxValue;
                if (length == 0 || length > record.Length - at - 2)
                {
                    throw new TranscodeException($"H.264 configuration (avcC) with a parameter set running past its {record.Length} bytes");
                }

                at += 2 + length;
            }

            (sps, pps) = set == 0 ? (count, pps) : (sps, count);
        }

        if (sps == 0 || pps == 0)
        {
            throw new TranscodeException($"no H.264 SPS/PPS in the stream's configuration (avcC with {sps} SPS, {pps} PPS)");
        }

        return Format(record[1], record[2], record[3]);
    }

    private static string Format(byte profile, byte constraints, byte level) => $"avc1.{profile:x2}{constraints:x2}{level:x2}";
}
