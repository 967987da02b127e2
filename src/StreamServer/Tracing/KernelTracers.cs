using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StreamServer.Interop;

namespace StreamServer.Tracing;

/// <summary>
/// The three tracers loaded and attached: retransmits, skb allocations, send-syscall latency. Rare events
/// (retransmits, stalls) arrive through BPF ring buffers polled on a dedicated thread; aggregates stay in
/// maps and are read on demand. Dispose detaches everything (no program stays loaded).
/// </summary>
public sealed unsafe class KernelTracers : IDisposable
{
    private readonly List<BpfObject> _objects = [];
    private readonly ITraceEventSink? _sink;
    private GCHandle _self;
    private RingBufferHandle? _ringBuffer;
    private Thread? _pollThread;
    private volatile bool _stopping;
    private BpfObject? _retrans;
    private BpfObject? _skb;
    private BpfObject? _send;
    private PerCpuMap? _retransCounters;
    private PerCpuMap? _srttHist;
    private PerCpuMap? _skbCounts;
    private PerCpuMap? _sendHist;
    private PerCpuMap? _sendStats;
    private long _eventsReceived;

    private KernelTracers(TracerConfig config, ITraceEventSink? sink)
    {
        Config = config;
        _sink = sink;
    }

    public TracerConfig Config { get; }

    /// <summary>Names of the attached programs (what `bpftool prog list` shows while we run).</summary>
    public IReadOnlyList<string> AttachedPrograms
    {
        get
        {
            var names = new List<string>();
            foreach (var o in _objects)
            {
                foreach (var l in o.Links)
                {
                    names.Add(l.ProgramName);
                }
            }

            return names;
        }
    }

    /// <summary>Kernel ids of the loaded programs.</summary>
    public IReadOnlyList<uint> ProgramIds
    {
        get
        {
            var ids = new List<uint>();
            foreach (var o in _objects)
            {
                ids.AddRange(o.ProgramIds());
            }

            return ids;
        }
    }

    /// <summary>Ring-buffer records handed to the sink since start.</summary>
    public long EventsReceived => Interlocked.Read(ref _eventsReceived);

    public static KernelTracers Start(TracerConfig config) => Start(config, sink: null);

    internal static KernelTracers Start(TracerConfig config, ITraceEventSink? sink)
    {
        var tracers = new KernelTracers(config, sink);
        try
        {
            tracers.LoadAndAttach();
            return tracers;
        }
        catch
        {
            tracers.Dispose();
            throw;
        }
    }

