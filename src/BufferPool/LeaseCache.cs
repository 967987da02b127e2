namespace StreamServer.BufferPool;

/// <summary>
/// Keyed cache of pool leases in insertion order (a live window of segments, for instance). The cache owns
/// one reference per entry; readers get their own reference, so an entry evicted while a segment is being
/// sent keeps its memory until that send releases it. Under pool pressure the pool asks the cache to evict
/// the oldest entries that nobody else holds, which is memory that really comes back.
/// A lock guards the dictionary and order list: cache operations happen per segment, not per frame, so
/// they are off the rent/return hot path.
/// </summary>
public sealed class LeaseCache<TKey> : IBufferReclaimer, IDisposable
    where TKey : notnull
{
    private readonly MemfdBufferPool _pool;
    private readonly Lock _gate = new();
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, BufferLease Lease)>> _entries = [];
    private readonly LinkedList<(TKey Key, BufferLease Lease)> _order = new();
    private bool _disposed;

    public LeaseCache(MemfdBufferPool pool)
    {
        _pool = pool;
        pool.AddReclaimer(this);
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Adds an entry; the cache takes over the caller's reference. False (reference untouched)
    /// when the key already exists.</summary>
    public bool TryAdd(TKey key, BufferLease lease)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_entries.ContainsKey(key))
            {
                return false;
            }

            _entries[key] = _order.AddLast((key, lease));
            return true;
        }
    }

    /// <summary>Gets a new reference to the entry; the caller releases it.</summary>
    public bool TryGet(TKey key, out BufferLease lease)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                lease = node.Value.Lease.AddRef();
                return true;
            }
        }

        lease = default;
        return false;
    }

    /// <summary>Evicts the <paramref name="count"/> oldest entries whether or not they are being read (a live
    /// window sliding forward); readers keep their memory until they release.</summary>
    public int EvictOldest(int count)
    {
        var evicted = 0;
        lock (_gate)
        {
            while (evicted < count && _order.First is { } node)
            {
                Drop(node);
                evicted++;
            }
        }

        _pool.RecordEvictions(evicted);
        return evicted;
    }

    public bool Remove(TKey key)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var node))
            {
                return false;
            }

            Drop(node);
            return true;
        }
    }

    /// <inheritdoc />
    public int Reclaim(int minBlockSize, long maxBlockSize)
    {
        var evicted = 0;
        lock (_gate)
        {
            var node = _order.First;
            while (node is not null)
            {
                var next = node.Next;
                var lease = node.Value.Lease;

                // Only the cache's own reference left: dropping it returns the block. Under the lock no reader
                // can add one (TryGet holds the lock), and outside holders cannot add without holding one.
                if (lease.ReferenceCount == 1 && lease.BlockSize >= minBlockSize && lease.BlockSize <= maxBlockSize)
                {
                    Drop(node);
                    evicted++;
                    break;
                }

                node = next;
            }
        }

        _pool.RecordEvictions(evicted);
        return evicted;
    }

    public void Dispose()
    {
        _pool.RemoveReclaimer(this);
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            while (_order.First is { } node)
            {
                Drop(node);
            }
        }
    }

    private void Drop(LinkedListNode<(TKey Key, BufferLease Lease)> node)
    {
        _order.Remove(node);
        _entries.Remove(node.Value.Key);
        node.Value.Lease.Release();
    }
}
