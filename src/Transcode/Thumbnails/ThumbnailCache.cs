namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Bounded LRU of encoded thumbnails: evicts least recently used entries once either the byte budget or the
/// entry count is exceeded. One lock; hits only move a node to the list head (no allocation).
/// </summary>
public sealed class ThumbnailCache
{
    private readonly object _lock = new();
    private readonly Dictionary<ThumbnailKey, LinkedListNode<(ThumbnailKey Key, CachedThumbnail Value)>> _map = [];
    private readonly LinkedList<(ThumbnailKey Key, CachedThumbnail Value)> _lru = new();
    private long _bytes;
    private long _hits;
    private long _misses;
    private long _evictions;

    public ThumbnailCache(long maxBytes = 64L * 1024 * 1024, int maxEntries = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 0);
        MaxBytes = maxBytes;
        MaxEntries = maxEntries;
    }

    public long MaxBytes { get; }

    public int MaxEntries { get; }

    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _map.Count;
            }
        }
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public long Evictions => Interlocked.Read(ref _evictions);

    /// <param name="countMiss">False for a re-check after waiting (the miss was already counted).</param>
    public bool TryGet(in ThumbnailKey key, out CachedThumbnail value, bool countMiss = true)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                if (node != _lru.First)
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                }

                value = node.Value.Value;
                _hits++;
                return true;
            }

            if (countMiss)
            {
                _misses++;
            }

            value = null!;
            return false;
        }
    }

    /// <summary>Adds or replaces; an entry larger than the whole budget is not kept.</summary>
    public void Set(in ThumbnailKey key, CachedThumbnail value)
    {
        lock (_lock)
        {
            if (_map.Remove(key, out var old))
            {
                _lru.Remove(old);
                _bytes -= old.Value.Value.Jpeg.Length;
            }

            if (value.Jpeg.Length > MaxBytes || MaxEntries == 0)
            {
                return;
            }

            _map[key] = _lru.AddFirst((key, value));
            _bytes += value.Jpeg.Length;
            while (_bytes > MaxBytes || _map.Count > MaxEntries)
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _map.Remove(last.Value.Key);
                _bytes -= last.Value.Value.Jpeg.Length;
                _evictions++;
            }
        }
    }

    /// <summary>Drops every entry of one VOD (re-packaged or deleted).</summary>
    public void Invalidate(string vodId)
    {
        lock (_lock)
        {
            var node = _lru.First;
            while (node is not null)
            {
                var next = node.Next;
                if (node.Value.Key.VodId == vodId)
                {
                    _lru.Remove(node);
                    _map.Remove(node.Value.Key);
                    _bytes -= node.Value.Value.Jpeg.Length;
                }

                node = next;
            }
        }
    }
}
