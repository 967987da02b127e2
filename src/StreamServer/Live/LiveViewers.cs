using System.Collections.Concurrent;

namespace StreamServer.Live;

/// <summary>
/// Who is watching a channel: client connections that fetched any of its files (playlists, segments, parts) within the
/// last <see cref="WindowMilliseconds"/>. A player reloads its media playlist at least once per target duration, so it
/// stays counted while it plays; a CDN pulling over one connection counts once. Recording a request that was already
/// seen is a dictionary update (no allocation).
/// </summary>
public sealed class LiveViewers
{
    public const long WindowMilliseconds = 10_000;

    private readonly ConcurrentDictionary<long, long> _lastSeen = new();

    public void Seen(long connection) => _lastSeen[connection] = Environment.TickCount64;

    /// <summary>Connections seen within the window; older ones are forgotten (scrape / API time only).</summary>
    public int Count()
    {
        var cutoff = Environment.TickCount64 - WindowMilliseconds;
        var count = 0;
        foreach (var pair in _lastSeen)
        {
            if (pair.Value >= cutoff)
            {
                count++;
            }
            else
            {
                _lastSeen.TryRemove(pair);
            }
        }

        return count;
    }
}
