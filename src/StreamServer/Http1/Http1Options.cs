namespace StreamServer.Http1;

/// <summary>
/// HTTP/1.1 on the listeners (section "StreamServer:Http1"). The same limits feed Kestrel's parser and the zero-copy
/// one, so both paths reject the same requests.
/// </summary>
public sealed class Http1Options
{
    /// <summary>Serve media GET/HEAD on the cleartext port by the zero-copy HTTP/1.1 path (sendfile / gathered writes).</summary>
    public bool ZeroCopy { get; set; } = true;

    /// <summary>
    /// Answer HTTP/2 with prior knowledge (h2c, RFC 9113 3.3) on the cleartext port. Kestrel has no public switch for it
    /// on a port that also speaks HTTP/1.1; see <see cref="H2cPriorKnowledge"/> for how, and /healthz for whether it took.
    /// </summary>
    public bool H2cPriorKnowledge { get; set; } = true;

    /// <summary>Reject a bare LF as a line terminator (RFC 9112 2.2 allows accepting it; request smuggling lives in such leniencies).</summary>
    public bool RejectBareLineFeed { get; set; } = true;

    /// <summary>Longest request line (method, target, version) in bytes; longer gets 414.</summary>
    public int MaxRequestLineBytes { get; set; } = 8 * 1024;

    /// <summary>All request header bytes together; more gets 431.</summary>
    public int MaxRequestHeadersBytes { get; set; } = 32 * 1024;

    /// <summary>Request header fields per request; more gets 431.</summary>
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>Idle time allowed between requests on a kept-alive connection.</summary>
    public int KeepAliveTimeoutSeconds { get; set; } = 120;

    /// <summary>Time allowed to receive a complete request head once it started (slowloris).</summary>
    public int RequestHeadersTimeoutSeconds { get; set; } = 30;
}
