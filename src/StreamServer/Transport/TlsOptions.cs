namespace StreamServer.Transport;

/// <summary>TLS policy of the HTTPS port (section "StreamServer:Tls").</summary>
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