    private void LoadAndAttach()
    {
        _self = GCHandle.Alloc(this);
        var ringMaps = new List<int>();
        if (Config.Retransmits)
        {
            var o = Open("retrans");
            Span<ushort> ports = stackalloc ushort[TracerAbi.RetransMaxPorts];
            var n = Math.Min(Config.Ports.Count, TracerAbi.RetransMaxPorts);
            for (var i = 0; i < n; i++)
            {
                ports[i] = checked((ushort)Config.Ports[i]);
            }

            o.SetArray<ushort>("ports", ports);
            o.Set("n_ports", (uint)n);
            o.Set("netns_inum", Config.NetnsInode);
            o.Set("track_probes", Config.TcpProbe ? (byte)1 : (byte)0);
            if (!Config.TcpProbe)
            {
                o.Disable("on_tcp_probe");
            }

            o.Load();
            o.AttachAll();
            _retrans = o;
            _retransCounters = new PerCpuMap(o.MapFd("counters"), 8);
            _srttHist = new PerCpuMap(o.MapFd("srtt_hist"), TracerAbi.SrttStatsSize);
            ringMaps.Add(o.MapFd("events"));
        }

        if (Config.SkbAllocations)
        {
            var o = Open("skballoc");
            var ranges = File.Exists("/proc/kallsyms") ? KernelSymbols.Ranges(KernelSymbols.SkbAllocators) : [];
            Span<ulong> starts = stackalloc ulong[TracerAbi.SkbMaxRanges];
            Span<ulong> ends = stackalloc ulong[TracerAbi.SkbMaxRanges];
            var n = Math.Min(ranges.Count, TracerAbi.SkbMaxRanges);
            for (var i = 0; i < n; i++)
            {
                (_, starts[i], ends[i]) = ranges[i];
            }

            o.SetArray<ulong>("range_start", starts);
            o.SetArray<ulong>("range_end", ends);
            o.Set("n_ranges", (uint)n);
            ulong spanStart = ulong.MaxValue, spanEnd = 0;
            for (var i = 0; i < n; i++)
            {
                spanStart = Math.Min(spanStart, starts[i]);
                spanEnd = Math.Max(spanEnd, ends[i]);
            }

            o.Set("span_start", n > 0 ? spanStart : 0UL);
            o.Set("span_end", spanEnd);
            o.Set("head_size", KernelSymbols.SlabSize("skbuff_head_cache"));
            o.Set("fclone_size", KernelSymbols.SlabSize("skbuff_fclone_cache"));
            o.Set("small_head_size", KernelSymbols.SlabSize("skbuff_small_head"));
            o.Set("target_tgid", (uint)Config.TargetTgid);
            o.Set("target_tid", (uint)Config.TargetThread);
            o.Load();
            o.AttachAll();
            _skb = o;
            _skbCounts = new PerCpuMap(o.MapFd("skb_counts"), TracerAbi.SkbCountsSize);
        }

        if (Config.SendLatency)
        {
            var o = Open("sendlat");
            o.Set("target_tgid", (uint)Config.TargetTgid);
            o.Set("stall_threshold_ns", Config.StallThresholdNs);
            o.Set("socket_writes", Config.SocketWrites ? (byte)1 : (byte)0);
            if (!Config.SocketWrites)
            {
                o.Disable("on_enter_write");
                o.Disable("on_exit_write");
            }

            o.Load();
            o.AttachAll();
            _send = o;
            _sendHist = new PerCpuMap(o.MapFd("hist"), 8);
            _sendStats = new PerCpuMap(o.MapFd("stats"), TracerAbi.SendStatsSize);
            ringMaps.Add(o.MapFd("events"));
        }

        if (ringMaps.Count > 0)
        {
            var ctx = GCHandle.ToIntPtr(_self);
            var rb = LibBpf.RingBufferNew(ringMaps[0], &OnSample, ctx, 0);
            if (rb == 0)
            {
                throw new TracerException($"ring_buffer__new: {BpfObject.Errno(Marshal.GetLastPInvokeError())}");
            }

            _ringBuffer = new RingBufferHandle(rb);
            for (var i = 1; i < ringMaps.Count; i++)
            {
                var rc = LibBpf.RingBufferAdd(rb, ringMaps[i], &OnSample, ctx);
                if (rc != 0)
                {
                    throw new TracerException($"ring_buffer__add: {BpfObject.Errno(-rc)}");
                }
            }

            _pollThread = new Thread(PollLoop) { IsBackground = true, Name = "bpf-ringbuf" };
            _pollThread.Start();
        }
    }

    private BpfObject Open(string tracer)
    {
        var path = Path.Combine(Config.ObjectDirectory, tracer + ".bpf.o");
        if (!File.Exists(path))
        {
            throw new TracerException($"{path} not found (build it with `make -C bpf`)");
        }

        var o = BpfObject.Open(path);
        _objects.Add(o);
        return o;
    }

    private void PollLoop()
    {
        var rb = _ringBuffer!;
        var added = false;
        rb.DangerousAddRef(ref added);
        try
        {
            while (!_stopping)
            {
                var rc = LibBpf.RingBufferPoll(rb.DangerousGetHandle(), 100);
                if (rc < 0 && rc != -Libc.EINTR) // libbpf returns -errno; a signal just ends this poll early
                {
                    break;
                }
            }
        }
        finally
        {
            if (added)
            {
                rb.DangerousRelease();
            }
        }
    }

    [UnmanagedCallersOnly]
    private static int OnSample(nint ctx, nint data, nuint size)
    {
        try
        {
            var self = (KernelTracers)GCHandle.FromIntPtr(ctx).Target!;
            Interlocked.Increment(ref self._eventsReceived);
            if (self._sink is null || size < 4)
            {
                return 0;
            }

            var type = *(uint*)data;
            if (type == TracerAbi.EventRetransmit && size >= (nuint)sizeof(RetransmitRecord))
            {
                self._sink.OnRetransmit(in Unsafe.AsRef<RetransmitRecord>((void*)data));
            }
            else if (type == TracerAbi.EventSendStall && size >= (nuint)sizeof(SendStallRecord))
            {
                self._sink.OnSendStall(in Unsafe.AsRef<SendStallRecord>((void*)data));
            }
        }
        catch
        {
            // Never unwind into libbpf: a faulty sink loses the event, the poll loop keeps going.
        }

        return 0;
    }

