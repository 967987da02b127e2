using StreamServer.Metrics;

namespace StreamServer.Tracing;

/// <summary>
/// Map-derived metrics, rendered at scrape time: retransmits, skb allocations, send-syscall latency
/// histograms (Prometheus buckets = the kernel's log2 slots), stalls, drops, srtt.
/// </summary>
internal sealed class TracingMetricsCollector(TracingService service) : IPrometheusCollector
{
    // Exposed log2 slots: le = 2^(slot+1) ns for slots 9..35 (1.024 us .. 68.7 s); lower slots fold into the first.
    private const int FirstSendSlot = 9;
    private const int LastSendSlot = 35;
    private const int FirstSrttSlot = 4;  // le = 32 us
    private const int LastSrttSlot = 24;  // le = 33.5 s

    private static readonly KeyValuePair<string, string>[] SideServer = [new("side", "server")];
    private static readonly KeyValuePair<string, string>[] SideClient = [new("side", "client")];
    private static readonly KeyValuePair<string, string>[][] CacheLabels = CreateLabels("cache", TracerAbi.SkbCacheNames);
    private static readonly KeyValuePair<string, string>[][] SyscallLabels = CreateLabels("syscall", TracerAbi.SyscallNames);
    private static readonly KeyValuePair<string, string>[][] TracerLabels = CreateLabels("tracer", ["retransmits", "skb_alloc", "send_latency"]);
    private static readonly double[] SendBounds = Bounds(FirstSendSlot, LastSendSlot, 1e-9);
    private static readonly double[] SrttBounds = Bounds(FirstSrttSlot, LastSrttSlot, 1e-6);

