using System.Globalization;
using System.Text;

namespace StreamServer.Transcode.Packaging;

/// <summary>HLS (RFC 8216, version 7 for fMP4) master and media playlists over the packaged segments.</summary>
public static class HlsPlaylistWriter
{
    public const string MediaPlaylistName = "index.m3u8";
    public const string AudioGroup = "aac";

    public static string Master(IReadOnlyList<TrackResult> renditions, TrackResult? audio)
    {
        var sb = new StringBuilder();
        sb.Append("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        if (audio is not null)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AudioGroup}\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"{audio.Channels}\",URI=\"{audio.Name}/{MediaPlaylistName}\"\n");
        }

        foreach (var r in renditions)
        {
            // A variant's bandwidth covers everything a player fetches for it: video plus the audio rendition.
            var peak = r.PeakBandwidth + (audio?.PeakBandwidth ?? 0);
            var average = r.AverageBandwidth + (audio?.AverageBandwidth ?? 0);
            var codecs = audio is null ? r.Codecs : $"{r.Codecs},{audio.Codecs}";
            sb.Append(CultureInfo.InvariantCulture,
                $"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{codecs}\",RESOLUTION={r.Width}x{r.Height},FRAME-RATE={r.FrameRate:0.000}");
            if (audio is not null)
            {
                sb.Append(CultureInfo.InvariantCulture, $",AUDIO=\"{AudioGroup}\"");
            }

            sb.Append(CultureInfo.InvariantCulture, $"\n{r.Name}/{MediaPlaylistName}\n");
        }

        if (renditions.Count == 0 && audio is not null)
        {
            // Audio-only: the audio playlist is the only variant.
            sb.Append(CultureInfo.InvariantCulture,
                $"#EXT-X-STREAM-INF:BANDWIDTH={audio.PeakBandwidth},AVERAGE-BANDWIDTH={audio.AverageBandwidth},CODECS=\"{audio.Codecs}\"\n{audio.Name}/{MediaPlaylistName}\n");
        }

        return sb.ToString();
    }

    public static string Media(TrackResult track)
    {
        // RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer must not exceed the target duration. Round what is
        // printed, not the exact duration: 187.4999996 s prints as 187.500000, which a player rounds to 188.
        var printed = new string[track.Segments.Count];
        var target = 1;
        for (var i = 0; i < printed.Length; i++)
        {
            printed[i] = track.Segments[i].DurationSeconds.ToString("0.000000", CultureInfo.InvariantCulture);
            target = Math.Max(target, (int)Math.Round(double.Parse(printed[i], CultureInfo.InvariantCulture), MidpointRounding.AwayFromZero));
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture,
            $"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n");
        for (var i = 0; i < printed.Length; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"#EXTINF:{printed[i]},\n{track.Segments[i].FileName}\n");
        }

        sb.Append("#EXT-X-ENDLIST\n");
        return sb.ToString();
    }
}
