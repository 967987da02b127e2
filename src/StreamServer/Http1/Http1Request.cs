namespace StreamServer.Http1;

/// <summary>One parsed request head; every span points into the receive buffer (nothing copied).</summary>
internal ref struct Http1Request
{
    public bool IsHead;
    public bool IsHttp10;
    public bool ConnectionClose;
    public bool ConnectionKeepAlive;
    public ReadOnlySpan<byte> Target;
    public ReadOnlySpan<byte> Range;
    public ReadOnlySpan<byte> IfNoneMatch;
    public ReadOnlySpan<byte> IfModifiedSince;
    public ReadOnlySpan<byte> IfRange;
    public ReadOnlySpan<byte> IfMatch;
    public ReadOnlySpan<byte> IfUnmodifiedSince;

    /// <summary>Bytes of the request head including the final CRLF.</summary>
    public int HeadLength;

    /// <summary>Whether the connection stays open after the response (HTTP/1.1 default, HTTP/1.0 opt-in).</summary>
    public readonly bool KeepAlive => IsHttp10 ? ConnectionKeepAlive && !ConnectionClose : !ConnectionClose;
}
