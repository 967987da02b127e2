using Microsoft.AspNetCore.Server.Kestrel.Core;
using StreamServer.Hosting;
using StreamServer.Vod;

namespace StreamServer.Http1;

/// <summary>Listener wiring: limits shared by both HTTP/1.1 paths, and the zero-copy connection middleware.</summary>
internal static class ZeroCopyListenerExtensions
{
    /// <summary>Kestrel's own limits from the same named settings the zero-copy parser uses.</summary>
    public static void ApplyServingLimits(this KestrelServerOptions kestrel, HttpServingOptions o)
    {
        // RFC 9112 2.2 lets a server accept a bare LF; we do not (request smuggling lives in such
        // leniencies), and neither path may differ: the zero-copy parser hands bare LF to Kestrel.
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);
        var limits = kestrel.Limits;
        limits.MaxRequestLineSize = o.MaxRequestLineBytes;
        limits.MaxRequestHeadersTotalSize = o.MaxRequestHeadersBytes;
        limits.MaxRequestHeaderCount = o.MaxRequestHeaderCount;
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(o.KeepAliveTimeoutSeconds);
        limits.RequestHeadersTimeout = TimeSpan.FromSeconds(o.RequestHeadersTimeoutSeconds);
        limits.MinResponseDataRate = new MinDataRate(o.MinResponseDataRateBytesPerSecond, TimeSpan.FromSeconds(5));
        limits.MaxConcurrentConnections = o.MaxConnections;
    }

    /// <summary>Puts the zero-copy HTTP/1.1 path (and h2c prior-knowledge detection) in front of Kestrel's HTTP stack.</summary>
    public static ListenOptions UseZeroCopyHttp1(this ListenOptions listen, HttpServingOptions options)
    {
        listen.Use(next =>
        {
            var cache = listen.ApplicationServices.GetRequiredService<VodFileCache>();
            var channels = listen.ApplicationServices.GetRequiredService<Live.LiveChannelRegistry>();
            return new Http1ZeroCopyMiddleware(next, cache, channels, options).OnConnectionAsync;
        });
        return listen;
    }
}
