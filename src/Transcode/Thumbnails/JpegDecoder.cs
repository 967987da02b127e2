using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Reads JPEG headers and decodes to planar YUV with TurboJPEG; used to check what we wrote (and by the
/// poster picker's tests), never on the serving path. Not thread-safe.
/// </summary>
public sealed unsafe class JpegDecoder : IDisposable
{
    private readonly TurboJpegHandle _handle = TurboJpegHandle.CreateDecompressor();

    public JpegInfo ReadHeader(ReadOnlySpan<byte> jpeg)
    {
        fixed (byte* p = jpeg)
        {
            if (TurboJpegNative.DecompressHeader3(_handle, p, new CULong((nuint)jpeg.Length), out var w, out var h, out var sub, out _) != 0)
            {
                throw new JpegException($"tjDecompressHeader3: {TurboJpegNative.LastError(_handle)}");
            }

            return new JpegInfo(w, h, (ChromaSubsampling)sub);
        }
    }

    /// <summary>Decodes into tightly packed planes (Y, then U, V at their subsampled sizes; Gray: Y only).</summary>
    public DecodedYuv Decode(ReadOnlySpan<byte> jpeg)
    {
        var info = ReadHeader(jpeg);
        var (cw, ch) = ChromaSize(info);
        // TurboJPEG 2.1 writes whole MCU rows when the size is not a multiple of the MCU (observed heap
        // corruption with tight planes), so decode into padded planes and crop.
        var ys = Pad(info.Width, 16);
        var yh = Pad(info.Height, 16);
        var cs = Pad(Math.Max(cw, 1), 16);
        var chp = Pad(Math.Max(ch, 1), 16);
        var yPad = new byte[ys * yh];
        var uPad = new byte[cs * chp];
        var vPad = new byte[cs * chp];
        fixed (byte* p = jpeg)
        fixed (byte* py = yPad)
        fixed (byte* pu = uPad)
        fixed (byte* pv = vPad)
        {
            byte** planes = stackalloc byte*[3] { py, pu, pv };
            int* strides = stackalloc int[3] { ys, cs, cs };
            if (TurboJpegNative.DecompressToYuvPlanes(_handle, p, new CULong((nuint)jpeg.Length), planes, info.Width, strides, info.Height, 0) != 0)
            {
                throw new JpegException($"tjDecompressToYUVPlanes: {TurboJpegNative.LastError(_handle)}");
            }
        }

        var y = Crop(yPad, ys, info.Width, info.Height);
        var u = Crop(uPad, cs, cw, ch);
        var v = Crop(vPad, cs, cw, ch);
        return new DecodedYuv(info, y, u, v, cw, ch);
    }

    private static (int W, int H) ChromaSize(JpegInfo info) => info.Subsampling switch
    {
        ChromaSubsampling.Yuv444 => (info.Width, info.Height),
        ChromaSubsampling.Yuv422 => ((info.Width + 1) / 2, info.Height),
        ChromaSubsampling.Yuv420 => ((info.Width + 1) / 2, (info.Height + 1) / 2),
        ChromaSubsampling.Gray => (0, 0),
        _ => throw new JpegException($"unsupported JPEG subsampling {info.Subsampling}"),
    };

    private static int Pad(int v, int to) => (v + to - 1) / to * to;

    private static byte[] Crop(byte[] src, int stride, int w, int h)
    {
        var dst = new byte[w * h];
        for (var r = 0; r < h; r++)
        {
            src.AsSpan(r * stride, w).CopyTo(dst.AsSpan(r * w));
        }

        return dst;
    }

    public void Dispose() => _handle.Dispose();
}
