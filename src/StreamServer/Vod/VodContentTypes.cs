using StreamServer.Transcode.Packaging;

namespace StreamServer.Vod;

/// <summary>
/// The only file types the library serves; anything else is not a published media file and falls
/// through to the application (404). fMP4 init and media segments of the packager's audio rendition
/// (its folder, <see cref="Packager.AudioFolder"/>) are audio/mp4 (RFC 4337; what the DASH manifest
/// declares for them); every other fMP4 carries video.
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
        if (ext is "m4s" or "mp4" && slash > 0 && IsInAudioFolder(relativePath[..slash]))
        {
            contentType = "audio/mp4";
        }

        return contentType.Length > 0;
    }

    private static bool IsInAudioFolder(ReadOnlySpan<char> folder)
    {
        var parent = folder[(folder.LastIndexOf('/') + 1)..];
        return parent.SequenceEqual(Packager.AudioFolder);
    }
}
