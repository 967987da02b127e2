namespace StreamServer.BufferPool;

/// <summary>No block large enough was free (after threads gave back their cached blocks and, for a timed rent,
/// after waiting). The pool never grows: callers degrade (drop a live frame, retry later) instead.</summary>
public sealed class BufferPoolExhaustedException : Exception
{
    public BufferPoolExhaustedException(int requestedBytes, string detail)
        : base($"buffer pool exhausted: no free block for {requestedBytes} bytes ({detail})")
    {
        RequestedBytes = requestedBytes;
    }

    public int RequestedBytes { get; }
}
