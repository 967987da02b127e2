using System.Net;
using System.Net.Sockets;
using StreamServer.Hosting;

namespace StreamServer.Admin;

/// <summary>
/// Fetches an http(s) source into the uploads folder before packaging, so FFmpeg only ever opens a local file. Every
/// connection (the first and each redirect's) goes through <see cref="ConnectAsync"/>, which resolves the host itself and
/// connects only to an address <see cref="UrlAddressPolicy"/> allows; no proxy, at most 5 redirects, at most
/// MaxUploadBytes. The file appears under its final name only when complete.
/// </summary>
public sealed class UrlSourceDownloader : IDisposable
{
    private readonly HttpClient _client;
    private readonly UrlAddressPolicy _policy;
    private readonly VodLibrary _library;
    private readonly long _maxBytes;

    public UrlSourceDownloader(StreamServerOptions options, VodLibrary library)
    {
        _policy = new UrlAddressPolicy(options.UrlSourceAllowedHosts);
        _library = library;
        _maxBytes = options.MaxUploadBytes;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 5,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            ConnectCallback = ConnectAsync,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Refuses a URL whose host is an address literal the policy does not allow (names are checked at connect).</summary>
    public string? RefusalOf(Uri uri)
    {
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && IPAddress.TryParse(uri.IdnHost, out var literal) && _policy.Refusal(literal) is { } kind)
        {
            return $"URL source refused: {uri.IdnHost} is {kind} address (StreamServer:UrlSourceAllowedHosts)";
        }

        return null;
    }

    /// <summary>Downloads <paramref name="url"/> to a new file in the uploads folder and returns its path.</summary>
    public async Task<string> DownloadAsync(string url, CancellationToken ct)
    {
        var uri = new Uri(url);
        var stem = Path.Combine(_library.UploadsDir, Guid.NewGuid().ToString("N"));
        var part = stem + ".part";
        try
        {
            using var response = await _client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"URL source answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            if (response.Content.Headers.ContentLength > _maxBytes)
            {
                throw new HttpRequestException($"URL source is larger than {_maxBytes} bytes (StreamServer:MaxUploadBytes)");
            }

            await using (var body = await response.Content.ReadAsStreamAsync(ct))
            await using (var file = new FileStream(part, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await body.ReadAsync(buffer, ct)) > 0)
                {
                    if (file.Length + n > _maxBytes)
                    {
                        throw new HttpRequestException($"URL source is larger than {_maxBytes} bytes (StreamServer:MaxUploadBytes)");
                    }

                    await file.WriteAsync(buffer.AsMemory(0, n), ct);
                }
            }

            var extension = Path.GetExtension(response.RequestMessage?.RequestUri?.AbsolutePath ?? uri.AbsolutePath).ToLowerInvariant();
            var path = stem + (extension is { Length: > 1 and <= 8 } ? extension : ".bin");
            File.Move(part, path);
            return path;
        }
        catch
        {
            File.Delete(part);
            throw;
        }
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var named = _policy.IsAllowedHost(host);
        string? refusal = null;
        foreach (var address in addresses)
        {
            var kind = named ? null : _policy.Refusal(address);
            if (kind is not null)
            {
                refusal ??= $"URL source refused: {host} resolves to {kind} address {address} (StreamServer:UrlSourceAllowedHosts)";
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException)
            {
                socket.Dispose();
            }
        }

        throw new HttpRequestException(refusal ?? $"URL source {host}:{context.DnsEndPoint.Port} could not be reached");
    }

    public void Dispose() => _client.Dispose();
}
