namespace StreamServer.Http1;

internal enum Http1ParseStatus
{
    /// <summary>The head is not complete yet and within limits: read more.</summary>
    Incomplete,

    /// <summary>A well-formed GET/HEAD the zero-copy path may answer.</summary>
    Complete,

    /// <summary>
    /// Anything else (other methods, bodies, upgrades, anything malformed or over a limit): Kestrel's
    /// HTTP/1.1 stack gets the connection with these bytes unread and answers it (including the
    /// 400 / 414 / 431 and connection close for malformed input).
    /// </summary>
    HandOff,
}
