namespace StreamServer.Tracing;

/// <summary>What to trace; becomes the tracers' <c>const volatile</c> filters at load time.</summary>
public sealed record TracerConfig
{
    /// <summary>Folder holding retrans.bpf.o, skballoc.bpf.o and sendlat.bpf.o.</summary>
    public required string ObjectDirectory { get; init; }

    /// <summary>Local TCP ports whose sockets are traced for retransmits and srtt (at most 8). Empty = every port.</summary>
    public IReadOnlyList<int> Ports { get; init; } = [];

    /// <summary>Network namespace inode to restrict socket tracing to (0 = every namespace).</summary>
    public uint NetnsInode { get; init; }

    /// <summary>Process whose send syscalls and skb allocations are traced (0 = every process).</summary>
    public int TargetTgid { get; init; }

    /// <summary>With <see cref="TargetTgid"/>: count skb allocations of this one thread only (0 = the whole process).</summary>
    public int TargetThread { get; init; }

    /// <summary>Send syscalls at least this long produce a stall event (0 = every call).</summary>
    public ulong StallThresholdNs { get; init; } = 10_000_000;

    /// <summary>Trace write(2) on sockets too (runs on every write(2) on the machine).</summary>
    public bool SocketWrites { get; init; }

    public bool TcpProbe { get; init; } = true;

    public bool Retransmits { get; init; } = true;

    public bool SkbAllocations { get; init; } = true;

    public bool SendLatency { get; init; } = true;
}
