namespace StreamServer.Vod;

/// <summary>What a served file is, for content type, metrics label and send strategy.</summary>
internal enum VodKind
{
    Segment,
    Init,
    Playlist,
    Mpd,
    Image,
    Other,
}
