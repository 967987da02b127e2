using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>A tjAlloc'd output buffer (worst-case tjBufSize bytes, used with TJFLAG_NOREALLOC); tjFree on release.</summary>
internal sealed unsafe class TurboJpegBuffer : SafeHandle
{
    public TurboJpegBuffer()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public nuint Capacity { get; private set; }

    public byte* Pointer => (byte*)handle;

    public static TurboJpegBuffer Allocate(nuint bytes)
    {
        if (bytes > int.MaxValue)
        {
            throw new JpegException($"JPEG buffer of {bytes} bytes is too large");
        }

        var p = TurboJpegNative.Alloc((int)bytes);
        if (p == null)
        {
            throw new OutOfMemoryException($"tjAlloc({bytes})");
        }

        var b = new TurboJpegBuffer { Capacity = bytes };
        b.SetHandle((nint)p);
        return b;
    }

    protected override bool ReleaseHandle()
    {
        TurboJpegNative.Free((byte*)handle);
        return true;
    }
}
