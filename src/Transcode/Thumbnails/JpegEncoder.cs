using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Planar YUV -> JPEG through the shim's libjpeg encoder (Native/ssjpeg.c): the decoder's (or scaler's) planes are
/// read in place by its forward DCT, no RGB conversion and no copy, also for sizes that are not whole blocks (edge
/// samples are repeated by index). Quantization tables and the trellis quantizer are ours, entropy coding
/// (optimized Huffman, progressive scans) is libjpeg's. The output goes into one native buffer owned by the
/// encoder, grown only when a bigger picture arrives, so steady-state encoding allocates nothing managed.
/// Not thread-safe: one per thread or per renderer.
/// </summary>
public sealed unsafe class JpegEncoder : IDisposable
{
    private readonly JpegEncoderHandle _handle = JpegEncoderHandle.Create();

    /// <summary>
    /// Compresses <paramref name="planes"/>; the returned span points into this encoder's buffer and is valid
    /// until the next Encode or Dispose.
    /// </summary>
    public ReadOnlySpan<byte> Encode(in YuvPlanes planes, JpegOptions options)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (options.Quality is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Quality, "JPEG quality must be 1-100");
        }

        if (planes.Width < 1 || planes.Height < 1 || planes.Y == null)
        {
            throw new ArgumentException($"empty picture {planes.Width}x{planes.Height}", nameof(planes));
        }

        var gray = planes.Subsampling == ChromaSubsampling.Gray;
        if (!gray && (planes.U == null || planes.V == null))
        {
            throw new ArgumentException("chroma planes missing", nameof(planes));
        }

        var (log2W, log2H) = planes.Subsampling switch
        {
            ChromaSubsampling.Yuv444 => (0, 0),
            ChromaSubsampling.Yuv422 => (1, 0),
            ChromaSubsampling.Yuv420 => (1, 1),
            ChromaSubsampling.Gray => (0, 0),
            _ => throw new ArgumentException($"unsupported subsampling {planes.Subsampling}", nameof(planes)),
        };
        var picture = new SsJpegNative.Picture
        {
            Y = planes.Y,
            U = gray ? null : planes.U,
            V = gray ? null : planes.V,
            YStride = planes.YStride,
            UStride = planes.UStride,
            VStride = planes.VStride,
            Width = planes.Width,
            Height = planes.Height,
            ChromaLog2W = log2W,
            ChromaLog2H = log2H,
        };
        var parameters = new SsJpegNative.Params
        {
            Quality = options.Quality,
            Progressive = options.Progressive ? 1 : 0,
            Tables = (int)options.Tables,
            Trellis = options.Trellis ? 1 : 0,
            Threads = options.Threads,
        };
        byte* output;
        nuint size;
        if (SsJpegNative.Encode(_handle, &picture, &parameters, &output, &size) != 0)
        {
            throw new JpegException($"JPEG encode {planes.Width}x{planes.Height} q{options.Quality}: {SsJpegNative.LastError(_handle)}");
        }

        return new ReadOnlySpan<byte>(output, checked((int)size));
    }

    /// <summary>Encode and copy out (for callers that keep the bytes, e.g. the thumbnail cache).</summary>
    public byte[] EncodeToArray(in YuvPlanes planes, JpegOptions options) => Encode(planes, options).ToArray();

    public void Dispose() => _handle.Dispose();
}
