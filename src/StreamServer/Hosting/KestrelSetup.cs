using System.Net;
using System.Security.Authentication;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StreamServer.Health;
using StreamServer.Http1;
using StreamServer.Transport;
using StreamServer.Vod;

namespace StreamServer.Hosting;

/// <summary>
/// Listeners (cleartext HTTP/1.1 + h2c on HttpPort, TLS with ALPN h2 + http/1.1 on HttpsPort; explicit --urls /
/// ASPNETCORE_URLS win) and every place the server bends Kestrel or the runtime under it. Each bend is here and only
/// here, behind its setting, and /healthz reports which are in effect (subsystem "kestrel"):
/// <list type="bullet">
/// <item>Transport:InlineSocketCompletions: the runtime's socket engine switch (an environment variable read once).</item>
/// <item>Transport:InlineSocketScheduling, Transport:MaxWriteBufferBytes: the socket transport's options (one UseSockets).</item>
/// <item>Transport:BlockBytes: Kestrel's IMemoryPoolFactory replaced by our accounted pools.</item>
/// <item>Transport:DirectSocketSend: the connection's output pipe swapped for our gathered sendmsg (<see cref="SocketSendPipe"/>).</item>
/// <item>Http1:H2cPriorKnowledge: an internal Kestrel feature set by reflection (<see cref="H2cPriorKnowledge"/>).</item>
/// <item>Http1:RejectBareLineFeed: Kestrel's AppContext switch, so both HTTP/1.1 paths refuse a bare LF.</item>
/// </list>
/// </summary>
internal static class KestrelSetup
{
    private const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
    private const string BareLineFeedSwitch = "Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators";

    public static void Configure(WebApplicationBuilder builder, StreamServerOptions options, DataLayout layout)
    {
        var transport = options.Transport;
        var http1 = options.Http1;

        // Runs socket completions on the epoll threads (one per core) instead of queueing each to the thread pool: the
        // event-loop shape nginx has (bench/profile-serve.sh: CPU per 1 MiB segment -13 %, per playlist -26 %). The
        // runtime reads the variable once, when its socket engine starts: this takes effect only if no socket exists
        // yet (true when the server is the process). An explicit environment setting wins.
        var completions = Environment.GetEnvironmentVariable(InlineCompletionsVariable);
        if (transport.InlineSocketCompletions && completions is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }

        // RFC 9112 2.2 lets a server accept a bare LF; request smuggling lives in such leniencies, and the zero-copy
        // parser hands a bare LF to Kestrel, so Kestrel must refuse it too for both paths to agree.
        if (http1.RejectBareLineFeed)
        {
            AppContext.SetSwitch(BareLineFeedSwitch, true);
        }

        builder.WebHost.UseSockets(sockets =>
        {
            sockets.UnsafePreferInlineScheduling = transport.InlineSocketScheduling;
            sockets.MaxWriteBufferSize = transport.MaxWriteBufferBytes;
        });

        var accounting = new TransportMemoryAccounting(transport);
        builder.Services.AddSingleton(_ => accounting); // factory-made: the container disposes it (its meter) with the host
        builder.Services.AddSingleton<IWholeBodyGate>(new WholeBodyGate(transport, accounting));
        if (transport.BlockBytes > 0)
        {
            // The socket transport takes its pools from the IMemoryPoolFactory<byte> service (UseSockets wires
            // SocketTransportOptions.MemoryPoolFactory, whose setter is internal, to it); Kestrel registers its own 4 KiB
            // PinnedBlockMemoryPool factory there, which this replaces.
            builder.Services.RemoveAll<IMemoryPoolFactory<byte>>();
            builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(new TransportMemoryPoolFactory(transport.BlockBytes, accounting));
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            var limits = kestrel.Limits; // the same named settings the zero-copy parser uses
            limits.MaxRequestLineSize = http1.MaxRequestLineBytes;
            limits.MaxRequestHeadersTotalSize = http1.MaxRequestHeadersBytes;
            limits.MaxRequestHeaderCount = http1.MaxRequestHeaderCount;
            limits.KeepAliveTimeout = TimeSpan.FromSeconds(http1.KeepAliveTimeoutSeconds);
            limits.RequestHeadersTimeout = TimeSpan.FromSeconds(http1.RequestHeadersTimeoutSeconds);
            limits.MinResponseDataRate = new MinDataRate(transport.MinResponseDataRateBytesPerSecond, TimeSpan.FromSeconds(5));
            limits.MaxConcurrentConnections = transport.MaxConnections;

            var address = IPAddress.Parse(options.ListenAddress);
            kestrel.Listen(address, options.HttpPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.Use(next => new Http1ZeroCopyMiddleware(next, listen.ApplicationServices.GetRequiredService<VodFileCache>(),
                    listen.ApplicationServices.GetRequiredService<Live.LiveChannelRegistry>(), http1, transport,
                    listen.ApplicationServices.GetRequiredService<Logging.AccessLog>()).OnConnectionAsync);
            });
            if (options.HttpsPort >= 0)
            {
                var certificate = TlsCertificate.LoadOrCreate(options, layout);
                kestrel.Listen(address, options.HttpsPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.Use(next => connection => SocketSendPipe.RunAsync(connection, next, transport));
                    listen.UseHttps(https =>
                    {
                        https.ServerCertificate = certificate;
                        https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                        if (options.Tls.AeadCiphersOnly)
                        {
                            var policy = TlsCipherPolicy.AeadOnly;
                            https.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = policy;
                        }
                    });
                    listen.Use(next => connection => FirstRequestDeadline.RunAsync(connection, next, http1));
                });
            }
        });

        var report = new
        {
            inlineSocketCompletions = completions is null ? transport.InlineSocketCompletions : completions == "1",
            inlineSocketCompletionsFromEnvironment = completions is not null,
            inlineSocketScheduling = transport.InlineSocketScheduling,
            maxWriteBufferBytes = transport.MaxWriteBufferBytes,
            transportPoolBlockBytes = Math.Max(0, transport.BlockBytes), // 0: Kestrel's own pool
            directSocketSend = transport.DirectSocketSend,
            h2cPriorKnowledge = http1.H2cPriorKnowledge && H2cPriorKnowledge.Supported,
            rejectBareLineFeed = http1.RejectBareLineFeed,
            zeroCopyHttp1 = http1.ZeroCopy,
        };
        builder.Services.AddSingleton(new KestrelReport(() => http1.H2cPriorKnowledge && !H2cPriorKnowledge.Supported
            ? new SubsystemHealth(HealthState.Degraded, "this Kestrel has no per-connection HttpProtocolsFeature: the cleartext port speaks HTTP/1.1 only", report)
            : new SubsystemHealth(HealthState.Ok, null, report)));
    }

    /// <summary>What <see cref="Configure"/> put in effect, as the /healthz probe "kestrel".</summary>
    internal sealed record KestrelReport(Func<SubsystemHealth> Probe);
}
