namespace StreamServer.BufferPool;

/// <summary>Something holding pool memory it can give back under pressure (a cache of finished segments).</summary>
public interface IBufferReclaimer
{
    /// <summary>Drops the oldest cached reference that nobody else holds whose block size lies in
    /// [<paramref name="minBlockSize"/>, <paramref name="maxBlockSize"/>] (blocks that can serve the pending
    /// rent); returns how many entries were evicted.</summary>
    int Reclaim(int minBlockSize, long maxBlockSize);
}
