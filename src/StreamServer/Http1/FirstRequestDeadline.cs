using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace StreamServer.Http1;

/// <summary>
/// Kestrel waits for a connection's first request with the keep-alive timeout, and does not start the request-head
/// timer for empty lines. On the TLS port (after the handshake) this connection middleware holds the connection until
/// the first byte that is not part of an empty line, within <see cref="Http1Options.RequestHeadersTimeoutSeconds"/>,
/// like the cleartext zero-copy path does: a connection that sends nothing (or only CRLFs) is closed at that deadline
/// instead of occupying a slot for the keep-alive timeout. Once per connection; requests never pass through it.
/// </summary>
internal static class FirstRequestDeadline
{
    public static async Task RunAsync(ConnectionContext connection, ConnectionDelegate next, Http1Options serving)
    {
        var input = connection.Transport.Input;
        var sawEmptyLines = false;
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(serving.RequestHeadersTimeoutSeconds)))
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    if (sawEmptyLines)
                    {
                        // What Kestrel answers a request head that did not complete in time.
                        await RequestTimeoutAsync(connection.Transport.Output);
                    }

                    return;
                }
                catch (IOException)
                {
                    return;
                }

                var buffer = result.Buffer;
                var start = SkipEmptyLines(buffer, out var partialLine);
                sawEmptyLines |= !start.Equals(buffer.Start);
                if (buffer.Slice(start).Length > (partialLine ? 1 : 0))
                {
                    input.AdvanceTo(start); // examined nothing of the request: Kestrel's first read sees it at once
                    break;
                }

                input.AdvanceTo(start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }

        await next(connection);
    }

    // RFC 9112 2.2: empty lines before the request line are ignored. A trailing lone CR may be the start of one more.
    private static SequencePosition SkipEmptyLines(in ReadOnlySequence<byte> buffer, out bool partialLine)
    {
        var reader = new SequenceReader<byte>(buffer);
        partialLine = false;
        while (reader.TryPeek(out var b) && b == (byte)'\r')
        {
            if (!reader.TryPeek(1, out var lf))
            {
                partialLine = true;
                break;
            }

            if (lf != (byte)'\n')
            {
                break;
            }

            reader.Advance(2);
        }

        return reader.Position;
    }

    private static async Task RequestTimeoutAsync(PipeWriter output)
    {
        output.Advance(Http1ResponseHead.WriteRequestTimeout(output.GetSpan(Http1ResponseHead.RequestTimeoutBytes)));
        await output.FlushAsync();
    }
}
