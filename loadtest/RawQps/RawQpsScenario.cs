using System.Diagnostics;
using System.Runtime.CompilerServices;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.RawQps;

/// <summary>How a raw-qps run is loaded.</summary>
/// <param name="Connections">Keep-alive connections; HTTP/1.1 has one worker on each, HTTP/2 <paramref name="Streams"/>.</param>
/// <param name="RatePerSecond">0: closed model, every connection sends its next request as soon as the last is answered
/// (wrk's shape). Above 0: open model, requests are due at a fixed rate whatever the server does, and each latency runs
/// from the moment its request was due, so a slow answer counts against every request that waited behind it.</param>
/// <param name="Http2">HTTP/2 (h2 on https://, h2c on http://) with <paramref name="Streams"/> requests in flight per connection.</param>
internal sealed record RawQpsOptions(Uri Url, int Connections, double RatePerSecond, TimeSpan Duration, TimeSpan Timeout, bool Http2 = false, int Streams = 1);

/// <summary>One URL as fast as the connections go (or at a fixed rate): the wrk- and h2load-comparable scenario.</summary>
internal static class RawQpsScenario
{
    public static async Task<LatencyRecorder> RunAsync(RawQpsOptions options, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
        var ticksPerRequest = options.RatePerSecond > 0 ? Stopwatch.Frequency / options.RatePerSecond : 0;
        var next = new StrongBox<long>(0);
        var streams = options.Http2 ? options.Streams : 1;
        var recorders = new LatencyRecorder[options.Connections * streams];
        var workers = new Task[recorders.Length];
        var http2Connections = new Http2Connection?[options.Connections];
        stop.CancelAfter(options.Duration + TimeSpan.FromSeconds(1)); // requests still open a second after the end are abandoned
        for (var i = 0; i < workers.Length; i++)
        {
            var recorder = recorders[i] = new LatencyRecorder();
            IRawRequester requester = options.Http2
                ? (http2Connections[i / streams] ??= new Http2Connection(options.Url, options.Timeout, stop.Token)).OpenStream()
                : new Http1Connection(options.Url, options.Timeout, stop.Token);
            workers[i] = Task.Run(() => WorkAsync(requester, recorder, start, deadline, ticksPerRequest, next, stop.Token), CancellationToken.None);
        }

        await Task.WhenAll(workers);
        foreach (var c in http2Connections)
        {
            c?.Dispose();
        }

        var total = new LatencyRecorder();
        foreach (var r in recorders)
        {
            total.Add(r);
        }

        return total;
    }

    private static async Task WorkAsync(IRawRequester requester, LatencyRecorder recorder, long start, long deadline, double ticksPerRequest,
        StrongBox<long> next, CancellationToken stop)
    {
        using var connection = requester;
        try
        {
            while (true)
            {
                long due;
                if (ticksPerRequest > 0)
                {
                    // Open model: the next due time of the whole run, whoever is free to take it.
                    due = start + (long)(Interlocked.Increment(ref next.Value) * ticksPerRequest);
                    if (due >= deadline)
                    {
                        return;
                    }

                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait > TimeSpan.FromMilliseconds(1))
                    {
                        await Task.Delay(wait, stop);
                    }
                }
                else
                {
                    due = Stopwatch.GetTimestamp();
                    if (due >= deadline)
                    {
                        return;
                    }
                }

                var outcome = await connection.GetAsync();
                var micros = (long)Stopwatch.GetElapsedTime(due).TotalMicroseconds;
                if (outcome.Error is { } error)
                {
                    recorder.Failure(error, outcome.Message ?? error.ToString(), outcome.Status);
                    if (error == ErrorKind.Connect)
                    {
                        await Task.Delay(10, stop); // a refused connection must not become a busy loop
                    }
                }
                else
                {
                    recorder.Success(micros, outcome.Bytes);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }
}
