using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;

namespace StreamServer.Tests.Security;

/// <summary>The HTTPS port offers TLS 1.2/1.3 with AEAD suites only; HSTS only when configured.</summary>
[Collection(ServerTestsCollection.Name)]
public class TlsPolicyTests
{
    [Fact]
    public async Task Cbc_suites_are_refused_and_aead_suites_accepted()
    {
        await using var server = await RunningServer.StartAsync(tls: true);
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server.HttpsUri!, SslProtocols.Tls12,
            [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384]));
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            await HandshakeAsync(server.HttpsUri!, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]));
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            await HandshakeAsync(server.HttpsUri!, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]));
        Assert.Equal(SslProtocols.Tls13, await ProtocolAsync(server.HttpsUri!));
    }

    [Fact]
    public async Task The_system_policy_still_offers_cbc_when_asked()
    {
        // Shows the test above can fail: with AeadCiphersOnly off, the same CBC-only client gets in.
        await using var server = await RunningServer.StartAsync(null, true, "--StreamServer:Tls:AeadCiphersOnly=false");
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
            await HandshakeAsync(server.HttpsUri!, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256]));
    }

    [Fact]
    public async Task Hsts_is_sent_over_https_only_and_only_when_configured()
    {
        await using (var plain = await RunningServer.StartAsync(tls: true))
        {
            using var h2 = plain.CreateHttp2Client();
            using var r = await h2.GetAsync("/healthz");
            Assert.False(r.Headers.Contains("Strict-Transport-Security"));
        }

        await using var server = await RunningServer.StartAsync(null, true, "--StreamServer:Tls:HstsMaxAgeSeconds=31536000");
        using var client = server.CreateHttp2Client();
        using var https = await client.GetAsync("/healthz");
        Assert.Equal("max-age=31536000", string.Join(",", https.Headers.GetValues("Strict-Transport-Security")));
        using var cleartext = server.CreateHttpClient();
        using var http = await cleartext.GetAsync("/healthz");
        Assert.False(http.Headers.Contains("Strict-Transport-Security"));
    }

    private static async Task<TlsCipherSuite> HandshakeAsync(Uri uri, SslProtocols protocols, TlsCipherSuite[] suites)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            CipherSuitesPolicy = new CipherSuitesPolicy(suites),
            RemoteCertificateValidationCallback = static (_, _, _, _) => true,
        });
        return ssl.NegotiatedCipherSuite;
    }

    private static async Task<SslProtocols> ProtocolAsync(Uri uri)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = static (_, _, _, _) => true,
        });
        return ssl.SslProtocol;
    }
}
