namespace StreamServer.Vod;

/// <summary>
/// The request headers the file semantics depend on, as raw ASCII bytes (empty when absent). Both
/// paths fill it: the raw path points into its receive buffer, the Kestrel path transcodes into stack memory.
/// </summary>
internal readonly ref struct VodRequestHeaders
{
    public VodRequestHeaders(ReadOnlySpan<byte> range, ReadOnlySpan<byte> ifNoneMatch, ReadOnlySpan<byte> ifModifiedSince, ReadOnlySpan<byte> ifRange)
    {
        Range = range;
        IfNoneMatch = ifNoneMatch;
        IfModifiedSince = ifModifiedSince;
        IfRange = ifRange;
    }

    public ReadOnlySpan<byte> Range { get; }
    public ReadOnlySpan<byte> IfNoneMatch { get; }
    public ReadOnlySpan<byte> IfModifiedSince { get; }
    public ReadOnlySpan<byte> IfRange { get; }
}
