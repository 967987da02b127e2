using System.Net.Security;

namespace StreamServer.Hosting;

/// <summary>
/// The cipher suites the HTTPS port offers when StreamServer:Tls:AeadCiphersOnly is on: TLS 1.3's three, and for TLS 1.2
/// only forward-secret ECDHE with AES-GCM or ChaCha20-Poly1305 (ECDSA for the generated certificate, RSA for configured
/// ones). No CBC suite (Lucky13-style padding oracles), no static RSA key exchange, no SHA-1 MACs.
/// </summary>
internal static class TlsCipherPolicy
{
    public static readonly TlsCipherSuite[] AeadSuites =
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    public static CipherSuitesPolicy AeadOnly { get; } = new(AeadSuites);
}