    public TracerSnapshot Snapshot()
    {
        var srtt = new ulong[TracerAbi.SrttSlots];
        Span<ulong> srttStats = stackalloc ulong[TracerAbi.SrttSlots + 2];
        _srttHist?.SumFields(0, srttStats);
        srttStats[..TracerAbi.SrttSlots].CopyTo(srtt);

        var allocs = new ulong[2, TracerAbi.SkbCaches];
        var bytes = new ulong[2, TracerAbi.SkbCaches];
        if (_skbCounts is not null)
        {
            Span<ulong> fields = stackalloc ulong[2];
            for (var scope = 0; scope < 2; scope++)
            {
                for (var c = 0; c < TracerAbi.SkbCaches; c++)
                {
                    _skbCounts.SumFields((uint)((scope * TracerAbi.SkbCaches) + c), fields);
                    allocs[scope, c] = fields[0];
                    bytes[scope, c] = fields[1];
                }
            }
        }

        var send = new SendSyscallStats[_sendStats is null ? 0 : TracerAbi.SyscallCount];
        ulong sendDropped = 0;
        Span<ulong> stat = stackalloc ulong[TracerAbi.SendStatsSize / 8];
        for (var s = 0; s < send.Length; s++)
        {
            var hist = new ulong[TracerAbi.SendSlots];
            for (var slot = 0; slot < hist.Length; slot++)
            {
                hist[slot] = _sendHist!.Sum((uint)((s * TracerAbi.SendSlots) + slot));
            }

            _sendStats!.SumFields((uint)s, stat);
            send[s] = new SendSyscallStats
            {
                Syscall = TracerAbi.SyscallNames[s],
                Calls = stat[0],
                SumNs = stat[1],
                Bytes = stat[2],
                Errors = stat[3],
                Stalls = stat[4],
                WouldBlock = stat[6],
                Histogram = hist,
            };
            sendDropped += stat[5];
        }

        var rc = _retransCounters;
        return new TracerSnapshot
        {
            RetransmitSegmentsServer = rc?.Sum(TracerAbi.RcSegsServer) ?? 0,
            RetransmitSegmentsClient = rc?.Sum(TracerAbi.RcSegsClient) ?? 0,
            RetransmitEvents = rc?.Sum(TracerAbi.RcEvents) ?? 0,
            RetransmitAttemptsNotSent = rc?.Sum(TracerAbi.RcNotSent) ?? 0,
            SynAckRetransmits = rc?.Sum(TracerAbi.RcSynack) ?? 0,
            RetransmitSegmentsUnseen = rc?.Sum(TracerAbi.RcUnseenSegs) ?? 0,
            RetransmitUnseenEvents = rc?.Sum(TracerAbi.RcUnseenEvents) ?? 0,
            RetransmitEventsDropped = rc?.Sum(TracerAbi.RcDropped) ?? 0,
            TcpProbeSamples = srttStats[TracerAbi.SrttSlots],
            SrttSumMicroseconds = srttStats[TracerAbi.SrttSlots + 1],
            SrttHistogram = srtt,
            SkbAllocs = allocs,
            SkbBytes = bytes,
            Send = send,
            SendEventsDropped = sendDropped,
            RetransmitMissedRuns = _retrans?.RecursionMisses() ?? 0,
            SkbMissedRuns = _skb?.RecursionMisses() ?? 0,
            SendMissedRuns = _send?.RecursionMisses() ?? 0,
            RetransmitsAttached = rc is not null,
            SkbAttached = _skbCounts is not null,
            SendAttached = _sendStats is not null,
        };
    }

    public void Dispose()
    {
        _stopping = true;
        _pollThread?.Join();
        _ringBuffer?.Dispose();
        foreach (var o in _objects)
        {
            o.Dispose();
        }

        _objects.Clear();
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }
}
