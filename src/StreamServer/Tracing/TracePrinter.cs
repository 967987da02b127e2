using System.Globalization;
using System.Text;

namespace StreamServer.Tracing;

/// <summary>Console output of `trace`: one line per retransmit / stall, histograms every interval.</summary>
internal sealed class TracePrinter(TextWriter output) : ITraceEventSink
{
    private readonly Lock _gate = new();

    public void Header()
    {
        lock (_gate)
        {
            output.WriteLine($"{"TIME",-12} {"EVENT",-7} {"LADDR:LPORT",-24} {"T>",-2} {"RADDR:RPORT",-24} {"STATE",-12} {"SIDE",-6} {"SRTT_US",8} {"CWND",5} SEGS");
        }
    }

    public void OnRetransmit(in RetransmitRecord record)
    {
        var e = TraceEvent.From(record);
        lock (_gate)
        {
            output.WriteLine(
                $"{e.Time.ToLocalTime():HH:mm:ss.fff} {KindLabel(e.Kind),-7} {e.Local,-24} {"R>",-2} {e.Remote,-24} {e.State,-12} {e.Side,-6} {e.SrttMicroseconds,8} {e.CongestionWindow,5} {e.Segments}{(e.Unseen != 0 ? $" ({e.Unseen} unseen)" : "")}{(e.Error != 0 ? $" err={e.Error}" : "")}");
        }
    }

    private static string KindLabel(string? kind) => kind switch
    {
        "synack" => "SYNACK",
        "unseen" => "UNSEEN",
        _ => "RETRANS",
    };

    public void OnSendStall(in SendStallRecord record)
    {
        var e = TraceEvent.From(record);
        lock (_gate)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{e.Time.ToLocalTime():HH:mm:ss.fff} STALL   {e.Comm}[{e.ProcessId}/{e.ThreadId}] {e.Syscall}(fd {e.Fd}, {e.Requested} bytes) = {e.Result} after {e.DurationMs:F3} ms"));
        }
    }

    public void Interval(TracerSnapshot before, TracerSnapshot after)
    {
        var sb = new StringBuilder();
        for (var s = 0; s < after.Send.Length; s++)
        {
            var calls = after.Send[s].Calls - before.Send[s].Calls;
            if (calls == 0)
            {
                continue;
            }

            var sumNs = after.Send[s].SumNs - before.Send[s].SumNs;
            var bytes = after.Send[s].Bytes - before.Send[s].Bytes;
            sb.Append(CultureInfo.InvariantCulture, $"\n{after.Send[s].Syscall}: {calls} calls, avg {sumNs / (double)calls / 1000:F1} us, {bytes} bytes, {after.Send[s].Errors - before.Send[s].Errors} errors ({after.Send[s].WouldBlock - before.Send[s].WouldBlock} EAGAIN), {after.Send[s].Stalls - before.Send[s].Stalls} stalls\n");
            AppendHistogram(sb, before.Send[s].Histogram, after.Send[s].Histogram);
        }

        var heads = after.SkbAllocsTarget(0) - before.SkbAllocsTarget(0);
        var fclones = after.SkbAllocsTarget(1) - before.SkbAllocsTarget(1);
        var small = after.SkbAllocsTarget(2) - before.SkbAllocsTarget(2);
        var sent = after.SendBytesTotal - before.SendBytesTotal;
        var total = heads + fclones + small;
        sb.Append(CultureInfo.InvariantCulture, $"skb allocs: {heads} head, {fclones} fclone, {small} small-head");
        if (sent > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $" ({total / (sent / 1048576.0):F1} per MiB sent)");
        }

        sb.Append(CultureInfo.InvariantCulture, $"; retransmitted segments: {after.RetransmitSegmentsServer - before.RetransmitSegmentsServer} server, {after.RetransmitSegmentsClient - before.RetransmitSegmentsClient} client ({after.RetransmitSegmentsUnseen - before.RetransmitSegmentsUnseen} unseen)");
        sb.Append(CultureInfo.InvariantCulture, $"; dropped events: {after.RetransmitEventsDropped + after.SendEventsDropped}");
        lock (_gate)
        {
            output.WriteLine(sb.ToString());
        }
    }

    /// <summary>funclatency-style: usecs ranges, counts, 40-column bar.</summary>
    private static void AppendHistogram(StringBuilder sb, ulong[] before, ulong[] after)
    {
        // Slots are log2(ns); print in microseconds: slot i covers [2^i, 2^(i+1)) ns.
        var counts = new ulong[after.Length];
        int first = -1, last = -1;
        ulong max = 0;
        for (var i = 0; i < after.Length; i++)
        {
            counts[i] = after[i] - before[i];
            if (counts[i] > 0)
            {
                first = first < 0 ? i : first;
                last = i;
                max = Math.Max(max, counts[i]);
            }
        }

        if (first < 0)
        {
            return;
        }

        sb.Append("     nsecs                       : count     distribution\n");
        for (var i = first; i <= last; i++)
        {
            var low = i == 0 ? 0 : 1UL << i;
            var high = (1UL << (i + 1)) - 1;
            var bar = (int)(counts[i] * 40 / max);
            sb.Append(CultureInfo.InvariantCulture, $"{low,14} -> {high,-14} : {counts[i],-9} |{new string('*', bar),-40}|\n");
        }
    }
}
