using System.Net;
using System.Net.Sockets;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.RawQps;

/// <summary>
/// One stream at a time on a shared h2 connection over TLS (https://; h2c is <see cref="H2cConnection"/>), the
/// way h2load's -m streams share a client: several requesters over one <see cref="Connection"/>. SocketsHttpHandler
/// does the framing; its per-request cost is the tool's, measured and reported like any other.
/// </summary>
internal sealed class Http2Requester(HttpMessageInvoker connection, Uri url, TimeSpan timeout, CancellationToken stop) : IRawRequester
{
    private readonly byte[] _drain = new byte[64 * 1024];
    private CancellationTokenSource _timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);

    /// <summary>One HTTP/2 connection: a handler that never opens a second one, so streams really share it.</summary>
    public static HttpMessageInvoker Connection() => new(new SocketsHttpHandler
    {
        EnableMultipleHttp2Connections = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
    });

    public async ValueTask<RequestOutcome> GetAsync()
    {
        stop.ThrowIfCancellationRequested();
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        }

        _timeout.CancelAfter(timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await connection.SendAsync(request, _timeout.Token);
            await using var body = await response.Content.ReadAsStreamAsync(_timeout.Token);
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(_drain, _timeout.Token)) > 0)
            {
                total += read;
            }

            var status = (int)response.StatusCode;
            return status is >= 200 and < 300
                ? new RequestOutcome(status, total, null, null)
                : new RequestOutcome(status, total, ErrorKind.Status, $"GET {url.PathAndQuery}: {status}");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            return new RequestOutcome(0, 0, ErrorKind.Timeout, $"GET {url.PathAndQuery}: no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            return new RequestOutcome(0, 0, ErrorKind.Connect, $"GET {url.PathAndQuery}: {e.Message}");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return new RequestOutcome(0, 0, ErrorKind.Reset, $"GET {url.PathAndQuery}: {e.Message}");
        }
    }

    public void Dispose() => _timeout.Dispose();
}
