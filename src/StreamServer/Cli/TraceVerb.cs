using System.Globalization;
using StreamServer.Tracing;

namespace StreamServer.Cli;

/// <summary>
/// `trace [--pid N] [--ports 8080,8443] [--interval 5] [--seconds S] [--stall-ms 10] [--objects DIR] [--no-probe] [--socket-writes] [--png DIR]`:
/// live retransmits (like bcc tcpretrans) and send stalls as they happen, and every interval the
/// send-syscall latency histograms (like bcc funclatency) plus skb allocation counts. With --png, the run's
/// send-latency heatmap and retransmits chart (the server's /api/trace/charts) are written there at the end, for bug reports.
/// </summary>
internal static class TraceVerb
{
    public static async Task<int> RunAsync(string[] args)
    {
        TraceArguments a;
        try
        {
            a = TraceArguments.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"trace: {e.Message}");
            Console.Error.WriteLine("usage: trace [--pid N] [--ports 8080,8443] [--interval 5] [--seconds S] [--stall-ms 10] [--objects DIR] [--no-probe] [--socket-writes] [--png DIR]");
            return 2;
        }

        var missing = TracingPrerequisites.Check(new TracingOptions { ObjectDirectory = a.Objects }, out var objects);
        if (missing is not null)
        {
            Console.Error.WriteLine($"trace: tracers unavailable: {missing}");
            return 1;
        }

        try
        {
            return await LiveAsync(a, objects);
        }
        catch (TracerException e)
        {
            Console.Error.WriteLine($"trace: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> LiveAsync(TraceArguments a, string objects)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            cts.Cancel();
        });
        if (a.DurationSeconds > 0)
        {
            cts.CancelAfter(TimeSpan.FromSeconds(a.DurationSeconds));
        }

        var printer = new TracePrinter(Console.Out);
        using var tracers = KernelTracers.Start(new TracerConfig
        {
            ObjectDirectory = objects,
            Ports = a.Ports,
            TargetTgid = a.Pid,
            StallThresholdNs = (ulong)(a.StallMs * 1_000_000),
            TcpProbe = a.Probe,
            SocketWrites = a.SocketWrites,
        }, printer);
        Console.Out.WriteLine(
            $"Tracing retransmits on ports {string.Join(',', a.Ports)} and send stalls >= {a.StallMs.ToString(CultureInfo.InvariantCulture)} ms " +
            $"of {(a.Pid == 0 ? "every process" : "pid " + a.Pid.ToString(CultureInfo.InvariantCulture))}; {tracers.AttachedPrograms.Count} programs attached. Ctrl-C to end.");
        printer.Header();
        var history = a.Png is null ? null : new Charts.ChartHistory();
        var started = DateTimeOffset.UtcNow;
        var sampling = history is null ? Task.CompletedTask : SampleEverySecondAsync(tracers, history, cts.Token);
        var previous = tracers.Snapshot();
        while (!cts.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(a.IntervalSeconds), cts.Token);
            }
            catch (OperationCanceledException)
            {
            }

            var now = tracers.Snapshot();
            printer.Interval(previous, now);
            previous = now;
        }

        await sampling;
        if (history is not null)
        {
            WriteCharts(history, a.Png!, (int)Math.Ceiling((DateTimeOffset.UtcNow - started).TotalSeconds));
        }

        return 0;
    }

    private static async Task SampleEverySecondAsync(KernelTracers tracers, Charts.ChartHistory history, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        history.Sample(tracers.Snapshot(), [], DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                history.Sample(tracers.Snapshot(), [], DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            }
        }
        catch (OperationCanceledException)
        {
        }

        history.Sample(tracers.Snapshot(), [], DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    }

    private static void WriteCharts(Charts.ChartHistory history, string folder, int seconds)
    {
        Directory.CreateDirectory(folder);
        var data = history.Window(Math.Clamp(seconds, Charts.ChartEndpoints.MinWindowSeconds, Charts.ChartHistory.Capacity));
        foreach (var (name, png) in new[]
        {
            ("send-latency.png", Charts.ChartRenderer.SendLatency(data, 1200, 400, Charts.ChartFormat.Png)),
            ("retransmits.png", Charts.ChartRenderer.Retransmits(data, 1200, 400, Charts.ChartFormat.Png)),
        })
        {
            var path = Path.Combine(folder, name);
            File.WriteAllBytes(path, png);
            Console.Out.WriteLine($"wrote {path}");
        }
    }
}

internal sealed record TraceArguments(int Pid, int[] Ports, double IntervalSeconds, double DurationSeconds, double StallMs, string Objects, bool Probe,
    bool SocketWrites = false, string? Png = null)
{
    public static TraceArguments Parse(string[] args)
    {
        var a = new TraceArguments(0, [8080, 8443], 5, 0, 10, "", true);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            a = args[i] switch
            {
                "--pid" => a with { Pid = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--ports" => a with { Ports = Array.ConvertAll(Value().Split(','), p => int.Parse(p, CultureInfo.InvariantCulture)) },
                "--interval" => a with { IntervalSeconds = Math.Max(0.1, double.Parse(Value(), CultureInfo.InvariantCulture)) },
                "--duration" or "--seconds" => a with { DurationSeconds = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--png" => a with { Png = Value() },
                "--stall-ms" => a with { StallMs = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--objects" => a with { Objects = Value() },
                "--no-probe" => a with { Probe = false },
                "--socket-writes" => a with { SocketWrites = true },
                _ => throw new FormatException($"unknown option '{args[i]}'"),
            };
        }

        return a.Ports.Length > 8 ? throw new FormatException("at most 8 ports") : a;
    }
}
