namespace StreamServer.Admin;

public enum VodJobState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>One packaging job. Written by its worker, read by the API: fields are replaced whole, never torn.</summary>
public sealed class VodJob(string id, string source, bool deleteSourceWhenDone)
{
    public string Id { get; } = id;
    public string Source { get; } = source;

    /// <summary>Uploaded sources are ours to delete once packaged (or failed).</summary>
    public bool DeleteSourceWhenDone { get; } = deleteSourceWhenDone;

    public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;
    public CancellationTokenSource Cancellation { get; } = new();

    public volatile VodJobState State = VodJobState.Queued;
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public double Progress { get; set; }
    public double Fps { get; set; }
    public double Speed { get; set; }
    public string? Error { get; set; }

    public bool IsFinished => State is VodJobState.Succeeded or VodJobState.Failed or VodJobState.Cancelled;
}
