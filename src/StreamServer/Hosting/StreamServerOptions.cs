namespace StreamServer.Hosting;

/// <summary>
/// Every setting, bound from the "StreamServer" section (appsettings.json, StreamServer__* env vars,
/// command line). docs/configuration.md lists every one (a test fails when a setting is missing there).
/// </summary>
public sealed class StreamServerOptions
{
    public const string Section = "StreamServer";

    /// <summary>Library root: vod/, jobs/, uploads/, tls/ live below it.</summary>
    public string DataDir { get; set; } = "data";

    /// <summary>Address the listeners bind to.</summary>
    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>Cleartext HTTP/1.1 + h2c (prior knowledge). 0 picks a free port.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>TLS with ALPN h2 + http/1.1. 0 picks a free port; -1 disables TLS.</summary>
    public int HttpsPort { get; set; } = 8443;

    /// <summary>RTMP ingest port (rtmp://host:port/live/{channel}?key=...); -1 = off.</summary>
    public int RtmpPort { get; set; } = 1935;

    /// <summary>Live channels: StreamServer:Live:*.</summary>
    public global::StreamServer.Live.LiveOptions Live { get; set; } = new();

    /// <summary>PFX certificate; empty = self-signed certificate generated into DataDir/tls at first start.</summary>
    public string CertificatePath { get; set; } = "";

    public string CertificatePassword { get; set; } = "";

    /// <summary>Bearer token for /api; empty = generated into DataDir/admin-token at first start and printed.</summary>
    public string AdminToken { get; set; } = "";

    /// <summary>Folders a POST /api/vod "source" path may come from (besides DataDir/uploads).</summary>
    public string[] ImportRoots { get; set; } = [];

    /// <summary>Allow "source" to be an http(s) URL, downloaded into uploads/ before packaging.</summary>
    public bool AllowUrlSources { get; set; } = true;

    /// <summary>
    /// Host names (exact) or address ranges ("10.1.0.0/16", "192.168.1.20") a URL source may reach although they are
    /// loopback, private, link-local or otherwise internal; empty = public addresses only.
    /// </summary>
    public string[] UrlSourceAllowedHosts { get; set; } = [];

    public long MaxUploadBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>
    /// On SIGTERM the listeners close at once and responses in flight may finish for this long; connections still open
    /// then are closed (nginx's worker_shutdown_timeout). A running packaging job is cancelled, its output removed.
    /// </summary>
    public int ShutdownTimeoutSeconds { get; set; } = 30;

    /// <summary>Packaging jobs running at once; the rest wait in the queue.</summary>
    public int JobConcurrency { get; set; } = 1;

    /// <summary>Generate and package the synthetic sample when the library is empty.</summary>
    public bool GenerateSample { get; set; } = true;

    public int SampleSeconds { get; set; } = 24;

    public global::StreamServer.Admin.PackagingDefaults Packaging { get; set; } = new();

    /// <summary>Sockets, transport memory and slow receivers: StreamServer:Transport:*.</summary>
    public global::StreamServer.Transport.TransportOptions Transport { get; set; } = new();

    /// <summary>HTTP/1.1 request limits and the zero-copy path: StreamServer:Http1:*.</summary>
    public global::StreamServer.Http1.Http1Options Http1 { get; set; } = new();

    /// <summary>The served-file cache: StreamServer:Vod:*.</summary>
    public global::StreamServer.Vod.VodServingOptions Vod { get; set; } = new();

    /// <summary>eBPF tracers (retransmits, skb allocations, send stalls): StreamServer:Tracing:*.</summary>
    public global::StreamServer.Tracing.TracingOptions Tracing { get; set; } = new();

    /// <summary>Capacity of the memfd-backed buffer pool (frames, segments); fixed for the process lifetime.</summary>
    public int BufferPoolMegabytes { get; set; } = 256;

    /// <summary>
    /// How long a decoder waits for a free frame block when the pool is full (back-pressure on packaging); past it the
    /// job fails, and an on-demand thumbnail answers 503 with Retry-After.
    /// </summary>
    public int BufferPoolRentTimeoutMilliseconds { get; set; } = 5000;

    /// <summary>Posters, sprites + thumbnails.vtt at packaging, and on-demand thumb.jpg.</summary>
    public global::StreamServer.Thumbnails.ThumbnailOptions Thumbnails { get; set; } = new();

    /// <summary>Log format and the access log: StreamServer:Logging:*.</summary>
    public global::StreamServer.Logging.LoggingOptions Logging { get; set; } = new();

    /// <summary>The /metrics endpoint: StreamServer:Metrics:*.</summary>
    public global::StreamServer.Metrics.MetricsOptions Metrics { get; set; } = new();

    /// <summary>TLS policy of the HTTPS port: StreamServer:Tls:*.</summary>
    public global::StreamServer.Transport.TlsOptions Tls { get; set; } = new();
}
