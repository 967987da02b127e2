namespace StreamServer.Tracing;

/// <summary>Totals read from the tracers' maps at one moment (all counters since attach).</summary>
public sealed class TracerSnapshot
{
    /// <summary>Retransmitted segments counted like TcpRetransSegs, on the server's sockets.</summary>
    public ulong RetransmitSegmentsServer { get; init; }

    /// <summary>Same, on client sockets in the traced namespace that talk to the server's ports.</summary>
    public ulong RetransmitSegmentsClient { get; init; }

    public ulong RetransmitEvents { get; init; }

    /// <summary>Retransmit attempts that stopped before the kernel counted them (queue busy, window closed).</summary>
    public ulong RetransmitAttemptsNotSent { get; init; }

    public ulong SynAckRetransmits { get; init; }

    /// <summary>
    /// Of the server + client segments: those counted late from tcp_sock.total_retrans because no program run
    /// saw their retransmit (kernels that skip BPF programs while PID 1's threads are current; bpf/README.md).
    /// </summary>
    public ulong RetransmitSegmentsUnseen { get; init; }

    /// <summary>How many times such segments were found (one look may cover several retransmits).</summary>
    public ulong RetransmitUnseenEvents { get; init; }

    public ulong TcpProbeSamples { get; init; }

    public ulong SrttSumMicroseconds { get; init; }

    /// <summary>log2 slots of srtt in microseconds.</summary>
    public ulong[] SrttHistogram { get; init; } = [];

    /// <summary>[scope, cache] allocations; scope 0 = machine-wide, 1 = the traced process.</summary>
    public ulong[,] SkbAllocs { get; init; } = new ulong[TracerAbi.SkbScopeTarget + 1, TracerAbi.SkbCaches];

    public ulong[,] SkbBytes { get; init; } = new ulong[TracerAbi.SkbScopeTarget + 1, TracerAbi.SkbCaches];

    public SendSyscallStats[] Send { get; init; } = [];

    public ulong RetransmitEventsDropped { get; init; }

    public ulong SendEventsDropped { get; init; }

    /// <summary>Program runs the kernel skipped (the program was already running on that CPU): events lost to every count.</summary>
    public ulong RetransmitMissedRuns { get; init; }

    public ulong SkbMissedRuns { get; init; }

    public ulong SendMissedRuns { get; init; }

    public bool RetransmitsAttached { get; init; }

    public bool SkbAttached { get; init; }

    public bool SendAttached { get; init; }

    public ulong SkbAllocsTarget(int cache) => SkbAllocs[TracerAbi.SkbScopeTarget, cache];

    public ulong SkbAllocsTargetTotal
    {
        get
        {
            ulong total = 0;
            for (var c = 0; c < TracerAbi.SkbCaches; c++)
            {
                total += SkbAllocs[TracerAbi.SkbScopeTarget, c];
            }

            return total;
        }
    }

    public ulong SendBytesTotal
    {
        get
        {
            ulong total = 0;
            foreach (var s in Send)
            {
                total += s.Bytes;
            }

            return total;
        }
    }
}

/// <summary>One send syscall's in-kernel statistics; <see cref="Histogram"/> slot i counts 2^i..2^(i+1) ns.</summary>
public sealed class SendSyscallStats
{
    public required string Syscall { get; init; }
    public ulong Calls { get; init; }
    public ulong SumNs { get; init; }
    public ulong Bytes { get; init; }
    public ulong Errors { get; init; }
    public ulong Stalls { get; init; }

    /// <summary>Calls that returned EAGAIN: the socket buffer was full (the server's sockets never block; a slow
    /// reader shows here, not as long calls).</summary>
    public ulong WouldBlock { get; init; }

    public ulong[] Histogram { get; init; } = [];

    /// <summary>Calls as the histogram counts them (read in one pass, so buckets and count agree).</summary>
    public ulong HistogramCount
    {
        get
        {
            ulong total = 0;
            foreach (var v in Histogram)
            {
                total += v;
            }

            return total;
        }
    }
}
