using System.Threading.Tasks.Sources;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.RawQps;

/// <summary>
/// One request at a time on an <see cref="Http2Connection"/>. The request's completion is this object (a reusable value
/// task source), set by the connection's receive loop, so a request allocates nothing.
/// </summary>
internal sealed class Http2Stream(Http2Connection connection, CancellationToken stop) : IRawRequester, IValueTaskSource<RequestOutcome>
{
    private ManualResetValueTaskSourceCore<RequestOutcome> _completion;
    private int _pending;

    internal volatile int StreamId;
    internal int Status;
    internal long Bytes;
    internal long StartedAt;

    internal bool Pending => Volatile.Read(ref _pending) != 0;

    public ValueTask<RequestOutcome> GetAsync()
    {
        stop.ThrowIfCancellationRequested();
        return connection.IsOpen ? Start() : OpenThenStartAsync();
    }

    private async ValueTask<RequestOutcome> OpenThenStartAsync()
    {
        var error = await connection.OpenAsync();
        return error is null ? await Start() : new RequestOutcome(0, 0, ErrorKind.Connect, error);
    }

    private ValueTask<RequestOutcome> Start()
    {
        _completion.Reset();
        Status = 0;
        Bytes = 0;
        StartedAt = Environment.TickCount64;
        Volatile.Write(ref _pending, 1);
        if (!connection.TrySend(this, out var error) && Interlocked.Exchange(ref _pending, 0) != 0)
        {
            return new(new RequestOutcome(0, 0, ErrorKind.Reset, error));
        }

        return new(this, _completion.Version);
    }

    /// <summary>What the answer came to once its stream ended.</summary>
    internal RequestOutcome Outcome() => Status is >= 200 and < 300
        ? new(Status, Bytes, null, null)
        : new(Status, Bytes, ErrorKind.Status, $"status {Status}");

    /// <summary>Ends the request in flight; false when it already ended (answer, timeout and close race).</summary>
    internal bool TryComplete(RequestOutcome outcome)
    {
        if (Interlocked.Exchange(ref _pending, 0) == 0)
        {
            return false;
        }

        _completion.SetResult(outcome);
        return true;
    }

    internal void TryCancel(OperationCanceledException cancelled)
    {
        if (Interlocked.Exchange(ref _pending, 0) != 0)
        {
            _completion.SetException(cancelled);
        }
    }

    public RequestOutcome GetResult(short token) => _completion.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
    }
}
