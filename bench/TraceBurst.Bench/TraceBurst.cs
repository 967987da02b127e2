using System.Diagnostics;
using System.Globalization;
using StreamServer.Interop;
using StreamServer.Tracing;

namespace StreamServer.TraceBurst.Bench;

/// <summary>
/// Ring-buffer throughput: attaches the send tracer to this process with a 0 ns stall threshold (every
/// call is an event), makes N sendto calls as fast as it can and reports events/s received and dropped.
/// The calls go to fd -1 (EBADF at once): the kernel's UDP path would otherwise cap the rate well below
/// what the tracer and the ring buffer can carry; the tracepoints fire the same for a failing call.
/// With "chart" as the third argument, the burst runs while this process does what the server's charts do: sample the
/// tracers' totals into a <see cref="Charts.ChartHistory"/> four times a second and render the send-latency heatmap
/// (10 min, 1200x400 PNG) every second; the drops say whether charting holds tracing up.
/// Usage: TraceBurst.Bench N [objects folder] [chart]; needs what the tracers need (root or CAP_BPF + CAP_PERFMON, BTF).
/// </summary>
internal static class TraceBurst
{
    public static int Main(string[] args)
    {
        var count = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 3_000_000;
        var missing = TracingPrerequisites.Check(new TracingOptions { ObjectDirectory = args.Length > 1 ? args[1] : "" }, out var objects);
        var chart = args.Length > 2 && args[2] == "chart";
        if (missing is not null)
        {
            Console.Error.WriteLine($"trace burst: tracers unavailable: {missing}");
            return 1;
        }

        return Run(objects, count, chart);
    }

    private static int Run(string objects, long count, bool chart)
    {
        var sink = new CountingSink();
        using var tracers = KernelTracers.Start(new TracerConfig
        {
            ObjectDirectory = objects,
            TargetTgid = Environment.ProcessId,
            StallThresholdNs = 0,
            Retransmits = false,
            SkbAllocations = false,
            SocketWrites = false,
        }, sink);
        var before = tracers.Snapshot();
        using var stopCharts = new CancellationTokenSource();
        var renders = new List<double>();
        var charting = chart ? Task.Run(() => ChartAsync(tracers, renders, stopCharts.Token)) : Task.CompletedTask;
        var start = Stopwatch.GetTimestamp();
        for (long i = 0; i < count; i++)
        {
            _ = Libc.sendto(-1, 0, 0, 0, 0, 0);
        }

        var sendSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        // Let the consumer drain what is still in the ring.
        var last = -1L;
        while (sink.Events != last)
        {
            last = sink.Events;
            Thread.Sleep(200);
        }

        stopCharts.Cancel();
        charting.Wait();
        var after = tracers.Snapshot();
        var calls = (long)(after.Send[2].Calls - before.Send[2].Calls);
        var dropped = (long)(after.SendEventsDropped - before.SendEventsDropped);
        var received = sink.Events;
        var charts = chart
            ? string.Create(CultureInfo.InvariantCulture, $" charts_rendered={renders.Count} render_max_ms={(renders.Count == 0 ? 0 : renders.Max()):F1}")
            : "";
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"burst{(chart ? "+chart" : "")}: calls={calls} events={received} dropped={dropped} seconds={sendSeconds:F3} events_per_second={calls / sendSeconds:F0} received_per_second={received / sendSeconds:F0}{charts}"));
        return 0;
    }

    private static async Task ChartAsync(KernelTracers tracers, List<double> renders, CancellationToken stop)
    {
        var history = new Charts.ChartHistory();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        var ticks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                history.Sample(tracers.Snapshot(), [], DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                if (++ticks % 4 == 0)
                {
                    var clock = Stopwatch.StartNew();
                    _ = Charts.ChartRenderer.SendLatency(history.Window(600), 1200, 400, Charts.ChartFormat.Png);
                    renders.Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class CountingSink : ITraceEventSink
    {
        private long _events;

        public long Events => Interlocked.Read(ref _events);

        public void OnRetransmit(in RetransmitRecord record)
        {
        }

        public void OnSendStall(in SendStallRecord record) => Interlocked.Increment(ref _events);
    }
}
