namespace StreamServer.LoadTest.Stats;

/// <summary>Why a request failed, in the classes an operator acts on differently.</summary>
internal enum ErrorKind
{
    /// <summary>An answer that is not 2xx (the status is counted too).</summary>
    Status,

    /// <summary>No complete answer within the request timeout.</summary>
    Timeout,

    /// <summary>The connection was reset or closed before the answer was complete.</summary>
    Reset,

    /// <summary>No connection could be opened.</summary>
    Connect,

    /// <summary>A live media playlist that breaks a rule of RFC 8216bis (with --validate).</summary>
    Invalid,
}
