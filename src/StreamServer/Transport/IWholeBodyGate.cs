namespace StreamServer.Transport;

/// <summary>
/// How much of a response body the application may queue into the transport's memory at once: the transport's budgets
/// (per connection, server-wide), asked by the HTTP/2 body writer without knowing how they are counted.
/// </summary>
internal interface IWholeBodyGate
{
    /// <summary>The transport pool's block size: the largest piece the body writer asks the pipe for.</summary>
    int BlockBytes { get; }

    /// <summary>How long a chunked body waits for room before its stream is reset.</summary>
    TimeSpan SendTimeout { get; }

    /// <summary>A whole body fits the server's budget and its connection's (no connection account: no whole bodies).</summary>
    bool Allows(long bodyBytes, ConnectionTransportMemory? connection);

    /// <summary>Whether one more chunk of a streamed body may be queued now: within the connection's budget and the server's.</summary>
    bool HasRoom(long chunkBytes, ConnectionTransportMemory? connection);
}
