using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using StreamServer.Hosting;
using StreamServer.Vod;

namespace StreamServer.Http1;

/// <summary>
/// Connection middleware on the cleartext endpoint (ListenOptions.Use), in front of Kestrel's HTTP
/// stack. It reads requests from the connection's transport pipe and answers media GET/HEAD itself,
/// straight into the socket (<see cref="Http1ZeroCopyConnection"/>); the first request that is
/// anything else, and the HTTP/2 prior-knowledge preface, hands the connection to Kestrel with the
/// unread bytes left in the pipe (Kestrel's HTTP/1.1 or HTTP/2 then reads them as if nothing had
/// happened). With ZeroCopyHttp1 off it only does the h2c preface detection.
/// </summary>
internal sealed class Http1ZeroCopyMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly VodFileCache _cache;
    private readonly HttpServingOptions _options;

    public Http1ZeroCopyMiddleware(ConnectionDelegate next, VodFileCache cache, Live.LiveChannelRegistry channels, HttpServingOptions options)
    {
        _next = next;
        _cache = cache;
        Channels = channels;
        _options = options;
    }

    /// <summary>Live channels, whose viewers the requests for their files are counted in.</summary>
    internal Live.LiveChannelRegistry Channels { get; }

    internal ConnectionDelegate Next => _next;
    internal VodFileCache Cache => _cache;
    internal HttpServingOptions Options => _options;

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        return new Http1ZeroCopyConnection(this, connection, socket, serveMedia: _options.ZeroCopyHttp1 && socket is not null).RunAsync();
    }
}
