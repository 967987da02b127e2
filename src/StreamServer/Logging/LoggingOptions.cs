namespace StreamServer.Logging;

/// <summary>StreamServer:Logging:*: how the server logs.</summary>
public sealed class LoggingOptions
{
    /// <summary>"text" (one readable line per message) or "json" (one JSON object per line with UTC timestamps and scopes: request ids).</summary>
    public string Format { get; set; } = "text";

    /// <summary>Write one JSON line per answered request (both HTTP paths) from a background writer; off by default.</summary>
    public bool AccessLog { get; set; }

    /// <summary>Where the access log goes; empty = &lt;DataDir&gt;/logs/access.log, "-" = standard output.</summary>
    public string AccessLogFile { get; set; } = "";

    /// <summary>Entries queued for the writer; when it falls behind, further entries are dropped and counted, never waited for.</summary>
    public int AccessLogQueueEntries { get; set; } = 65536;
}
