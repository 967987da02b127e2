using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.Players;

/// <summary>
/// One player's HTTP: its own connections (a real viewer does not share them), every request timed to its first byte
/// and recorded by kind, bodies read through a per-player bandwidth cap, failures classified. Errors are recorded here
/// and reported to the caller as null / -1 so a player can carry on the way a real one retries.
/// </summary>
internal sealed class PlayerHttp(HttpClient http, Version version, double capBitsPerSecond, SwarmMetrics metrics)
{
    private const int DrainBytes = 64 * 1024;

    public SwarmMetrics Metrics => metrics;

    /// <summary>GET a playlist as text; null on failure.</summary>
    public async Task<string?> TextAsync(Uri uri, CancellationToken ct)
    {
        using var text = new MemoryStream();
        return await GetAsync(uri, RequestKind.Playlist, text, ct) < 0 ? null : Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
    }

    /// <summary>GET a media object and read it through the cap; its length, or -1 on failure.</summary>
    public Task<long> BodyAsync(Uri uri, RequestKind kind, CancellationToken ct) => GetAsync(uri, kind, null, ct);

    /// <summary>As <see cref="BodyAsync(Uri, RequestKind, CancellationToken)"/> for bytes [offset, offset + length) of it (a byte-range part); length -1 = all of it.</summary>
    public Task<long> BodyAsync(Uri uri, long offset, long length, RequestKind kind, CancellationToken ct) => GetAsync(uri, kind, null, ct, offset, length);

    /// <summary>One GET, timed to its first byte and recorded as <paramref name="kind"/>: the body is kept in
    /// <paramref name="keep"/> when given, else read through the bandwidth cap and dropped. Its length, or -1 on failure.</summary>
    private async Task<long> GetAsync(Uri uri, RequestKind kind, MemoryStream? keep, CancellationToken ct, long offset = 0, long length = -1)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            if (length > 0)
            {
                request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(offset, offset + length - 1);
            }

            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var ttfb = (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            if (!response.IsSuccessStatusCode)
            {
                metrics.Failure(ErrorKind.Status, $"GET {uri.PathAndQuery}: {(int)response.StatusCode}", (int)response.StatusCode);
                return -1;
            }

            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var reading = Stopwatch.GetTimestamp();
            // One buffer per request: a live viewer follows video and audio at once over the same PlayerHttp.
            var drain = System.Buffers.ArrayPool<byte>.Shared.Rent(DrainBytes);
            try
            {
                long total = 0;
                int read;
                while ((read = await body.ReadAsync(drain, ct)) > 0)
                {
                    total += read;
                    if (keep is not null)
                    {
                        keep.Write(drain, 0, read);
                    }
                    else if (capBitsPerSecond > 0)
                    {
                        // Read no faster than the cap: the socket buffer fills and TCP flow control slows the server, like a slow last mile.
                        var due = TimeSpan.FromSeconds(total * 8 / capBitsPerSecond) - Stopwatch.GetElapsedTime(reading);
                        if (due > TimeSpan.FromMilliseconds(2))
                        {
                            await Task.Delay(due, ct);
                        }
                    }
                }

                if (response.Content.Headers.ContentLength is { } expected && expected != total)
                {
                    metrics.Failure(ErrorKind.Reset, $"GET {uri.PathAndQuery}: {total} bytes of {expected}");
                    return -1;
                }

                metrics.Success(kind, ttfb, total);
                return total;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(drain);
            }
        }
        catch (LowLatencyHlsViolationException e)
        {
            metrics.Failure(ErrorKind.Invalid, $"GET {e.PathAndQuery}: {e.Problems[0]}");
            return -1;
        }
        catch (Exception e) when (Classify(e, ct) is { } errorKind)
        {
            metrics.Failure(errorKind, $"GET {uri.PathAndQuery}: {e.Message}");
            return -1;
        }
    }

    /// <summary>The error class of a failed request; null for the run's own cancellation, which is not an error.</summary>
    private static ErrorKind? Classify(Exception e, CancellationToken ct) => e switch
    {
        OperationCanceledException when ct.IsCancellationRequested => null,
        OperationCanceledException => ErrorKind.Timeout, // HttpClient.Timeout
        HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } } => ErrorKind.Connect,
        HttpRequestException or IOException => ErrorKind.Reset,
        _ => null,
    };
}
