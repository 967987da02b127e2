namespace StreamServer.Vod;

/// <summary>
/// The request headers the file semantics depend on, as raw ASCII bytes (empty when absent). Both
/// paths fill it: the raw path points into its receive buffer, the Kestrel path transcodes into stack memory.
/// A header that is present with an empty value is passed as <see cref="PresentButEmpty"/>, so that it counts
/// as present and invalid (an empty If-Range must not be taken for an absent one).
/// </summary>
internal readonly ref struct VodRequestHeaders
{
    public VodRequestHeaders(ReadOnlySpan<byte> range, ReadOnlySpan<byte> ifNoneMatch, ReadOnlySpan<byte> ifModifiedSince, ReadOnlySpan<byte> ifRange,
        ReadOnlySpan<byte> ifMatch = default, ReadOnlySpan<byte> ifUnmodifiedSince = default)
    {
        Range = range;
        IfNoneMatch = ifNoneMatch;
        IfModifiedSince = ifModifiedSince;
        IfRange = ifRange;
        IfMatch = ifMatch;
        IfUnmodifiedSince = ifUnmodifiedSince;
    }

    /// <summary>Stands for a header sent with an empty value: matches no entity tag, date or range.</summary>
    public static ReadOnlySpan<byte> PresentButEmpty => "\0"u8;

    public ReadOnlySpan<byte> Range { get; }
    public ReadOnlySpan<byte> IfNoneMatch { get; }
    public ReadOnlySpan<byte> IfModifiedSince { get; }
    public ReadOnlySpan<byte> IfRange { get; }
    public ReadOnlySpan<byte> IfMatch { get; }
    public ReadOnlySpan<byte> IfUnmodifiedSince { get; }
}
