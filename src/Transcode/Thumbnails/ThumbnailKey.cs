namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Identity of an on-demand thumbnail: VOD, its version (changes when re-packaged), time in milliseconds, width,
/// quality.
/// </summary>
public readonly record struct ThumbnailKey(string VodId, long Version, long TimeMs, int Width, int Quality);