    public void Collect(PrometheusTextWriter writer)
    {
        var s = service.Snapshot();
        writer.Header("streamserver_tracer_attached", "1 when the eBPF tracer is attached to the kernel, 0 when disabled (see /healthz).", PrometheusType.Gauge);
        writer.Sample("streamserver_tracer_attached", TracerLabels[0], s?.RetransmitsAttached == true ? 1 : 0);
        writer.Sample("streamserver_tracer_attached", TracerLabels[1], s?.SkbAttached == true ? 1 : 0);
        writer.Sample("streamserver_tracer_attached", TracerLabels[2], s?.SendAttached == true ? 1 : 0);
        if (s is null)
        {
            return;
        }

        writer.Header("streamserver_tcp_retransmits_total",
            "TCP segments retransmitted (counted like TcpRetransSegs: a GSO skb counts each segment). side=server: the server's sockets; side=client: local clients of the server in its network namespace.",
            PrometheusType.Counter);
        writer.Sample("streamserver_tcp_retransmits_total", SideServer, s.RetransmitSegmentsServer);
        writer.Sample("streamserver_tcp_retransmits_total", SideClient, s.RetransmitSegmentsClient);

        writer.Header("streamserver_skb_alloc_total", "sk_buff allocations from the skb slab caches while the server process was on CPU, by cache.", PrometheusType.Counter);
        for (var c = 0; c < TracerAbi.SkbCaches; c++)
        {
            writer.Sample("streamserver_skb_alloc_total", CacheLabels[c], s.SkbAllocs[TracerAbi.SkbScopeTarget, c]);
        }

        var sentBytes = s.SendBytesTotal;
        if (sentBytes > 0)
        {
            writer.Header("streamserver_skb_alloc_per_mib", "sk_buff allocations per MiB the server's send syscalls sent (since the tracers attached).", PrometheusType.Gauge);
            writer.Sample("streamserver_skb_alloc_per_mib", [], s.SkbAllocsTargetTotal / (sentBytes / 1048576.0));
        }

        writer.Header("streamserver_send_syscall_duration_seconds", "Duration of the server's send syscalls, from in-kernel log2 histograms.", PrometheusType.Histogram);
        Span<long> buckets = stackalloc long[SendBounds.Length];
        foreach (var sc in s.Send)
        {
            var index = Array.IndexOf(TracerAbi.SyscallNames, sc.Syscall);
            FoldSlots(sc.Histogram, FirstSendSlot, buckets);
            writer.Histogram("streamserver_send_syscall_duration_seconds", SyscallLabels[index], SendBounds, buckets, sc.SumNs / 1e9, (long)sc.HistogramCount);
        }

        writer.Header("streamserver_send_syscall_bytes_total", "Bytes the server's send syscalls reported sent.", PrometheusType.Counter);
        foreach (var sc in s.Send)
        {
            writer.Sample("streamserver_send_syscall_bytes_total", SyscallLabels[Array.IndexOf(TracerAbi.SyscallNames, sc.Syscall)], sc.Bytes);
        }

        writer.Header("streamserver_send_syscall_errors_total", "Send syscalls that returned an error (EAGAIN included).", PrometheusType.Counter);
        foreach (var sc in s.Send)
        {
            writer.Sample("streamserver_send_syscall_errors_total", SyscallLabels[Array.IndexOf(TracerAbi.SyscallNames, sc.Syscall)], sc.Errors);
        }

        writer.Header("streamserver_send_syscall_would_block_total", "Send syscalls that returned EAGAIN: the socket buffer was full because the client reads slower than the server sends.", PrometheusType.Counter);
        foreach (var sc in s.Send)
        {
            writer.Sample("streamserver_send_syscall_would_block_total", SyscallLabels[Array.IndexOf(TracerAbi.SyscallNames, sc.Syscall)], sc.WouldBlock);
        }

        writer.Header("streamserver_send_stalls_total", "Send syscalls at or above the stall threshold (StreamServer:Tracing:StallThresholdMicroseconds).", PrometheusType.Counter);
        foreach (var sc in s.Send)
        {
            writer.Sample("streamserver_send_stalls_total", SyscallLabels[Array.IndexOf(TracerAbi.SyscallNames, sc.Syscall)], sc.Stalls);
        }

        writer.Header("streamserver_tracer_events_dropped_total", "Events the kernel side could not put in a full ring buffer (counters stay exact).", PrometheusType.Counter);
        writer.Sample("streamserver_tracer_events_dropped_total", TracerLabels[0], s.RetransmitEventsDropped);
        writer.Sample("streamserver_tracer_events_dropped_total", TracerLabels[2], s.SendEventsDropped);

        writer.Header("streamserver_tracer_missed_runs_total", "Tracer program runs the kernel skipped because the program was already running on that CPU (an interrupting softirq): those events are in no count.", PrometheusType.Counter);
        writer.Sample("streamserver_tracer_missed_runs_total", TracerLabels[0], s.RetransmitMissedRuns);
        writer.Sample("streamserver_tracer_missed_runs_total", TracerLabels[1], s.SkbMissedRuns);
        writer.Sample("streamserver_tracer_missed_runs_total", TracerLabels[2], s.SendMissedRuns);

        if (s.TcpProbeSamples > 0 || s.RetransmitsAttached)
        {
            writer.Header("streamserver_tcp_srtt_seconds", "Smoothed RTT samples of the server's connections (tcp:tcp_probe, one per ACK received).", PrometheusType.Histogram);
            Span<long> srtt = stackalloc long[SrttBounds.Length];
            FoldSlots(s.SrttHistogram, FirstSrttSlot, srtt);
            ulong count = 0;
            foreach (var v in s.SrttHistogram)
            {
                count += v;
            }

            writer.Histogram("streamserver_tcp_srtt_seconds", [], SrttBounds, srtt, s.SrttSumMicroseconds / 1e6, (long)count);
        }
    }

    /// <summary>Per-bucket counts for Prometheus: bucket 0 also holds every slot below it.</summary>
    private static void FoldSlots(ulong[] slots, int first, Span<long> buckets)
    {
        buckets.Clear();
        for (var slot = 0; slot < slots.Length; slot++)
        {
            var b = Math.Clamp(slot - first, 0, buckets.Length);
            if (b < buckets.Length)
            {
                buckets[b] += (long)slots[slot];
            }
        }
    }

    // Slot i holds values in [2^i, 2^(i+1)): its inclusive upper bound is 2^(i+1) units.
    private static double[] Bounds(int first, int last, double unit)
    {
        var result = new double[last - first + 1];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = Math.Pow(2, first + i + 1) * unit;
        }

        return result;
    }

    private static KeyValuePair<string, string>[][] CreateLabels(string key, string[] values)
    {
        var result = new KeyValuePair<string, string>[values.Length][];
        for (var i = 0; i < values.Length; i++)
        {
            result[i] = [new(key, values[i])];
        }

        return result;
    }
}
