using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace StreamServer.Tracing;

/// <summary>A retransmit or a send stall, decoded from its ring-buffer record for the dashboard and the CLI.</summary>
public sealed class TraceEvent
{
    public const string RetransmitType = "retransmit";
    public const string StallType = "stall";

    private static readonly string[] TcpStates =
        ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"];

    public required string Type { get; init; }
    public DateTimeOffset Time { get; init; }

    // Retransmit
    public string? Side { get; init; }
    public string? Kind { get; init; }
    public string? State { get; init; }
    public IPEndPoint? Local { get; init; }
    public IPEndPoint? Remote { get; init; }
    public int Segments { get; init; }
    public int Error { get; init; }

    /// <summary>Of <see cref="Segments"/>: retransmitted while no BPF program could run, found in total_retrans.</summary>
    public int Unseen { get; init; }

    /// <summary>The socket's smoothed RTT (microseconds) and congestion window (segments) at this moment; 0 for SYN-ACKs.</summary>
    public uint SrttMicroseconds { get; init; }
    public uint CongestionWindow { get; init; }

    // Stall
    public string? Syscall { get; init; }
    public int Fd { get; init; }
    public ulong Requested { get; init; }
    public long Result { get; init; }
    public double DurationMs { get; init; }
    public uint ProcessId { get; init; }
    public uint ThreadId { get; init; }
    public string? Comm { get; init; }

    /// <summary>bpf_ktime_get_ns is CLOCK_MONOTONIC, which is what Stopwatch reads on Linux.</summary>
    internal static DateTimeOffset WallClock(ulong monotonicNs)
    {
        var now = Stopwatch.GetTimestamp();
        var agoTicks = now - (long)(monotonicNs * (double)Stopwatch.Frequency / 1e9);
        return DateTimeOffset.UtcNow - TimeSpan.FromSeconds(agoTicks / (double)Stopwatch.Frequency);
    }

    internal static unsafe TraceEvent From(in RetransmitRecord r)
    {
        IPAddress local, remote;
        fixed (byte* s = r.SourceAddress)
        fixed (byte* d = r.DestinationAddress)
        {
            var len = r.Family == 10 ? 16 : 4;
            local = new IPAddress(new ReadOnlySpan<byte>(s, len));
            remote = new IPAddress(new ReadOnlySpan<byte>(d, len));
        }

        return new TraceEvent
        {
            Type = RetransmitType,
            Time = WallClock(r.TimestampNs),
            Side = r.Side == TracerAbi.SideServer ? "server" : "client",
            Kind = r.Kind switch
            {
                TracerAbi.RetransKindSynack => "synack",
                TracerAbi.RetransKindUnseen => "unseen",
                _ => "skb",
            },
            State = r.Kind == TracerAbi.RetransKindSynack ? "SYN_RECV" : r.State > 0 && r.State < TcpStates.Length ? TcpStates[r.State] : r.State.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Local = new IPEndPoint(local, r.SourcePort),
            Remote = new IPEndPoint(remote, r.DestinationPort),
            Segments = (int)r.Segs,
            Error = r.Error,
            Unseen = (int)r.Unseen,
            SrttMicroseconds = r.SrttMicroseconds,
            CongestionWindow = r.CongestionWindow,
        };
    }

    internal static unsafe TraceEvent From(in SendStallRecord r)
    {
        string comm;
        fixed (byte* c = r.Comm)
        {
            var span = new ReadOnlySpan<byte>(c, 16);
            var end = span.IndexOf((byte)0);
            comm = System.Text.Encoding.UTF8.GetString(end >= 0 ? span[..end] : span);
        }

        return new TraceEvent
        {
            Type = StallType,
            Time = WallClock(r.TimestampNs),
            Syscall = r.Syscall < TracerAbi.SyscallNames.Length ? TracerAbi.SyscallNames[r.Syscall] : "?",
            Fd = r.Fd,
            Requested = r.Requested,
            Result = r.Return,
            DurationMs = r.DurationNs / 1e6,
            ProcessId = r.Tgid,
            ThreadId = r.Tid,
            Comm = comm,
        };
    }

    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("type", Type);
        json.WriteString("time", Time);
        if (Type == RetransmitType)
        {
            json.WriteString("side", Side);
            json.WriteString("kind", Kind);
            json.WriteString("state", State);
            json.WriteString("local", Local?.ToString());
            json.WriteString("remote", Remote?.ToString());
            json.WriteNumber("segments", Segments);
            json.WriteNumber("error", Error);
            json.WriteNumber("unseen", Unseen);
            json.WriteNumber("srttUs", SrttMicroseconds);
            json.WriteNumber("cwnd", CongestionWindow);
        }
        else
        {
            json.WriteString("syscall", Syscall);
            json.WriteNumber("fd", Fd);
            json.WriteNumber("requested", Requested);
            json.WriteNumber("result", Result);
            json.WriteNumber("durationMs", DurationMs);
            json.WriteNumber("pid", ProcessId);
            json.WriteNumber("tid", ThreadId);
            json.WriteString("comm", Comm);
        }

        json.WriteEndObject();
    }
}
