namespace StreamServer.Tracing;

/// <summary>Settings under "StreamServer:Tracing" (StreamServer__Tracing__* env vars, --StreamServer:Tracing:*).</summary>
public sealed class TracingOptions
{
    /// <summary>Attach the eBPF tracers at startup. Without BPF rights, BTF or tracefs the server still runs; /healthz says why.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Folder with retrans.bpf.o, skballoc.bpf.o, sendlat.bpf.o; empty = next to the binary (bpf/) or the source tree's bpf/.output.</summary>
    public string ObjectDirectory { get; set; } = "";

    /// <summary>A send syscall (writev, sendmsg, sendto, sendfile, write on a socket) at least this long is a stall event.</summary>
    public long StallThresholdMicroseconds { get; set; } = 10_000;

    /// <summary>
    /// Also trace write(2) on sockets. Off by default: the server sends with sendmsg / sendfile / sendto, and
    /// the write tracepoints run for every write(2) on the machine (the fd type is checked in the kernel).
    /// </summary>
    public bool SocketWrites { get; set; }

    /// <summary>Sample srtt / cwnd with tcp:tcp_probe (runs on every ACK the server receives).</summary>
    public bool TcpProbe { get; set; } = true;

    /// <summary>Events kept for new /api/trace/events subscribers.</summary>
    public int RecentEvents { get; set; } = 256;

    /// <summary>Count only sockets in the server's own network namespace.</summary>
    public bool OwnNetworkNamespaceOnly { get; set; } = true;
}
