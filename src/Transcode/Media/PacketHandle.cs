using System.Runtime.InteropServices;
using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>An AVPacket (the struct); its payload is reference counted inside FFmpeg.</summary>
public sealed class PacketHandle : SafeHandle
{
    public PacketHandle() : base(0, true)
    {
        SetHandle(SsAv.PacketAlloc());
        if (IsInvalid)
        {
            throw new OutOfMemoryException("av_packet_alloc");
        }
    }

    public override bool IsInvalid => handle == 0;

    internal nint Ptr => handle;

    public int StreamIndex => SsAv.PacketStreamIndex(handle);
    public bool IsKey => SsAv.PacketIsKey(handle) != 0;
    public long Pts => SsAv.PacketPts(handle);
    public long Dts => SsAv.PacketDts(handle);
    public long Duration => SsAv.PacketDuration(handle);
    public int Size => SsAv.PacketSize(handle);

    /// <summary>The payload, valid until the packet is unreferenced or moved.</summary>
    public unsafe ReadOnlySpan<byte> Data => new(SsAv.PacketData(handle), SsAv.PacketSize(handle));

    public void Unref() => SsAv.PacketUnref(handle);

    /// <summary>Takes <paramref name="source"/>'s payload and fields without copying; <paramref name="source"/> is left empty.</summary>
    public void MoveFrom(PacketHandle source) => SsAv.PacketMoveRef(handle, source.handle);

    protected override bool ReleaseHandle()
    {
        SsAv.PacketFree(handle);
        return true;
    }
}
