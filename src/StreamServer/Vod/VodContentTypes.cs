namespace StreamServer.Vod;

/// <summary>
/// The only file types the library serves; anything else is not a published media file and falls
/// through to the application (404).
/// </summary>
internal static class VodContentTypes
{
    public static bool TryGet(ReadOnlySpan<char> relativePath, out string contentType, out VodKind kind)
    {
        var dot = relativePath.LastIndexOf('.');
        var slash = relativePath.LastIndexOf('/');
        if (dot < 0 || dot < slash)
        {
            contentType = "";
            kind = VodKind.Other;
            return false;
        }

        var ext = relativePath[(dot + 1)..];
        (contentType, kind) = ext switch
        {
            "m4s" => ("video/iso.segment", VodKind.Segment),
            "mp4" => ("video/mp4", VodKind.Init),
            "m4a" => ("audio/mp4", VodKind.Segment),
            "ts" => ("video/mp2t", VodKind.Segment),
            "m3u8" => ("application/vnd.apple.mpegurl", VodKind.Playlist),
            "mpd" => ("application/dash+xml", VodKind.Mpd),
            "jpg" or "jpeg" => ("image/jpeg", VodKind.Image),
            "vtt" => ("text/vtt", VodKind.Other),
            _ => ("", VodKind.Other),
        };
        return contentType.Length > 0;
    }
}
