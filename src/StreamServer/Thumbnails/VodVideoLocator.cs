using System.Collections.Concurrent;
using System.Globalization;
using StreamServer.Admin;

namespace StreamServer.Thumbnails;

/// <summary>
/// Finds what on-demand thumbnails decode for a VOD id: the packaged folder keeps no source, so it is the
/// highest-resolution video rendition's media playlist (FFmpeg's HLS demuxer reads init.mp4 + segments and
/// seeks by segment). The choice is cached per id and re-read when master.m3u8 changes (re-packaging).
/// </summary>
public sealed class VodVideoLocator(VodLibrary library)
{
    private readonly ConcurrentDictionary<string, (DateTime Stamp, string? Playlist, int Width)> _cache = new(StringComparer.Ordinal);

    /// <summary>
    /// The playlist to decode, a version that changes when the VOD is re-packaged, and the rendition's width
    /// (RESOLUTION); null when the id is unknown or has no video.
    /// </summary>
    public (string Path, long Version, int Width)? Find(string id, out string reason)
    {
        reason = "";
        if (!VodLibrary.IsValidId(id))
        {
            reason = "unknown VOD id";
            return null;
        }

        var folder = library.PathOf(id);
        var master = Path.Combine(folder, "master.m3u8");
        var stamp = File.GetLastWriteTimeUtc(master);
        if (stamp.Year < 1700) // 1601-01-01: the file does not exist
        {
            reason = "unknown VOD id";
            return null;
        }

        if (!_cache.TryGetValue(id, out var entry) || entry.Stamp != stamp)
        {
            var (playlist, width) = TopVideoPlaylist(folder, master);
            entry = (stamp, playlist, width);
            _cache[id] = entry;
        }

        if (entry.Playlist is null)
        {
            reason = "VOD has no video rendition";
            return null;
        }

        return (entry.Playlist, stamp.Ticks, entry.Width);
    }

    /// <summary>The EXT-X-STREAM-INF with the largest RESOLUTION; its URI must stay inside the VOD folder.</summary>
    private static (string? Path, int Width) TopVideoPlaylist(string folder, string master)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(master);
        }
        catch (IOException)
        {
            return (null, 0);
        }

        long best = 0;
        string? bestUri = null;
        var bestWidth = 0;
        for (var i = 0; i + 1 < lines.Length; i++)
        {
            var line = lines[i];
            if (!line.StartsWith("#EXT-X-STREAM-INF:", StringComparison.Ordinal))
            {
                continue;
            }

            var at = line.IndexOf("RESOLUTION=", StringComparison.Ordinal);
            if (at < 0)
            {
                continue; // audio-only variant
            }

            var value = line.AsSpan(at + "RESOLUTION=".Length);
            var end = value.IndexOf(',');
            value = end < 0 ? value : value[..end];
            var x = value.IndexOf('x');
            if (x < 0 || !long.TryParse(value[..x], NumberStyles.None, CultureInfo.InvariantCulture, out var w)
                || !long.TryParse(value[(x + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var h))
            {
                continue;
            }

            var uri = lines[i + 1].Trim();
            if (w * h > best && uri.Length > 0 && !uri.StartsWith('#'))
            {
                best = w * h;
                bestUri = uri;
                bestWidth = (int)Math.Min(w, int.MaxValue);
            }
        }

        if (bestUri is null || bestUri.Contains("://", StringComparison.Ordinal))
        {
            return (null, 0);
        }

        var root = Path.GetFullPath(folder) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(Path.Combine(folder, bestUri));
        return full.StartsWith(root, StringComparison.Ordinal) && File.Exists(full) ? (full, bestWidth) : (null, 0);
    }
}
