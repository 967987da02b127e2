using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using StreamServer.Transport;
using StreamServer.Vod;

namespace StreamServer.Http1;

/// <summary>
/// Connection middleware on the cleartext endpoint (ListenOptions.Use), in front of Kestrel's HTTP
/// stack. It reads requests from the connection's transport pipe and answers media GET/HEAD itself,
/// straight into the socket (<see cref="Http1ZeroCopyConnection"/>); the first request that is
/// anything else, and the HTTP/2 prior-knowledge preface, hands the connection to Kestrel with the
/// unread bytes left in the pipe (Kestrel's HTTP/1.1 or HTTP/2 then reads them as if nothing had
/// happened). With Http1:ZeroCopy off it only does the h2c preface detection.
/// </summary>
internal sealed class Http1ZeroCopyMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly VodFileCache _cache;
    private readonly Http1Options _options;

    public Http1ZeroCopyMiddleware(ConnectionDelegate next, VodFileCache cache, Live.LiveChannelRegistry channels, Http1Options options, TransportOptions transport,
        Logging.AccessLog accessLog)
    {
        AccessLog = accessLog;
        _next = next;
        _cache = cache;
        Channels = channels;
        _options = options;
        Transport = transport;
        H2c = options.H2cPriorKnowledge && H2cPriorKnowledge.Supported;
    }

    /// <summary>Live channels, whose viewers the requests for their files are counted in.</summary>
    internal Live.LiveChannelRegistry Channels { get; }

    internal ConnectionDelegate Next => _next;
    internal VodFileCache Cache => _cache;
    internal Http1Options Options => _options;

    /// <summary>Where answered requests are logged when the access log is on.</summary>
    internal Logging.AccessLog AccessLog { get; }

    /// <summary>Send timeout and the send path of connections handed to Kestrel.</summary>
    internal TransportOptions Transport { get; }

    /// <summary>A connection that opens with the HTTP/2 preface is handed to Kestrel as HTTP/2 (Http1:H2cPriorKnowledge, when this Kestrel allows it).</summary>
    internal bool H2c { get; }

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        return new Http1ZeroCopyConnection(this, connection, socket, serveMedia: _options.ZeroCopy && socket is not null).RunAsync();
    }
}
