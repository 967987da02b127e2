namespace StreamServer.Transcode.Thumbnails;

/// <summary>Identity of an on-demand thumbnail: VOD, time in milliseconds, width, quality.</summary>
public readonly record struct ThumbnailKey(string VodId, long TimeMs, int Width, int Quality);
