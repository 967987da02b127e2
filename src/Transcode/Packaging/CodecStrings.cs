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
            return Format(extradata[1], extradata[2], extradata[3]);
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

    private static string Format(byte profile, byte constraints, byte level) => $"avc1.{profile:x2}{constraints:x2}{level:x2}";
}
