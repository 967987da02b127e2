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
/// <param name="sourceName">What the operator calls the source (an upload's file name); by default the source's own file name.</param>
public sealed class VodJob(string id, string source, bool deleteSourceWhenDone, string? sourceName = null)
{
    public string Id { get; } = id;
    public string Source { get; } = source;

    /// <summary>The source's name in messages: uploads and downloads are stored under random names the operator never saw.</summary>
    public string SourceName { get; } = sourceName ?? NameOf(source);

    /// <summary>Uploaded sources are ours to delete once packaged (or failed).</summary>
    public bool DeleteSourceWhenDone { get; } = deleteSourceWhenDone;

    public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;
    public CancellationTokenSource Cancellation { get; } = new();

    private int _state = (int)VodJobState.Queued;

    public VodJobState State
    {
        get => (VodJobState)Volatile.Read(ref _state);
        set => Volatile.Write(ref _state, (int)value);
    }

    /// <summary>Queued -> <paramref name="to"/>, only if still queued (a worker starting it and a DELETE race for it).</summary>
    public bool TryLeaveQueue(VodJobState to) => Interlocked.CompareExchange(ref _state, (int)to, (int)VodJobState.Queued) == (int)VodJobState.Queued;

    /// <summary>http(s) sources are downloaded into uploads/ first.</summary>
    public bool IsUrl => Source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || Source.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public double Progress { get; set; }
    public double Fps { get; set; }
    public double Speed { get; set; }
    public string? Error { get; set; }

    public bool IsFinished => State is VodJobState.Succeeded or VodJobState.Failed or VodJobState.Cancelled;

    /// <summary><paramref name="message"/> with the file name of <paramref name="localFile"/> (what FFmpeg opened) replaced by
    /// <see cref="SourceName"/>.</summary>
    public string NameSource(string message, string localFile)
    {
        var stored = Path.GetFileName(localFile);
        return stored.Length > 0 && stored != SourceName ? message.Replace(stored, SourceName, StringComparison.Ordinal) : message;
    }

    private static string NameOf(string source) =>
        Uri.TryCreate(source, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? (Path.GetFileName(uri.AbsolutePath) is { Length: > 0 } name ? Uri.UnescapeDataString(name) : uri.Host)
            : Path.GetFileName(source);
}
