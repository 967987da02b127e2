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
/// Usage: TraceBurst.Bench N [objects folder]; needs what the tracers need (root or CAP_BPF + CAP_PERFMON, BTF).
/// </summary>
internal static class TraceBurst
{
    public static int Main(string[] args)
    {
        var count = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 3_000_000;
        var missing = TracingPrerequisites.Check(new TracingOptions { ObjectDirectory = args.Length > 1 ? args[1] : "" }, out var objects);
        if (missing is not null)
        {
            Console.Error.WriteLine($"trace burst: tracers unavailable: {missing}");
            return 1;
        }

        return Run(objects, count);
    }

    private static int Run(string objects, long count)
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

        var after = tracers.Snapshot();
        var calls = (long)(after.Send[2].Calls - before.Send[2].Calls);
        var dropped = (long)(after.SendEventsDropped - before.SendEventsDropped);
        var received = sink.Events;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"burst: calls={calls} events={received} dropped={dropped} seconds={sendSeconds:F3} events_per_second={calls / sendSeconds:F0} received_per_second={received / sendSeconds:F0}"));
        return 0;
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
