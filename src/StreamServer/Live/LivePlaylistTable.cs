using System.Collections.Concurrent;
using StreamServer.Transcode.Live;
using StreamServer.Vod;

namespace StreamServer.Live;

/// <summary>
/// The live channels' playlists and MPDs, held in memory and served from there: the packager replaces one with every
/// part, and a file per version would cost a create, write, rename and, for the next reader, an open, realpath and read.
/// Keyed like the served-file cache ("live/{channel}/video/index.m3u8"), which answers these keys from here. A version
/// stays readable by the responses that leased it until they end; a new stream of a channel (not a reconnect that
/// continues it) withdraws the previous stream's.
/// </summary>
internal sealed class LivePlaylistTable : IDisposable
{
    private readonly ConcurrentDictionary<string, VodFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, VodFile>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private long _version;

    public LivePlaylistTable() => _lookup = _files.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Whether <paramref name="key"/> names a live playlist or MPD (served from here, never from a file).</summary>
    public static bool Holds(ReadOnlySpan<char> key) =>
        key.StartsWith(VodPath.LiveRoot + "/") && (key.EndsWith(".m3u8") || key.EndsWith(".mpd"));

    /// <summary>The current version of <paramref name="key"/> with a lease on it (release with <see cref="VodFile.Release"/>).</summary>
    public bool TryAcquire(ReadOnlySpan<char> key, out VodFile file)
    {
        // A replace between the lookup and the lease disposes the version found: look again for its successor.
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (!_lookup.TryGetValue(key, out var found))
            {
                break;
            }

            if (found.TryAcquire())
            {
                file = found;
                return true;
            }
        }

        file = null!;
        return false;
    }

    /// <summary>Where the packager of <paramref name="channel"/> puts its playlists.</summary>
    public ILivePlaylistSink For(string channel) => new ChannelPlaylists(this, VodPath.LiveRoot + "/" + channel + "/");

    /// <summary>Withdraws every playlist below <paramref name="prefix"/> ("live/{channel}/": a new stream begins).</summary>
    public void RemovePrefix(string prefix)
    {
        foreach (var pair in _files)
        {
            if (pair.Key.StartsWith(prefix, StringComparison.Ordinal) && _files.TryRemove(pair))
            {
                pair.Value.Dispose();
            }
        }
    }

    public int Count => _files.Count;

    private void Replace(string key, System.Text.StringBuilder text)
    {
        VodContentTypes.TryGet(key, out var contentType, out var kind);
        var file = VodFile.FromText(key, text, contentType, kind, VodFile.LivePlaylistCacheControl, (ulong)Interlocked.Increment(ref _version));
        while (true)
        {
            if (_files.TryGetValue(key, out var old))
            {
                if (_files.TryUpdate(key, file, old))
                {
                    old.Dispose(); // freed when the last response reading it ends
                    return;
                }
            }
            else if (_files.TryAdd(key, file))
            {
                return;
            }
        }
    }

    private void Remove(string key)
    {
        if (_files.TryRemove(key, out var old))
        {
            old.Dispose();
        }
    }

    public void Dispose() => RemovePrefix("");

    private sealed class ChannelPlaylists(LivePlaylistTable table, string prefix) : ILivePlaylistSink
    {
        // The few names a packager uses ("video/index.m3u8", ...), each made into a key once.
        private readonly Dictionary<string, string> _keys = new(StringComparer.Ordinal);

        public void Replace(string name, System.Text.StringBuilder text) => table.Replace(Key(name), text);

        public void Remove(string name) => table.Remove(Key(name));

        private string Key(string name)
        {
            if (!_keys.TryGetValue(name, out var key))
            {
                key = prefix + name;
                _keys[name] = key;
            }

            return key;
        }
    }
}
