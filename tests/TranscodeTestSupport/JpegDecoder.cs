using System.Runtime.InteropServices;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.TranscodeTestSupport;

/// <summary>
/// Reads JPEG headers and decodes to planar YUV through the shim's libjpeg decoder (raw planes, no upsampling or
/// colour conversion); used by tests to check what we wrote.
/// Stateless: one instance may be shared.
/// </summary>
public sealed unsafe partial class JpegDecoder : IDisposable
{
    public JpegInfo ReadHeader(ReadOnlySpan<byte> jpeg)
    {
        var info = ReadHeaderInfo(jpeg);
        return new JpegInfo(info.Width, info.Height, Subsampling(info));
    }

    /// <summary>Decodes into tightly packed planes (Y, then U, V at their subsampled sizes; Gray: Y only).</summary>
    public DecodedYuv Decode(ReadOnlySpan<byte> jpeg)
    {
        var raw = ReadHeaderInfo(jpeg);
        var info = new JpegInfo(raw.Width, raw.Height, Subsampling(raw));
        var gray = raw.Components == 1;
        var cw = gray ? 0 : ((raw.Width - 1) >> raw.ChromaLog2W) + 1;
        var ch = gray ? 0 : ((raw.Height - 1) >> raw.ChromaLog2H) + 1;
        var y = new byte[raw.Width * raw.Height];
        var u = new byte[cw * ch];
        var v = new byte[cw * ch];
        var error = stackalloc byte[256];
        fixed (byte* p = jpeg)
        fixed (byte* py = y)
        fixed (byte* pu = u)
        fixed (byte* pv = v)
        {
            byte** planes = stackalloc byte*[3] { py, pu, pv };
            int* strides = stackalloc int[3] { raw.Width, cw, cw };
            if (Decode(p, (nuint)jpeg.Length, planes, strides, error, 256) != 0)
            {
                throw new JpegException($"JPEG decode: {new string((sbyte*)error)}");
            }
        }

        return new DecodedYuv(info, y, u, v, cw, ch);
    }

    private static Info ReadHeaderInfo(ReadOnlySpan<byte> jpeg)
    {
        var error = stackalloc byte[256];
        Info info;
        fixed (byte* p = jpeg)
        {
            if (ReadInfo(p, (nuint)jpeg.Length, &info, error, 256) != 0)
            {
                throw new JpegException($"JPEG header: {new string((sbyte*)error)}");
            }
        }

        return info;
    }

    private static ChromaSubsampling Subsampling(in Info info) => info.Components == 1
        ? ChromaSubsampling.Gray
        : (info.ChromaLog2W, info.ChromaLog2H) switch
        {
            (0, 0) => ChromaSubsampling.Yuv444,
            (1, 0) => ChromaSubsampling.Yuv422,
            (1, 1) => ChromaSubsampling.Yuv420,
            _ => throw new JpegException($"unsupported JPEG subsampling {info.ChromaLog2W}/{info.ChromaLog2H}"),
        };

    /// <summary>Nothing to release (kept disposable so callers' using blocks stay valid).</summary>
    public void Dispose()
    {
    }

    // The shim's decoder (ssjpeg.h): only tests call it, so its imports live here.
    [StructLayout(LayoutKind.Sequential)]
    private struct Info
    {
        public int Width;
        public int Height;
        public int Components;
        public int ChromaLog2W;
        public int ChromaLog2H;
        public int Progressive;
    }

    [LibraryImport("ssav", EntryPoint = "ss_jpeg_read_info")]
    private static partial int ReadInfo(byte* data, nuint size, Info* info, byte* error, nuint errorSize);

    [LibraryImport("ssav", EntryPoint = "ss_jpeg_decode")]
    private static partial int Decode(byte* data, nuint size, byte** planes, int* strides, byte* error, nuint errorSize);
}
