using System.Collections.Concurrent;
using StreamServer.Interop;

namespace StreamServer.Vod;

/// <summary>
/// Bounded cache of open served files keyed by "vod/id/rel" (the library, DataDir/vod) or "live/channel/rel" (the
/// live windows, <see cref="DataLayout.LiveWindows"/>). A hit is a dictionary lookup by span (no string,
/// no stat). Published folders and live segments are immutable, so an entry stays valid until its file is deleted or
/// replaced; that is noticed by one stat of the path when the entry is older than FileRevalidateMilliseconds. Live
/// playlists and MPDs are no files: they are answered from <see cref="Live.LivePlaylistTable"/>, which their packager
/// updates with every part. Evicted descriptors close when their last lease ends.
/// </summary>
internal sealed class VodFileCache : IDisposable
{
    private readonly ConcurrentDictionary<string, VodFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, VodFile>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string _vodRoot;
    private readonly string _vodRealRoot;
    private readonly string _liveRoot;
    private readonly string _liveRealRoot;
    private readonly int _capacity;
    private readonly long _revalidateMs;
    private readonly int _smallBodyBytes;
    private readonly Live.LivePlaylistTable _livePlaylists;

    public VodFileCache(VodServingOptions options, DataLayout layout, Live.LivePlaylistTable livePlaylists)
    {
        _livePlaylists = livePlaylists;
        _vodRoot = layout.Vod;
        Directory.CreateDirectory(_vodRoot);
        _vodRealRoot = Libc.RealPath(_vodRoot) ?? _vodRoot;
        _liveRoot = layout.LiveWindows; // created by the first live stream (LivePackaging)
        var parent = Path.GetDirectoryName(_liveRoot)!;
        _liveRealRoot = Path.Join(Libc.RealPath(parent) ?? parent, Path.GetFileName(_liveRoot));
        _capacity = Math.Max(16, options.FileCacheEntries);
        _revalidateMs = Math.Max(0, options.FileRevalidateMilliseconds);
        _smallBodyBytes = Math.Max(0, options.SmallBodyBytes);
        _lookup = _files.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _files.Count;

    /// <summary>
    /// Finds the file for "vod/id/rel" or "live/channel/rel" and takes a lease on it (release with <see cref="VodFile.Release"/>).
    /// False when there is no such published file: the caller lets the application handle the request.
    /// </summary>
    public bool TryAcquire(ReadOnlySpan<char> relativePath, out VodFile file)
    {
        if (Live.LivePlaylistTable.Holds(relativePath))
        {
            return _livePlaylists.TryAcquire(relativePath, out file);
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (_lookup.TryGetValue(relativePath, out var cached))
            {
                if (_revalidateMs > 0 && Environment.TickCount64 - cached.ValidatedAt > _revalidateMs && !Revalidate(cached))
                {
                    Evict(cached);
                    continue;
                }

                if (cached.TryAcquire())
                {
                    file = cached;
                    return true;
                }

                continue; // evicted between lookup and lease
            }

            var opened = Open(relativePath);
            if (opened is null)
            {
                file = null!;
                return false;
            }

            var winner = _files.GetOrAdd(opened.RequestPath, opened);
            if (!ReferenceEquals(winner, opened))
            {
                opened.Dispose();
            }
            else if (_files.Count > _capacity)
            {
                Trim(opened);
            }

            if (winner.TryAcquire())
            {
                file = winner;
                return true;
            }
        }

        file = null!;
        return false;
    }

    private bool Revalidate(VodFile file)
    {
        var (root, _, rest) = RootOf(file.RequestPath);
        var path = Path.Join(root, file.RequestPath.AsSpan(rest));
        if (!LibcFile.TryStat(path, out var now) || now != file.Identity)
        {
            return false;
        }

        file.ValidatedAt = Environment.TickCount64;
        return true;
    }

    /// <summary>Drops every entry below <paramref name="prefix"/> (a live channel that starts a new stream).</summary>
    public void InvalidatePrefix(string prefix)
    {
        foreach (var pair in _files)
        {
            if (pair.Key.StartsWith(prefix, StringComparison.Ordinal))
            {
                Evict(pair.Value);
            }
        }
    }

    private (string Root, string RealRoot, int Below) RootOf(ReadOnlySpan<char> key) => key.StartsWith(VodPath.LiveRoot + "/")
        ? (_liveRoot, _liveRealRoot, VodPath.LiveRoot.Length + 1)
        : (_vodRoot, _vodRealRoot, VodPath.VodRoot.Length + 1);

    private void Evict(VodFile file)
    {
        if (_files.TryRemove(new KeyValuePair<string, VodFile>(file.RequestPath, file)))
        {
            file.Dispose();
        }
    }

    // Rare (only when more distinct files are hot than the capacity): drop about an eighth, oldest
    // validation first is not worth a sort here; any entries will do, they reopen on demand.
    private void Trim(VodFile keep)
    {
        var toDrop = _files.Count - _capacity + (_capacity / 8);
        foreach (var pair in _files)
        {
            if (toDrop <= 0)
            {
                break;
            }

            if (!ReferenceEquals(pair.Value, keep))
            {
                Evict(pair.Value);
                toDrop--;
            }
        }
    }

    private VodFile? Open(ReadOnlySpan<char> relativePath)
    {
        if (!VodContentTypes.TryGet(relativePath, out var contentType, out var kind))
        {
            return null;
        }

        var key = relativePath.ToString();
        var (root, realRoot, rest) = RootOf(key);
        var slash = key.IndexOf('/', rest);
        var idDir = Path.Join(realRoot, key.AsSpan(rest, slash - rest));
        var resolved = Libc.RealPath(Path.Join(root, key.AsSpan(rest)));

        // The real path (every symlink resolved) must stay inside this id's folder and must not pass
        // through a hidden (staging) folder: a symlink may not lead out of the library or into work in progress.
        if (resolved is null
            || !Libc.IsWithin(resolved, idDir)
            || resolved.AsSpan(idDir.Length).Contains("/.", StringComparison.Ordinal))
        {
            return null;
        }

        // Live playlists change with every segment: a cache or player may keep one for a second at most.
        var cacheControl = rest != VodPath.VodRoot.Length + 1 && kind is VodKind.Playlist or VodKind.Mpd ? VodFile.LivePlaylistCacheControl : VodFile.CacheControl;
        return VodFile.Open(key, resolved, contentType, kind, _smallBodyBytes, cacheControl);
    }

    public void Dispose()
    {
        foreach (var pair in _files)
        {
            Evict(pair.Value);
        }
    }
}
