namespace StreamServer.Metrics;

public sealed class MetricsOptions
{
    /// <summary>Ask for the admin bearer token on /metrics (scrapers send it as bearer_token); off: /metrics is open like /healthz.</summary>
    public bool RequireToken { get; set; }
}
