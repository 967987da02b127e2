using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.RawQps;

/// <summary>What one request ended as: a status and the body bytes read, or an error.</summary>
internal readonly record struct RequestOutcome(int Status, long Bytes, ErrorKind? Error, string? Message);

/// <summary>One raw-qps worker's way to send the run's GET: its own HTTP/1.1 connection, or a stream on a shared HTTP/2 one.</summary>
internal interface IRawRequester : IDisposable
{
    /// <summary>Sends the GET and reads the whole answer. Throws OperationCanceledException only when the run ends.</summary>
    ValueTask<RequestOutcome> GetAsync();
}
