namespace StreamServer.Vod;

/// <summary>The served-file cache of the library and live windows (section "StreamServer:Vod").</summary>
public sealed class VodServingOptions
{
    /// <summary>Files whose metadata and descriptor stay cached.</summary>
    public int FileCacheEntries { get; set; } = 4096;

    /// <summary>How old a cached file's metadata may get before one stat checks it is still the same file.</summary>
    public int FileRevalidateMilliseconds { get; set; } = 2000;

    /// <summary>Files up to this size (playlists, MPDs) keep their bytes in memory and go out with the headers in one write.</summary>
    public int SmallBodyBytes { get; set; } = 64 * 1024;
}
