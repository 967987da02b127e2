using System.Globalization;
using StreamServer.Tracing;

namespace StreamServer.Cli;

/// <summary>
/// `trace [--pid N] [--ports 8080,8443] [--interval 5] [--duration S] [--stall-ms 10] [--objects DIR] [--no-probe] [--socket-writes]`:
/// live retransmits (like bcc tcpretrans) and send stalls as they happen, and every interval the
/// send-syscall latency histograms (like bcc funclatency) plus skb allocation counts.
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
            Console.Error.WriteLine("usage: trace [--pid N] [--ports 8080,8443] [--interval 5] [--duration S] [--stall-ms 10] [--objects DIR] [--no-probe] [--socket-writes]");
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

        return 0;
    }
}

internal sealed record TraceArguments(int Pid, int[] Ports, double IntervalSeconds, double DurationSeconds, double StallMs, string Objects, bool Probe, bool SocketWrites = false)
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
                "--duration" => a with { DurationSeconds = double.Parse(Value(), CultureInfo.InvariantCulture) },
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
