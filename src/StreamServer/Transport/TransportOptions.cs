namespace StreamServer.Transport;

/// <summary>
/// Sockets, the transport's memory and slow receivers (section "StreamServer:Transport"): what every connection gets,
/// whichever protocol runs over it.
/// </summary>
public sealed class TransportOptions
{
    /// <summary>Open connections at once; further connections are refused by the listener.</summary>
    public long MaxConnections { get; set; } = 10_000;

    /// <summary>Time a blocked response may wait for the socket to become writable before the connection is closed.</summary>
    public int SendTimeoutSeconds { get; set; } = 60;

    /// <summary>A response that moves slower than this (after a 5 s grace period) gets its connection closed.</summary>
    public int MinResponseDataRateBytesPerSecond { get; set; } = 240;

    /// <summary>Unsent response bytes a connection may buffer before its writers wait (the send pipe's and Kestrel's transport MaxWriteBufferSize).</summary>
    public int MaxWriteBufferBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>
    /// Block size of the transport's memory pool (socket, TLS and HTTP/2 pipes); 0 keeps Kestrel's 4 KiB pool.
    /// Large blocks keep every socket send at 8 buffers or fewer, which the runtime can describe on the stack.
    /// </summary>
    public int BlockBytes { get; set; } = 64 * 1024;

    /// <summary>Transport pool blocks that stay free this long are released (pinned memory returned after a burst).</summary>
    public int PoolTrimSeconds { get; set; } = 10;

    /// <summary>
    /// Send what Kestrel's HTTP stack and TLS layer write (h2c, the TLS port, cleartext connections handed to Kestrel)
    /// with our own gathered sendmsg instead of Kestrel's socket transport: no per-send heap arrays for many-block
    /// sends. The zero-copy HTTP/1.1 path sends by itself either way.
    /// </summary>
    public bool DirectSocketSend { get; set; } = true;

    /// <summary>
    /// Run socket I/O continuations inline on the transport's I/O threads instead of hopping to the thread pool per
    /// read (Kestrel's UnsafePreferInlineScheduling): fewer context switches for small responses. Safe here because
    /// nothing on the serving paths blocks; turn it off if application endpoints ever do blocking work.
    /// </summary>
    public bool InlineSocketScheduling { get; set; } = true;

    /// <summary>
    /// Run socket completions on the runtime's epoll threads (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS) instead of
    /// hopping to the thread pool per event: with InlineSocketScheduling, a request is read, parsed and answered on the
    /// thread that saw it arrive. Same rule: nothing on a request thread may block.
    /// </summary>
    public bool InlineSocketCompletions { get; set; } = true;

    /// <summary>
    /// HTTP/2 bodies up to this size are read into the stream's pipe whole and sent without intermediate flushes
    /// (no waiting, so no per-request task state); larger ones go out in flushed 64 KiB chunks. 0 turns it off.
    /// </summary>
    public int Http2WholeBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Whole-body writes are taken only while the transport pool lends out less than this many MiB in total; above,
    /// bodies go out in flushed chunks, each only while there is room (a connection holding nothing always gets one
    /// chunk), so clients that stall their streams cannot pin more than this between them.
    /// </summary>
    public int Http2WholeBodyBudgetMegabytes { get; set; } = 24;

    /// <summary>
    /// Transport memory one connection's pipes may hold for response bodies (HTTP/2: across all its streams). A body
    /// that does not fit waits, in chunks, for the client to take what is already queued; a connection that holds
    /// memory while its socket takes nothing for SendTimeoutSeconds (a flow-control window never opened) gets GOAWAY
    /// and is closed.
    /// </summary>
    public int Http2ConnectionBudgetMegabytes { get; set; } = 24;
}
