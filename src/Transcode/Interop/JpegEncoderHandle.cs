using System.Runtime.InteropServices;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Transcode.Interop;

/// <summary>Owns one ss_jpeg_encoder (libjpeg compressor + output buffer); ss_jpeg_encoder_free on release.</summary>
internal sealed class JpegEncoderHandle : SafeHandle
{
    public JpegEncoderHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public static JpegEncoderHandle Create()
    {
        var raw = SsJpegNative.EncoderNew();
        if (raw == IntPtr.Zero)
        {
            throw new JpegException("ss_jpeg_encoder_new failed (out of memory)");
        }

        var h = new JpegEncoderHandle();
        h.SetHandle(raw);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        SsJpegNative.EncoderFree(handle);
        return true;
    }
}
