using System.Collections.Concurrent;
using StreamServer.Hosting;

namespace StreamServer.Vod;

/// <summary>
/// Bounded cache of open library files keyed by their library-relative path. A hit is a dictionary
/// lookup by span (no string, no stat). Published folders are immutable, so an entry stays valid
/// until its folder is deleted or replaced; that is noticed by one stat of the path when the entry is
/// older than FileRevalidateMilliseconds. Evicted descriptors close when their last lease ends.
/// </summary>
internal sealed class VodFileCache : IDisposable
{
    private readonly ConcurrentDictionary<string, VodFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, VodFile>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string _root;
    private readonly string _realRoot;
    private readonly int _capacity;
    private readonly long _revalidateMs;
    private readonly int _smallBodyBytes;

    public VodFileCache(StreamServerOptions options)
    {
        _root = Path.Combine(options.DataDir, "vod");
        Directory.CreateDirectory(_root);
        _realRoot = LibcFile.RealPath(_root) ?? _root;
        _capacity = Math.Max(16, options.Serving.FileCacheEntries);
        _revalidateMs = Math.Max(0, options.Serving.FileRevalidateMilliseconds);
        _smallBodyBytes = Math.Max(0, options.Serving.SmallBodyBytes);
        _lookup = _files.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _files.Count;

    /// <summary>
    /// Finds the file for "id/rel" and takes a lease on it (release with <see cref="VodFile.Release"/>).
    /// False when there is no such published file: the caller lets the application handle the request.
    /// </summary>
    public bool TryAcquire(ReadOnlySpan<char> relativePath, out VodFile file)
    {
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
        var path = Path.Join(_root, file.RequestPath);
        if (!LibcFile.TryStat(path, out var now) || now != file.Identity)
        {
            return false;
        }

        file.ValidatedAt = Environment.TickCount64;
        return true;
    }

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
        var slash = key.IndexOf('/');
        var idDir = Path.Join(_realRoot, key.AsSpan(0, slash));
        var resolved = LibcFile.RealPath(Path.Join(_root, key));

        // The real path (every symlink resolved) must stay inside this id's folder and must not pass
        // through a hidden (staging) folder: a symlink may not lead out of the library or into work in progress.
        if (resolved is null
            || !resolved.StartsWith(idDir + "/", StringComparison.Ordinal)
            || resolved.AsSpan(idDir.Length).Contains("/.", StringComparison.Ordinal))
        {
            return null;
        }

        return VodFile.Open(key, resolved, contentType, kind, _smallBodyBytes);
    }

    public void Dispose()
    {
        foreach (var pair in _files)
        {
            Evict(pair.Value);
        }
    }
}
