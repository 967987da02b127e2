using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using StreamServer.Metrics;

namespace StreamServer.Logging;

/// <summary>
/// One answered request, as the serving paths hand it over: references and numbers they already hold, so recording it
/// allocates nothing; the writer formats it later.
/// </summary>
/// <param name="Path">The request path with its query, if any; the zero-copy path's file keys have no leading '/', which the writer adds.</param>
/// <param name="RequestNumber">The request's number on its connection, for the zero-copy path: with <paramref name="ConnectionId"/>
/// it forms the request id "{connection}.{number:X8}" (a dot where Kestrel's TraceIdentifier has a colon, since Kestrel numbers
/// the requests of a connection handed to it from 1 again). Zero when <paramref name="RequestId"/> is set.</param>
internal readonly record struct AccessLogEntry(DateTimeOffset Time, string Method, string Path, string Protocol, int Status, long Bytes,
    double DurationMs, string ConnectionId, long RequestNumber, string? RequestId, EndPoint? Remote);

/// <summary>
/// The access log: off the hot path by construction. Serving threads put a struct into a bounded queue (never waiting:
/// when the writer falls behind, entries are dropped and counted in streamserver_access_log_dropped_total); one
/// background task writes JSON lines in batches to a file or standard output.
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    private static long s_dropped;
    private static readonly ObservableCounter<long> Dropped = ServerMetrics.Meter.CreateObservableCounter(
        "streamserver_access_log_dropped_total", static () => Interlocked.Read(ref s_dropped),
        description: "Access-log entries dropped because the writer fell behind (the serving path never waits for it).");

    private readonly Channel<AccessLogEntry>? _queue;
    private readonly Task _writer = Task.CompletedTask;

    public AccessLog(LoggingOptions options, DataLayout layout)
    {
        Enabled = options.AccessLog;
        if (!Enabled)
        {
            return;
        }

        _ = Dropped;
        _queue = Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(Math.Max(1, options.AccessLogQueueEntries))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, static _ => Interlocked.Increment(ref s_dropped));
        Stream output;
        if (options.AccessLogFile == "-")
        {
            output = Console.OpenStandardOutput();
        }
        else
        {
            var path = options.AccessLogFile.Length > 0 ? options.AccessLogFile : Path.Combine(layout.DataDir, "logs", "access.log");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            output = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 64 * 1024);
        }

        _writer = Task.Run(() => WriteAsync(_queue.Reader, output));
    }

    public bool Enabled { get; }

    /// <summary>Queues one entry; never blocks (a full queue drops it and counts the drop).</summary>
    public void Record(in AccessLogEntry entry) => _queue?.Writer.TryWrite(entry);

    private static async Task WriteAsync(ChannelReader<AccessLogEntry> reader, Stream output)
    {
        await using var _ = output;
        using var json = new Utf8JsonWriter(output);
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var e))
            {
                json.WriteStartObject();
                json.WriteString("time", e.Time.UtcDateTime);
                json.WriteString("requestId", e.RequestId ?? $"{e.ConnectionId}.{e.RequestNumber:X8}");
                json.WriteString("remote", e.Remote?.ToString());
                json.WriteString("method", e.Method);
                json.WriteString("path", e.Path.StartsWith('/') ? e.Path : "/" + e.Path);
                json.WriteString("protocol", e.Protocol);
                json.WriteNumber("status", e.Status);
                if (e.Bytes >= 0)
                {
                    json.WriteNumber("bytes", e.Bytes);
                }

                json.WriteNumber("durationMs", Math.Round(e.DurationMs, 3));
                json.WriteEndObject();
                await json.FlushAsync();
                json.Reset();
                output.WriteByte((byte)'\n');
            }

            await output.FlushAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue?.Writer.TryComplete();
        await _writer;
    }
}
