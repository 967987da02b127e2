using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>Owns one TurboJPEG decompressor tjhandle; tjDestroy on release.</summary>
internal sealed class TurboJpegHandle : SafeHandle
{
    public TurboJpegHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public static TurboJpegHandle CreateDecompressor() => Check(TurboJpegNative.InitDecompress(), "tjInitDecompress");

    protected override bool ReleaseHandle() => TurboJpegNative.Destroy(handle) == 0;

    private static TurboJpegHandle Check(nint raw, string what)
    {
        if (raw == IntPtr.Zero)
        {
            // 2.1 reports init failures only through the global error string; the message is generic anyway.
            throw new JpegException($"{what} failed (out of memory or libturbojpeg unusable)");
        }

        var h = new TurboJpegHandle();
        h.SetHandle(raw);
        return h;
    }
}
