using System.Runtime.InteropServices;

namespace StreamServer.Tracing;

/// <summary>
/// The C# half of the kernel ABI: constants and record layouts from bpf/tracer_common.h, retrans.h,
/// skballoc.h and sendlat.h. Keep in step with the headers (TracerAbiTests check the sizes).
/// </summary>
internal static class TracerAbi
{
    public const uint EventRetransmit = 1;
    public const uint EventSendStall = 2;

    // retrans.h
    public const int RetransMaxPorts = 8;
    public const int SrttSlots = 32;
    public const byte SideServer = 0;
    public const byte SideClient = 1;
    public const byte RetransKindSkb = 1;
    public const byte RetransKindSynack = 2;
    public const byte RetransKindUnseen = 3;
    public const uint RcSegsServer = 0;
    public const uint RcSegsClient = 1;
    public const uint RcEvents = 2;
    public const uint RcNotSent = 3;
    public const uint RcSynack = 4;
    public const uint RcDropped = 5;
    public const uint RcUnseenSegs = 6;
    public const uint RcUnseenEvents = 7;
    public const int SrttStatsSize = (SrttSlots + 2) * 8; // ss_srtt_stats: slots, samples, sum_us

    // skballoc.h
    public const int SkbMaxRanges = 8;
    public const int SkbCaches = 4;
    public const int SkbScopeAll = 0;
    public const int SkbScopeTarget = 1;
    public static readonly string[] SkbCacheNames = ["skbuff_head_cache", "skbuff_fclone_cache", "skbuff_small_head", "other"];

    // sendlat.h
    public const int SendSlots = 40;
    public const int SyscallCount = 5;
    public static readonly string[] SyscallNames = ["writev", "sendmsg", "sendto", "sendfile", "write"];

    /// <summary>Sizes of the headers' structs (sizeof in C).</summary>
    public const int SkbCountsSize = 16;
    public const int SendStatsSize = 56;
}

[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal unsafe struct RetransmitRecord
{
    public uint EventType;
    public uint Segs;
    public ulong TimestampNs;
    public ushort Family;
    public ushort SourcePort;
    public ushort DestinationPort;
    public byte Side;
    public byte Kind;
    public int State;
    public int Error;
    public fixed byte SourceAddress[16];
    public fixed byte DestinationAddress[16];
    public uint Unseen;
    public uint SrttMicroseconds;
    public uint CongestionWindow;
    public uint Pad;
}

[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal unsafe struct SendStallRecord
{
    public uint EventType;
    public uint Syscall;
    public ulong TimestampNs;
    public ulong DurationNs;
    public long Return;
    public ulong Requested;
    public uint Tgid;
    public uint Tid;
    public int Fd;
    public uint Pad;
    public fixed byte Comm[16];
}
