using System.Net;
using System.Security.Authentication;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using StreamServer.Http1;

namespace StreamServer.Hosting;

/// <summary>
/// Listeners: cleartext HTTP/1.1 (+ h2c prior knowledge) on HttpPort, TLS with ALPN h2 + http/1.1 on
/// HttpsPort. Explicit --urls / ASPNETCORE_URLS are honoured instead when given.
/// </summary>
internal static class KestrelSetup
{
    public static void Configure(WebApplicationBuilder builder, StreamServerOptions options)
    {
        Transport.SocketEngineSettings.Apply(options.Serving.InlineSocketCompletions);
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = options.Serving.InlineSocketScheduling);
        Transport.TransportMemorySetup.UseTransportMemory(builder, options.Serving);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.ApplyServingLimits(options.Serving);
            var address = IPAddress.Parse(options.ListenAddress);
            kestrel.Listen(address, options.HttpPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseZeroCopyHttp1(options.Serving);
            });
            if (options.HttpsPort >= 0)
            {
                var certificate = TlsCertificate.LoadOrCreate(options);
                kestrel.Listen(address, options.HttpsPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.Use(next => connection => Transport.SocketSendPipe.RunAsync(connection, next, options.Serving));
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
                    listen.Use(next => connection => FirstRequestDeadline.RunAsync(connection, next, options.Serving));
                });
            }
        });
    }
}
