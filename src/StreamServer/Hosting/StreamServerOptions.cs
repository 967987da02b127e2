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

    /// <summary>Packaging jobs running at once; the rest wait in the queue.</summary>
    public int JobConcurrency { get; set; } = 1;

    /// <summary>Generate and package the synthetic sample when the library is empty.</summary>
    public bool GenerateSample { get; set; } = true;

    public int SampleSeconds { get; set; } = 24;

    public PackagingDefaults Packaging { get; set; } = new();

    /// <summary>HTTP limits, timeouts and the file cache of the serving paths.</summary>
    public HttpServingOptions Serving { get; set; } = new();

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
    public StreamServer.Vod.ThumbnailSettings Thumbnails { get; set; } = new();

    /// <summary>The /metrics endpoint: StreamServer:Metrics:*.</summary>
    public MetricsOptions Metrics { get; set; } = new();

    /// <summary>TLS policy of the HTTPS port: StreamServer:Tls:*.</summary>
    public TlsOptions Tls { get; set; } = new();
}

public sealed class MetricsOptions
{
    /// <summary>Ask for the admin bearer token on /metrics (scrapers send it as bearer_token); off: /metrics is open like /healthz.</summary>
    public bool RequireToken { get; set; }
}

public sealed class TlsOptions
{
    /// <summary>
    /// Offer only AEAD cipher suites (TLS 1.3 suites and ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2), none of the
    /// CBC ones; false leaves the choice to the system's OpenSSL defaults.
    /// </summary>
    public bool AeadCiphersOnly { get; set; } = true;

    /// <summary>
    /// Strict-Transport-Security max-age on HTTPS responses, in seconds; 0 sends none. Off by default: with the generated
    /// self-signed certificate, HSTS would lock browsers out rather than protect them.
    /// </summary>
    public int HstsMaxAgeSeconds { get; set; }
}

public sealed class PackagingDefaults
{
    /// <summary>
    /// Rendition heights. Empty = the packager's default ladder: the configuration binder appends bound
    /// array items to an initialised array, so a default here could never be replaced, only extended.
    /// </summary>
    public int[] Ladder { get; set; } = [];

    /// <summary>libx264 preset; unset = the packager's default.</summary>
    public string? Preset { get; set; }

    /// <summary>Segment (and GOP) length; unset = the packager's default.</summary>
    public double? SegmentSeconds { get; set; }

    /// <summary>The packager's options with what is configured here; the rest keeps PackagingOptions' defaults (the one place they are defined).</summary>
    public Transcode.PackagingOptions ToPackagingOptions()
    {
        var defaults = new Transcode.PackagingOptions();
        return defaults with
        {
            Ladder = Ladder.Length > 0 ? Ladder : defaults.Ladder,
            Preset = Preset ?? defaults.Preset,
            SegmentSeconds = SegmentSeconds ?? defaults.SegmentSeconds,
        };
    }
}
