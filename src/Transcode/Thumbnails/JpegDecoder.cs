namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Reads JPEG headers and decodes to planar YUV through the shim's libjpeg decoder (raw planes, no upsampling or
/// colour conversion); used to check what we wrote (tests, the poster picker's tests), never on the serving path.
/// Stateless: one instance may be shared.
/// </summary>
public sealed unsafe class JpegDecoder : IDisposable
{
    public JpegInfo ReadHeader(ReadOnlySpan<byte> jpeg)
    {
        var info = ReadInfo(jpeg);
        return new JpegInfo(info.Width, info.Height, Subsampling(info));
    }

    /// <summary>Decodes into tightly packed planes (Y, then U, V at their subsampled sizes; Gray: Y only).</summary>
    public DecodedYuv Decode(ReadOnlySpan<byte> jpeg)
    {
        var raw = ReadInfo(jpeg);
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
            if (SsJpegNative.Decode(p, (nuint)jpeg.Length, planes, strides, error, 256) != 0)
            {
                throw new JpegException($"JPEG decode: {new string((sbyte*)error)}");
            }
        }

        return new DecodedYuv(info, y, u, v, cw, ch);
    }

    private static SsJpegNative.Info ReadInfo(ReadOnlySpan<byte> jpeg)
    {
        var error = stackalloc byte[256];
        SsJpegNative.Info info;
        fixed (byte* p = jpeg)
        {
            if (SsJpegNative.ReadInfo(p, (nuint)jpeg.Length, &info, error, 256) != 0)
            {
                throw new JpegException($"JPEG header: {new string((sbyte*)error)}");
            }
        }

        return info;
    }

    private static ChromaSubsampling Subsampling(in SsJpegNative.Info info) => info.Components == 1
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
}
