using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace StreamServer.Http1;

/// <summary>
/// Makes Kestrel speak HTTP/2 on a cleartext Http1AndHttp2 connection whose first bytes are the
/// HTTP/2 client preface (prior knowledge, RFC 9113 3.3).
///
/// Why not ITlsApplicationProtocolFeature("h2") (the lead in aspnetcore issue 56984): Kestrel's
/// HttpConnection.SelectProtocol computes hasTls from ITlsConnectionFeature, and on a connection
/// without it returns Http1 whenever the endpoint allows Http1 ("ambiguous without ALPN") before the
/// ALPN value is ever looked at. Faking ITlsConnectionFeature as well would flip the request scheme to
/// https and trip the :scheme check. What HttpConnectionMiddleware does read per connection is the
/// internal HttpProtocolsFeature (set by the TLS middleware for SNI-specific protocols): with
/// Http2 only there, SelectProtocol picks HTTP/2 for the cleartext connection and the scheme stays
/// http. The type is internal, hence reflection, resolved once; if a future Kestrel renames it,
/// <see cref="Supported"/> is false, the connection stays HTTP/1.1 (the preface then gets Kestrel's
/// own answer) and /healthz reports it.
/// </summary>
internal static class H2cPriorKnowledge
{
    private static readonly Type? FeatureType =
        typeof(KestrelServerOptions).Assembly.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.Internal.HttpProtocolsFeature");

    private static readonly object? Http2Only = FeatureType?.GetConstructor(
        BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, [typeof(HttpProtocols)])?.Invoke([HttpProtocols.Http2]);

    /// <summary>"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>The preface's first line: a connection starting with it is an HTTP/2 client, whatever follows.</summary>
    public static ReadOnlySpan<byte> PrefaceRequestLine => "PRI * HTTP/2.0\r\n"u8;

    public static bool Supported => Http2Only is not null;

    /// <summary>Declares HTTP/2 for this connection; call before handing it to Kestrel.</summary>
    public static bool Select(ConnectionContext connection)
    {
        if (FeatureType is null || Http2Only is null)
        {
            return false;
        }

        connection.Features[FeatureType] = Http2Only;
        return true;
    }
}
